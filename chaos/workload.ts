// The workload: C concurrent clients, each with its own WarehouseClient (so
// each follows the leader on its own), doing a seeded mix of GET/SET/DELETE
// over a small pool of live keys. Every SET writes a value no other SET
// writes ({"writer": c, "n": k}), so a value read identifies its write.
//
// Keys are contended: all clients draw from the same `keys` live keys. A
// key is retired after `opsPerKey` operations and replaced by a fresh UUID,
// which keeps each key's history short enough for the linearizability search
// and gives the read-after-write check many new keys.
import { setTimeout as sleep } from 'node:timers/promises';
import { ConflictError, InvalidRequestError, UnavailableError, WarehouseClient } from '../src/client/index.js';
import { type History, type OpKind, type Outcome } from './history.js';
import { type Rng, randomInt, substream, uuid4 } from '../src/common/random.js';

export interface WorkloadOptions {
  clients: number;
  keys: number;
  /** 0: keys are never retired. */
  opsPerKey: number;
  mix: { get: number; set: number; delete: number };
  /** Pause between two ops of one client: uniform in [0, 2 × thinkMs]. */
  thinkMs: number;
  seed: number;
  seeds: string[];
  clientRequestTimeoutMs: number;
  clientFailoverTimeoutMs: number;
  clientHeartbeatIntervalMs: number;
  /**
   * A client replaces its connection (a fresh WarehouseClient, so a fresh
   * leader discovery) after about this many ops; 0: never. Clients that stay
   * put follow one leader; fresh ones pick the leader with the highest term,
   * which is how both sides of a partition get traffic.
   */
  reconnectEvery: number;
}

export class KeyPool {
  private readonly live: { key: string; left: number }[] = [];
  /** Every key ever used, in order of first use. */
  readonly all: string[] = [];
  private readonly rng: Rng;

  constructor(
    seed: number,
    size: number,
    private readonly opsPerKey: number,
  ) {
    this.rng = substream(seed, 'keys');
    for (let i = 0; i < size; i++) this.live.push(this.fresh());
  }

  /** A live key for the next op; retires it when it has had its share of ops. */
  take(rng: Rng): string {
    const slot = Math.floor(rng() * this.live.length);
    const entry = this.live[slot]!;
    if (this.opsPerKey > 0 && --entry.left <= 0) this.live[slot] = this.fresh();
    return entry.key;
  }

  private fresh(): { key: string; left: number } {
    const key = uuid4(this.rng);
    this.all.push(key);
    // Retire at slightly different times so keys do not all turn over together.
    return { key, left: this.opsPerKey > 0 ? randomInt(this.rng, Math.ceil(this.opsPerKey / 2), Math.ceil((this.opsPerKey * 3) / 2)) : Infinity };
  }
}

export interface ClientStats {
  ok: number;
  fail: number;
  info: number;
}

/** Sorts an error into fail (definitely did not happen) or info (unknown). */
export function classifyError(error: unknown): { outcome: Outcome; error: string } {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  // The request was refused as invalid (a 4xx): nothing was written.
  if (error instanceof InvalidRequestError) return { outcome: 'fail', error: message };
  // A condition failed (409/412): a definite answer, nothing was written.
  if (error instanceof ConflictError) return { outcome: 'fail', error: message };
  // Unavailable after the failover timeout, a timeout, a connection lost mid-request, the client closed:
  // some attempt may have reached a leader and been applied.
  if (error instanceof UnavailableError) return { outcome: 'info', error: message };
  return { outcome: 'info', error: message };
}

export class Workload {
  readonly pool: KeyPool;
  readonly stats: ClientStats = { ok: 0, fail: 0, info: 0 };
  private readonly clients: WarehouseClient[] = [];
  private stopping = false;
  private loops: Promise<void>[] = [];
  private readonly wake = new AbortController();

  constructor(
    private readonly options: WorkloadOptions,
    private readonly history: History,
  ) {
    this.pool = new KeyPool(options.seed, options.keys, options.opsPerKey);
  }

