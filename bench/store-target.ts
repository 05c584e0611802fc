// The store as a benchmark target: an undici Pool with keep-alive
// (HTTP/1.1, one connection per request in flight) to the current leader.
import { Pool, request } from 'undici';
import { errorKind, type MemoryReport, type OpResult, type Target } from './target.js';
import type { LocalCluster } from '../src/local-cluster/local-cluster.js';
import { WarehouseClient, type Heartbeat } from '../src/client/index.js';
import { residentBytes, diskUsageBytes } from './procstat.js';
import { METRICS_PATH, STATS_PATH, documentPath } from '../src/protocol/paths.js';

const REQUEST_TIMEOUT_MS = 30_000;
const JSON_HEADERS = { 'content-type': 'application/json' };

/** The leader's heartbeat, found the way every client finds it (waiting through an election). */
async function leaderHeartbeat(entry: string): Promise<Heartbeat> {
  const client = await WarehouseClient.connect({ seeds: [entry] });
  try {
    return client.heartbeat();
  } finally {
    await client.close();
  }
}

function makePool(leader: string, connections: number): Pool {
  return new Pool(`http://${leader}`, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: REQUEST_TIMEOUT_MS,
    bodyTimeout: REQUEST_TIMEOUT_MS,
  });
}

/**
 * A node's longest event-loop delay since the previous scrape (ms): the
 * metrics' gauge comes from a delay histogram that is reset on every scrape.
 */
async function fetchLoopDelay(address: string): Promise<number | null> {
  try {
    const answer = await request(`http://${address}${METRICS_PATH}`, { headersTimeout: 5000, bodyTimeout: 5000 });
    const text = await answer.body.text();
    const match = /^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text);
    return answer.statusCode === 200 && match ? Number(match[1]) * 1000 : null;
  } catch {
    return null;
  }
}

/** `GET ${STATS_PATH}` of one node, when the node has that endpoint. */
async function fetchStats(address: string): Promise<{ heapUsedBytes: number | null; rssBytes: number | null; records: number | null } | null> {
  try {
    const answer = await request(`http://${address}${STATS_PATH}`, { headersTimeout: 5000, bodyTimeout: 5000 });
    if (answer.statusCode !== 200) {
      await answer.body.dump();
      return null;
    }
    const body = (await answer.body.json()) as { heapUsedBytes?: unknown; rssBytes?: unknown; records?: unknown };
    const number = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : null);
    return { heapUsedBytes: number(body.heapUsedBytes), rssBytes: number(body.rssBytes), records: number(body.records) };
  } catch {
    return null;
  }
}

export class WarehouseTarget implements Target {
  readonly name = 'warehouse';
  private leader: string;
  private pool: Pool;

  private constructor(
    private readonly entry: string,
    private readonly connections: number,
    private readonly cluster: LocalCluster | null,
    private readonly mode: string | null,
    leader: string,
  ) {
    this.leader = leader;
    this.pool = makePool(leader, connections);
  }

  /** Connects to the leader that `entry` (any node) names. */
  static async connect(entry: string, connections: number, cluster: LocalCluster | null, mode: string | null = null): Promise<WarehouseTarget> {
    return new WarehouseTarget(entry, connections, cluster, mode, (await leaderHeartbeat(entry)).node);
  }

  describe(): string {
    const nodes = `${this.cluster ? `local cluster of ${this.cluster.nodes.size} nodes` : `cluster of ${this.entry}`}${this.mode ? ` (${this.mode})` : ''}`;
    return `Warehouse 13, ${nodes}, leader ${this.leader}, ${this.connections} keep-alive connections`;
  }

  async prepare(): Promise<void> {
    const leader = await leaderHeartbeat(this.entry).then((heartbeat) => heartbeat.node, () => this.leader);
    if (leader === this.leader) return;
    const old = this.pool;
    this.leader = leader;
    this.pool = makePool(leader, this.connections);
    await old.close();
  }

  private async send(method: 'GET' | 'PUT' | 'DELETE', key: string, body?: string): Promise<OpResult> {
    try {
      const answer = await this.pool.request({
        path: documentPath(key),
        method,
        ...(body === undefined ? {} : { headers: JSON_HEADERS, body }),
      });
      if (answer.statusCode >= 200 && answer.statusCode < 300) {
        // Read the whole answer, as a client would (a GET's is the document).
        await answer.body.text();
        return null;
      }
      const text = await answer.body.text();
      let message = '';
      try {
        const error = (JSON.parse(text) as { error?: unknown }).error;
        message = typeof error === 'string' ? error : '';
      } catch {
        message = text.slice(0, 60);
      }
      return `HTTP ${answer.statusCode}${message ? ` ${message}` : ''}`;
    } catch (error) {
      return errorKind(error);
    }
  }

  set(key: string, value: string): Promise<OpResult> {
    return this.send('PUT', key, value);
  }

  get(key: string): Promise<OpResult> {
    return this.send('GET', key);
  }

  delete(key: string): Promise<OpResult> {
    return this.send('DELETE', key);
  }

  pids(): number[] {
    return this.cluster ? [...this.cluster.nodes.values()].flatMap((node) => node.process?.pid ?? []) : [];
  }

  async loopDelay(): Promise<number | null> {
    const delays = (await Promise.all((await this.members()).map(fetchLoopDelay))).filter((delay) => delay !== null);
    return delays.length > 0 ? Math.max(...delays) : null;
  }

  /** Every node's address: the local cluster's, or those the leader's heartbeat lists. */
  private async members(): Promise<string[]> {
    if (this.cluster) return this.cluster.running().map((member) => member.id);
    const heartbeat = await leaderHeartbeat(this.entry).catch(() => null);
    return heartbeat ? heartbeat.nodes.map((node) => node.id) : [this.entry];
  }

  async memory(): Promise<MemoryReport[]> {
    if (this.cluster) {
      return Promise.all(
        this.cluster.running().map(async (member) => {
          const stats = await fetchStats(member.id);
          const pid = member.process?.pid ?? null;
          return {
            member: member.id,
            pid,
            rssBytes: (pid === null ? null : residentBytes(pid)) ?? stats?.rssBytes ?? null,
            heapUsedBytes: stats?.heapUsedBytes ?? null,
            records: stats?.records ?? null,
            diskBytes: await diskUsageBytes(member.dataDir),
          };
        }),
      );
    }
    // A cluster this tool did not start: only what the nodes tell.
    return Promise.all(
      (await this.members()).map(async (id) => {
        const stats = await fetchStats(id);
        return { member: id, pid: null, rssBytes: stats?.rssBytes ?? null, heapUsedBytes: stats?.heapUsedBytes ?? null, records: stats?.records ?? null, diskBytes: null };
      }),
    );
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
