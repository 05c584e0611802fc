import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatAddress, parseAddress } from '../common/address.js';
import { KEY_ERROR, normalizeKey } from '../common/uuid.js';
import { VALUE_ERROR, isJson } from '../common/values.js';
import { type Heartbeat, WriteResult, checker } from '../protocol/schemas.js';
import { ClusterSnapshot, KeyLocation } from '../protocol/dashboard.js';
import { CLUSTER_PATH, HEARTBEAT_PATH, documentPath, locatePath } from '../protocol/paths.js';
import { type Verdict, judgeAnswer } from './answers.js';
import { claimsLeadership, failoverTimeoutMs, nodesNamedBy, parseHeartbeat, rankLeaderCandidates } from './discovery.js';
import { randomUUID } from 'node:crypto';
import { AccessDeniedError, ConflictError, InvalidRequestError, NodeUnreachableError, UnavailableError, WarehouseError } from './errors.js';
import { type Answer, Transport } from './transport.js';

export interface ClientOptions {
  /** `HOST:PORT` of the nodes to ask first; any node of the cluster will do. */
  seeds: readonly string[];
  /** How often the leader is asked for a heartbeat (default 1 s). */
  heartbeatIntervalMs?: number;
  /** Limit for one HTTP request (default 5 s). */
  requestTimeoutMs?: number;
  /** How long a request keeps retrying through a failover (default 2 × failure timeout + 5 s). */
  failoverTimeoutMs?: number;
  /** HTTPS (every node of the cluster serves it); `ca` (PEM) is then trusted instead of the system's CAs. */
  tls?: boolean | { ca?: string | Buffer };
  /** The bearer token sent with every request, for a cluster started with `--tokens-file`. */
  token?: string;
}

/**
 * `version` is the document's version as text (`TERM.CLOCK.WRITER`), to pass
 * back as `ifVersion`; every Warehouse 13 node sends it.
 */
export type GetResult = { found: true; value: string; version?: string } | { found: false };
export type SetResult = WriteResult & { version?: string };
export type DeleteResult = { found: true; result: 'deleted'; replicas: number } | { found: false };

export interface ConditionOptions {
  /** Write only if the document's current version is this one; otherwise a ConflictError (HTTP 412). */
  ifVersion?: string;
}

export interface ClientEvents {
  /** Every heartbeat of the (possibly new) leader. */
  heartbeat: [Heartbeat];
  /** The leader changed; carries the new leader's heartbeat. */
  reconnected: [Heartbeat];
  /** No known node answered; emitted once until a leader is found again. */
  unavailable: [];
}

const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;
/** Heartbeats are tiny: a node that needs longer is treated as gone, which only costs a discovery round. */
const HEARTBEAT_TIMEOUT_CAP_MS = 2_000;
/** Bounds redirect chains when nodes disagree about the leader; then the client backs off. */
const MAX_REDIRECTS = 5;

const isWriteResult = checker(WriteResult);
const isKeyLocation = checker(KeyLocation);
const isClusterSnapshot = checker(ClusterSnapshot);

interface Round {
  leader: Heartbeat | null;
  heard: Heartbeat[];
  failures: NodeUnreachableError[];
}

/** Talks only to the cluster's leader and follows it through failovers. */
export class WarehouseClient extends EventEmitter<ClientEvents> {
  private readonly transport: Transport;
  /** Insertion-ordered: seeds first, then every node any heartbeat ever named. */
  private readonly known: Set<string>;
  private readonly stopping = new AbortController();
  private readonly intervalMs: number;
  private readonly requestTimeoutMs: number;
  private latest: Heartbeat | undefined;
  private discovery: Promise<Heartbeat> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private unavailableReported = false;

