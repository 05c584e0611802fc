// Node-to-node requests: one keep-alive connection pool per peer, one overall
// deadline on every request (waiting for a connection, connecting, headers and
// body together), and answers checked against their schema before use.
import { Pool } from 'undici';
import type { NodeId } from '../protocol/schemas.js';
import { AUTH_HEADER, signRequest, verifyResponse } from '../security/cluster-auth.js';
import { describeConnectionFailure } from '../security/tls.js';

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
  connectionsPerPeer?: number;
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
  private readonly pools = new Map<NodeId, Pool>();
  /**
   * Peers whose last request got no answer (timeout, refused) while they
   * answered nothing else either, until when.
   * Requests to them fail at once meanwhile, and the ones already queued are
   * failed with their pool: a frozen peer would otherwise hold every
   * connection for a whole timeout per request, and the writes queued behind
   * them would wait several timeouts in a row.
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
    const deadline = AbortSignal.timeout(timeoutMs);
    const text = JSON.stringify(body);
    const auth = signRequest(this.options.secret, 'POST', path, text);
    let answerText: string;
    let status: number;
    let signature: unknown;
    const pool = this.pool(peer);
    try {
      const response = await pool.request({
        method: 'POST',
        path,
        body: text,
        headers: { 'content-type': 'application/json', ...auth },
        // Each phase's timer restarts with the phase (the body's with every
        // chunk), so alone they let a slow peer hold a caller for several
        // timeouts: the deadline bounds the whole request.
        signal: deadline,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = response.statusCode;
      signature = response.headers[AUTH_HEADER];
      answerText = await response.body.text();
    } catch (error) {
      const failure = deadline.aborted ? `did not answer within ${timeoutMs} ms` : describeConnectionFailure(error);
      // A peer that answered other requests while this one waited is slow at
      // this one (a digest comparison over a large store), not silent: failing
      // the requests queued for it would turn one slow repair request into a
      // burst of client errors.
      if (deadline.aborted && (this.lastAnswer.get(peer) ?? -Infinity) > started) throw new PeerError(`${peer}${path}: ${failure}`, null);
      this.silentUntil.set(peer, performance.now() + timeoutMs);
      if (!this.failingSince.has(peer)) this.failingSince.set(peer, performance.now());
      // The requests queued behind this one would each wait out their own timeout: fail them now.
      if (this.pools.get(peer) === pool) {
        this.pools.delete(peer);
        void pool.destroy().catch(() => {});
      }
      throw new PeerError(`${peer}${path}: ${failure}`, null);
    }
    this.answered(peer);
    if (!verifyResponse(this.options.secret, auth[AUTH_HEADER], status, answerText, signature)) {
      throw new UnauthenticatedAnswer(`${peer}${path}: HTTP ${status} not signed with this cluster's secret`, null);
    }
    let answer: unknown;
    try {
      answer = JSON.parse(answerText);
    } catch {
      throw new PeerError(`${peer}${path}: answer is not JSON`, null);
    }
    if (status >= 300) {
      const message = (answer as { error?: unknown })?.error;
      throw new PeerError(typeof message === 'string' ? message : `${peer}${path}: HTTP ${status}`, status, answer);
    }
    if (!check(answer)) throw new PeerError(`${peer}${path}: malformed answer`, status);
    return answer;
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

  /** Drops the pool of a peer that left, so its sockets do not linger. */
  forget(peer: NodeId): void {
    const pool = this.pools.get(peer);
    this.pools.delete(peer);
    this.answered(peer);
    this.lastAnswer.delete(peer);
    void pool?.destroy().catch(() => {});
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(pools.map((pool) => pool.destroy()));
  }

  private pool(peer: NodeId): Pool {
    let pool = this.pools.get(peer);
    if (!pool) {
      const { tls } = this.options;
      pool = new Pool(`${tls ? 'https' : 'http'}://${peer}`, {
        connections: this.options.connectionsPerPeer ?? 8,
        keepAliveTimeout: 30_000,
        connectTimeout: this.options.timeoutMs,
        // A top-level option: undici's connector overrides one set inside `connect`.
        ...(this.options.localAddress ? { localAddress: this.options.localAddress } : {}),
        ...(tls?.ca ? { connect: { ca: tls.ca } } : {}),
      });
      this.pools.set(peer, pool);
    }
    return pool;
  }
}