  readonly reconnects = { done: 0, failed: 0 };

  async connect(): Promise<void> {
    for (let c = 0; c < this.options.clients; c++) this.clients.push(await this.newClient());
  }

  private newClient(): Promise<WarehouseClient> {
    return WarehouseClient.connect({
      seeds: this.options.seeds,
      requestTimeoutMs: this.options.clientRequestTimeoutMs,
      failoverTimeoutMs: this.options.clientFailoverTimeoutMs,
      heartbeatIntervalMs: this.options.clientHeartbeatIntervalMs,
    });
  }

  start(): void {
    this.loops = this.clients.map((_, c) => this.loop(c));
  }

  /** Stops issuing ops; in-flight ops get `graceMs` to finish, then their clients are closed (they end as info). */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.wake.abort();
    const all = Promise.all(this.loops);
    const timer = sleep(graceMs, 'timeout' as const);
    if ((await Promise.race([all.then(() => 'done' as const), timer])) === 'timeout') {
      await Promise.all(this.clients.map((client) => client.close()));
    }
    await all;
    await Promise.all(this.clients.map((client) => client.close()));
  }

  private async loop(c: number): Promise<void> {
    const rng = substream(this.options.seed, `client-${c}`);
    const { mix, thinkMs, reconnectEvery } = this.options;
    const total = mix.get + mix.set + mix.delete;
    let counter = 0;
    const untilReconnect = () => (reconnectEvery > 0 ? randomInt(rng, Math.ceil(reconnectEvery / 2), Math.ceil((reconnectEvery * 3) / 2)) : Infinity);
    let left = untilReconnect();
    while (!this.stopping) {
      if (--left < 0) {
        left = untilReconnect();
        try {
          const fresh = await this.newClient();
          const old = this.clients[c]!;
          this.clients[c] = fresh;
          await old.close();
          this.reconnects.done++;
        } catch {
          this.reconnects.failed++;
        }
        if (this.stopping) break;
      }
      const client = this.clients[c]!;
      const r = rng() * total;
      const f: OpKind = r < mix.get ? 'get' : r < mix.get + mix.set ? 'set' : 'delete';
      const key = this.pool.take(rng);
      const value = f === 'set' ? JSON.stringify({ writer: c, n: ++counter }) : null;
      await invoke(this.history, client, c, f, key, value, this.stats);
      const pause = rng() * 2 * thinkMs;
      if (pause > 0 && !this.stopping) await sleep(pause, undefined, { signal: this.wake.signal }).catch(() => undefined);
    }
  }
}

function leaderOf(client: WarehouseClient): string | undefined {
  try {
    return client.heartbeat().node;
  } catch {
    return undefined;
  }
}

/** Runs one op through the client and records its invocation and completion. */
export async function invoke(
  history: History,
  client: WarehouseClient,
  process: number,
  f: OpKind,
  key: string,
  value: string | null,
  stats?: ClientStats,
): Promise<{ outcome: Outcome; value: string | null }> {
  const id = history.newOpId();
  history.record({ type: 'invoke', id, process, f, key, value, time: history.now() });
  try {
    let result: string;
    let read: string | null = value;
    if (f === 'get') {
      const answer = await client.get(key);
      read = answer.found ? answer.value : null;
      result = answer.found ? 'found' : 'not-found';
    } else if (f === 'set') {
      result = (await client.set(key, value!)).result;
    } else {
      const answer = await client.delete(key);
      result = answer.found ? 'deleted' : 'not-found';
    }
    history.record({ type: 'ok', id, process, f, key, value: read, time: history.now(), result, node: leaderOf(client) });
    if (stats) stats.ok++;
    return { outcome: 'ok', value: read };
  } catch (error) {
    const { outcome, error: message } = classifyError(error);
    history.record({ type: outcome, id, process, f, key, value: f === 'get' ? null : value, time: history.now(), error: message, node: leaderOf(client) });
    if (stats) stats[outcome]++;
    return { outcome, value: null };
  }
}