  private constructor(private readonly options: ClientOptions) {
    super();
    if (options.seeds.length === 0) throw new WarehouseError('At least one seed node is needed');
    this.transport = new Transport({ tls: options.tls === true ? {} : options.tls || null, token: options.token });
    this.known = new Set(options.seeds.map((seed) => formatAddress(parseAddress(seed))));
    this.intervalMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** Resolves once the leader confirmed itself; throws UnavailableError if no node answers. */
  static async connect(options: ClientOptions): Promise<WarehouseClient> {
    const client = new WarehouseClient(options);
    try {
      await client.findFirstLeader();
    } catch (error) {
      await client.close();
      throw error;
    }
    client.scheduleHeartbeat();
    return client;
  }

  /** The latest heartbeat of the leader. */
  heartbeat(): Heartbeat {
    if (!this.latest) throw new WarehouseError('Not connected');
    return this.latest;
  }

  knownNodes(): string[] {
    return [...this.known];
  }

  async get(key: string): Promise<GetResult> {
    const { verdict, answer } = await this.request('GET', validDocumentPath(key));
    return verdict.kind === 'ok' ? { found: true, value: answer.text, ...versionOf(answer) } : { found: false };
  }

  /** Stores the document; with `ifVersion`, only over that version of it. */
  async set(key: string, value: string, options: ConditionOptions = {}): Promise<SetResult> {
    return this.put(key, value, ifMatch(options));
  }

  /** Stores the document only if the key is absent; otherwise a ConflictError (HTTP 409). */
  async create(key: string, value: string): Promise<SetResult> {
    return this.put(key, value, { 'if-none-match': '*' });
  }

  /** Deletes the document; with `ifVersion`, only that version of it. */
  async delete(key: string, options: ConditionOptions = {}): Promise<DeleteResult> {
    const { verdict, answer } = await this.request('DELETE', validDocumentPath(key), undefined, ifMatch(options));
    if (verdict.kind !== 'ok') return { found: false };
    return { found: true, result: 'deleted', replicas: writeResult(answer, 'deleted').replicas };
  }

  private async put(key: string, value: string, conditions: Record<string, string>): Promise<SetResult> {
    const path = validDocumentPath(key);
    if (!isJson(value)) throw new InvalidRequestError(VALUE_ERROR);
    const { verdict, answer } = await this.request('PUT', path, value, conditions);
    if (verdict.kind !== 'ok') throw new WarehouseError('Unexpected answer: HTTP 404 to a write');
    return { ...writeResult(answer, 'created', 'updated'), ...versionOf(answer) };
  }

  /** Which nodes own a key and the version each holds. */
  async locate(key: string): Promise<KeyLocation> {
    const normalized = normalizeKey(key);
    if (normalized === null) throw new InvalidRequestError(KEY_ERROR);
    return this.inspect(locatePath(normalized), isKeyLocation);
  }

  /** Every node the cluster knows, with its role and state, as the leader sees it. */
  async cluster(): Promise<ClusterSnapshot> {
    return this.inspect(CLUSTER_PATH, isClusterSnapshot);
  }

  /** A read-only question any node can answer: the leader first, then every other known node. */
  private async inspect<T>(path: string, check: (value: unknown) => value is T): Promise<T> {
    const failures: NodeUnreachableError[] = [];
    for (const node of new Set([...(this.latest ? [this.latest.node] : []), ...this.known])) {
      let answer: Answer;
      try {
        answer = await this.transport.send(node, { method: 'GET', path, timeoutMs: this.requestTimeoutMs });
      } catch (error) {
        if (!(error instanceof NodeUnreachableError)) throw error;
        failures.push(error);
        continue;
      }
      let body: unknown = null;
      try {
        body = JSON.parse(answer.text);
      } catch {
        // reported below with the status
      }
      if (answer.status === 200 && check(body)) return body;
      const message = (body as { error?: unknown } | null)?.error;
      if (answer.status === 400 && typeof message === 'string') throw new InvalidRequestError(message);
      const verdict = judgeAnswer(answer);
      if (verdict.kind === 'denied') throw new AccessDeniedError(verdict.message, verdict.status);
      throw new WarehouseError(`Unexpected answer: HTTP ${answer.status} ${answer.text.slice(0, 200)}`);
    }
    throw new UnavailableError(describeFailures(failures));
  }

  async close(): Promise<void> {
    this.stopping.abort();
    clearTimeout(this.timer);
    await this.transport.close();
  }

  private async findFirstLeader(): Promise<void> {
    const round = await this.discoverOnce();
    if (round.leader) return this.adopt(round.leader);
    if (round.heard.length === 0) throw new UnavailableError(describeFailures(round.failures));
    // Nodes answer but none is leader yet: an election is under way, give it the failover time.
    const timeoutMs = failoverTimeoutMs(round.heard[0], this.options.failoverTimeoutMs);
    await this.awaitLeader(Date.now() + timeoutMs, 'nodes answer, but none is a confirmed leader');
  }

  /**
   * Sends a document request to the leader, following it through failovers.
   * A write carries one idempotency key across all its attempts, so a retry
   * of a write that was applied gets the first answer instead of applying it twice.
   */
  private async request(
    method: 'GET' | 'PUT' | 'DELETE',
    path: string,
    body?: string,
    conditions: Record<string, string> = {},
  ): Promise<{ verdict: Verdict; answer: Answer }> {
    const headers = method === 'GET' ? conditions : { ...conditions, 'idempotency-key': randomUUID() };
    let deadline: number | undefined;
    let problem = '';
    let redirects = 0;
    for (;;) {
      if (this.discovery) await this.awaitLeader((deadline ??= this.failoverDeadline()), 'the leader is being looked for');
      const leader = this.heartbeat().node;
      try {
        const answer = await this.transport.send(leader, { method, path, body, headers, timeoutMs: this.requestTimeoutMs });
        const verdict = judgeAnswer(answer);
        if (verdict.kind === 'ok' || verdict.kind === 'not-found') return { verdict, answer };
        if (verdict.kind === 'conflict') throw new ConflictError(verdict.message, verdict.current);
        if (verdict.kind === 'invalid') throw new InvalidRequestError(verdict.message);
        if (verdict.kind === 'denied') throw new AccessDeniedError(verdict.message, verdict.status);
        if (verdict.kind === 'unexpected') throw new WarehouseError(verdict.message);
        if (verdict.kind === 'redirect') {
          redirects += 1;
          if (redirects <= MAX_REDIRECTS && (await this.tryAdopt(verdict.leader))) continue;
          problem = `${leader} redirects to ${verdict.leader}`;
        } else {
          problem = `${leader}: ${verdict.reason}`;
        }
      } catch (error) {
        if (!(error instanceof NodeUnreachableError)) throw error;
        problem = error.message;
      }
      deadline ??= this.failoverDeadline();
      await this.failover(leader, deadline, problem);
    }
  }

  /** Waits until a leader other than the failed one is adopted, or the same one had a breather. */
  private async failover(failed: string, deadline: number, problem: string): Promise<void> {
    if (Date.now() >= deadline) throw this.unavailable(problem);
    // Another request or the heartbeat loop may have found the new leader already.
    if (this.heartbeat().node !== failed) return;
    const found = await this.awaitLeader(deadline, problem);
    if (found.node === failed) {
      // The leader is alive but could not serve (e.g. owners of the key down): retry after an interval.
      await sleep(Math.max(0, Math.min(this.intervalMs, deadline - Date.now())), undefined, { signal: this.stopping.signal }).catch(
        () => {
          throw new WarehouseError('The client is closed');
        },
      );
    }
  }

  private failoverDeadline(): number {
    return Date.now() + failoverTimeoutMs(this.latest, this.options.failoverTimeoutMs);
  }

  private unavailable(problem: string): UnavailableError {
    const timeoutMs = failoverTimeoutMs(this.latest, this.options.failoverTimeoutMs);
    return new UnavailableError(`no leader within ${timeoutMs / 1000}s: ${problem}`);
  }

  /** Shares one discovery among every waiter; gives up on the deadline, discovery goes on. */
  private async awaitLeader(deadline: number, problem: string): Promise<Heartbeat> {
    const timer = new AbortController();
    const timeoutMs = deadline - Date.now();
    const expired = sleep(Math.max(0, timeoutMs), undefined, { signal: timer.signal }).then(() => {
      throw this.unavailable(problem);
    });
    try {
      return await Promise.race([this.rediscover(), expired]);
    } catch (error) {
      if (this.stopping.signal.aborted) throw new WarehouseError('The client is closed');
      throw error;
    } finally {
      timer.abort();
    }
  }

  private rediscover(): Promise<Heartbeat> {
    this.discovery ??= this.discoverUntilFound().finally(() => {
      this.discovery = null;
    });
    return this.discovery;
  }

  private async discoverUntilFound(): Promise<Heartbeat> {
    for (;;) {
      const { leader } = await this.discoverOnce();
      if (leader) {
        this.adopt(leader);
        return leader;
      }
      // Unref'd: a client nobody waits on must not keep the process alive.
      await sleep(this.intervalMs, undefined, { signal: this.stopping.signal, ref: false });
    }
  }

  /** Asks every known node who leads, and believes a candidate only when it confirms itself. */
  private async discoverOnce(): Promise<Round> {
    const settled = await Promise.allSettled([...this.known].map((node) => this.heartbeatOf(node)));
    const heard: Heartbeat[] = [];
    const failures: NodeUnreachableError[] = [];
    const denials: AccessDeniedError[] = [];
    for (const outcome of settled) {
      if (outcome.status === 'fulfilled') heard.push(outcome.value);
      else if (outcome.reason instanceof NodeUnreachableError) failures.push(outcome.reason);
      else if (outcome.reason instanceof AccessDeniedError) denials.push(outcome.reason);
      else throw outcome.reason;
    }
    // Retrying cannot make a refused token valid: the caller hears it at once.
    if (heard.length === 0 && denials.length > 0) throw denials[0]!;
    for (const heartbeat of heard) for (const node of nodesNamedBy(heartbeat)) this.known.add(node);
    for (const candidate of rankLeaderCandidates(heard)) {
      const own = heard.find((answer) => answer.node === candidate && claimsLeadership(answer));
      const confirmed = own ?? (await this.heartbeatOf(candidate).catch(() => null));
      if (confirmed && claimsLeadership(confirmed)) return { leader: confirmed, heard, failures };
    }
    if (heard.length === 0 && !this.unavailableReported && !this.stopping.signal.aborted) {
      this.unavailableReported = true;
      this.emit('unavailable');
    }
    return { leader: null, heard, failures };
  }

  private async tryAdopt(node: string): Promise<boolean> {
    const heartbeat = await this.heartbeatOf(node).catch(() => null);
    if (!heartbeat || !claimsLeadership(heartbeat)) return false;
    this.adopt(heartbeat);
    return true;
  }

  private adopt(heartbeat: Heartbeat): void {
    const previous = this.latest?.node;
    this.latest = heartbeat;
    this.unavailableReported = false;
    for (const node of nodesNamedBy(heartbeat)) this.known.add(node);
    if (previous !== undefined && previous !== heartbeat.node) this.emit('reconnected', heartbeat);
    this.emit('heartbeat', heartbeat);
  }

  private async heartbeatOf(node: string): Promise<Heartbeat> {
    const timeoutMs = Math.min(this.requestTimeoutMs, HEARTBEAT_TIMEOUT_CAP_MS);
    const answer = await this.transport.send(node, { method: 'GET', path: HEARTBEAT_PATH, timeoutMs });
    const verdict = judgeAnswer(answer);
    if (verdict.kind === 'denied') throw new AccessDeniedError(verdict.message, verdict.status);
    const heartbeat = answer.status === 200 ? parseHeartbeat(answer.text) : null;
    if (!heartbeat) throw new NodeUnreachableError(node, `not a Warehouse 13 heartbeat (HTTP ${answer.status})`);
    return heartbeat;
  }

  private scheduleHeartbeat(): void {
    if (this.stopping.signal.aborted) return;
    this.timer = setTimeout(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    try {
      const heartbeat = await this.heartbeatOf(this.heartbeat().node).catch(() => null);
      if (heartbeat && claimsLeadership(heartbeat)) this.adopt(heartbeat);
      else await this.rediscover();
    } catch (error) {
      if (this.stopping.signal.aborted) return;
      // A refused token (the nodes restarted with other tokens) is the next command's error to report, not a crash.
      if (!(error instanceof AccessDeniedError)) throw error;
    }
    this.scheduleHeartbeat();
  }
}

function versionOf({ version }: Answer): { version?: string } {
  return version === undefined ? {} : { version };
}

function ifMatch({ ifVersion }: ConditionOptions): Record<string, string> {
  return ifVersion === undefined ? {} : { 'if-match': ifVersion };
}

function validDocumentPath(key: string): string {
  const normalized = normalizeKey(key);
  if (normalized === null) throw new InvalidRequestError(KEY_ERROR);
  return documentPath(normalized);
}

function writeResult(answer: Answer, ...expected: WriteResult['result'][]): WriteResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.text);
  } catch {
    parsed = null;
  }
  if (!isWriteResult(parsed) || !expected.includes(parsed.result)) {
    throw new WarehouseError(`Unexpected answer: HTTP ${answer.status} ${answer.text.slice(0, 200)}`);
  }
  return parsed;
}

/** A lone seed's reason needs no node name: the caller already shows the address. */
function describeFailures(failures: readonly NodeUnreachableError[]): string {
  if (failures.length === 1) return failures[0]!.reason;
  return failures.map((failure) => failure.message).join('; ');
}
