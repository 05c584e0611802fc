// Node-to-node requests: one peer stream (a long-lived, signed, framed
// connection) per peer, one overall deadline on every request (connecting,
// waiting in line and the answer together), and answers checked against their
// schema before use.
import type { NodeId } from '../protocol/schemas.js';
import { describeConnectionFailure } from '../security/tls.js';
import { PeerConnection, StreamRefused } from './peer-connection.js';

/** Largest answer taken from a peer: a repair's key list for many buckets of a large store. */
const MAX_ANSWER_BYTES = 256 * 1024 * 1024;

class DeadlineMissed extends Error {}

export class PeerError extends Error {
  constructor(
    message: string,
    /** Set only for answers signed with the cluster secret. */
    readonly status: number | null,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

/** An answer without a valid signature: the peer does not hold this cluster's secret (or is not a peer at all). */
export class UnauthenticatedAnswer extends PeerError {}

export interface PeerClientOptions {
  timeoutMs: number;
  /** The cluster secret: requests are signed with it, and answers not signed with it are refused. */
  secret: string;
  /**
   * Source address of outgoing connections: the node's own host, so that a
   * firewall rule between two loopback addresses cuts exactly one link.
   */
  localAddress?: string;
  /** Peers serve HTTPS (this node does): their certificates are checked against this CA, the system's when absent. */
  tls?: { ca?: Buffer } | null;
  /** Told the duration of every request (metrics); must be cheap, it runs on the replication path. */
  observe?: (peer: NodeId, path: string, seconds: number, ok: boolean) => void;
}

export interface PostOptions {
  /**
   * Sent even to a peer that just failed to answer: the failure detector's
   * gossip must keep probing, or a peer that wakes up would never be heard.
   */
  probe?: boolean;
}

/** What the replication code needs of the network: PeerClient, or the simulator's network. */
export interface PeerTransport {
  post<T>(peer: NodeId, path: string, body: unknown, check: (value: unknown) => value is T, options?: PostOptions): Promise<T>;
}

export class PeerClient implements PeerTransport {
  private readonly connections = new Map<NodeId, PeerConnection>();
  /**
   * Peers whose last request got no answer (timeout, refused) while they
   * answered nothing else either, until when.
   * Requests to them fail at once meanwhile, and the ones already waiting are
   * failed with their stream: a frozen peer would otherwise cost every request
   * sent to it a whole timeout, one after the other, and the client writes
   * behind them several timeouts in a row.
   */
  private readonly silentUntil = new Map<NodeId, number>();
  /** When each peer that has not answered since first failed to (monotonic ms). */
  private readonly failingSince = new Map<NodeId, number>();
  /** When each peer last answered a request or reached us (monotonic ms). */
  private readonly lastAnswer = new Map<NodeId, number>();

  constructor(private readonly options: PeerClientOptions) {}

  /** Whether this node talks HTTPS to its peers. */
  get tls(): boolean {
    return Boolean(this.options.tls);
  }

  async post<T>(peer: NodeId, path: string, body: unknown, check: (value: unknown) => value is T, options: PostOptions = {}): Promise<T> {
    const silent = this.silentUntil.get(peer);
    if (silent !== undefined && !options.probe && performance.now() < silent) {
      throw new PeerError(`${peer}${path}: did not answer within the last ${this.options.timeoutMs} ms`, null);
    }
    const { observe } = this.options;
    if (!observe) return this.send(peer, path, body, check);
    const started = performance.now();
    try {
      const answer = await this.send(peer, path, body, check);
      observe(peer, path, (performance.now() - started) / 1000, true);
      return answer;
    } catch (error) {
      observe(peer, path, (performance.now() - started) / 1000, false);
      throw error;
    }
  }

  private async send<T>(peer: NodeId, path: string, body: unknown, check: (value: unknown) => value is T): Promise<T> {
    const { timeoutMs } = this.options;
    const started = performance.now();
    const connection = this.connection(peer);
    const { answer, cancel } = connection.request(path, body);
    let timer: NodeJS.Timeout | undefined;
    let status: number;
    let answerBody: unknown;
    try {
      // One deadline over the whole request: connecting, upgrading, waiting in line and the answer.
      const deadline = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new DeadlineMissed()), timeoutMs);
      });
      ({ status, body: answerBody } = await Promise.race([answer, deadline]));
    } catch (error) {
      cancel();
      if (error instanceof StreamRefused) {
        this.answered(peer);
        throw new UnauthenticatedAnswer(`${peer}${path}: ${error.message}`, null);
      }
      const missed = error instanceof DeadlineMissed;
      const failure = missed ? `did not answer within ${timeoutMs} ms` : describeConnectionFailure(error);
      // A peer that answered other requests while this one waited is slow at
      // this one (a digest comparison over a large store), not silent: failing
      // the requests queued for it would turn one slow repair request into a
      // burst of client errors.
      if (missed && (this.lastAnswer.get(peer) ?? -Infinity) > started) throw new PeerError(`${peer}${path}: ${failure}`, null);
      this.silentUntil.set(peer, performance.now() + timeoutMs);
      if (!this.failingSince.has(peer)) this.failingSince.set(peer, performance.now());
      // The requests queued behind this one would each wait out their own timeout: fail them now.
      connection.fail(new Error(failure));
      throw new PeerError(`${peer}${path}: ${failure}`, null);
    } finally {
      clearTimeout(timer);
    }
    this.answered(peer);
    if (status >= 300) {
      const message = (answerBody as { error?: unknown } | null)?.error;
      throw new PeerError(typeof message === 'string' ? message : `${peer}${path}: HTTP ${status}`, status, answerBody);
    }
    if (!check(answerBody)) throw new PeerError(`${peer}${path}: malformed answer`, status);
    return answerBody;
  }

  /** A peer that just reached us answers again: no need to wait for our next request to learn it. */
  heard(peer: NodeId): void {
    this.answered(peer);
  }

  private answered(peer: NodeId): void {
    this.silentUntil.delete(peer);
    this.failingSince.delete(peer);
    this.lastAnswer.set(peer, performance.now());
  }

  /** How long every request to `peer` has failed (ms); 0 when its last one was answered. */
  silentFor(peer: NodeId): number {
    const since = this.failingSince.get(peer);
    return since === undefined ? 0 : performance.now() - since;
  }

  /** Ends the stream to a peer that left, so its socket does not linger. */
  forget(peer: NodeId): void {
    const connection = this.connections.get(peer);
    this.connections.delete(peer);
    this.answered(peer);
    this.lastAnswer.delete(peer);
    connection?.fail(new Error('the peer left the cluster'));
  }

  close(): Promise<void> {
    const connections = [...this.connections.values()];
    this.connections.clear();
    for (const connection of connections) connection.fail(new Error('this node is stopping'));
    return Promise.resolve();
  }

  private connection(peer: NodeId): PeerConnection {
    let connection = this.connections.get(peer);
    if (!connection) {
      const { secret, tls, localAddress } = this.options;
      connection = new PeerConnection(peer, { secret, tls: tls ?? null, localAddress, maxPayloadBytes: MAX_ANSWER_BYTES }, (ended) => {
        if (this.connections.get(peer) === ended) this.connections.delete(peer);
      });
      this.connections.set(peer, connection);
    }
    return connection;
  }
}
