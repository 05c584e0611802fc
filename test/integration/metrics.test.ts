// `GET ${METRICS_PATH}` on real node processes: the Prometheus names are there with
// their types, counters move with the traffic that should move them, and
// every metric the Grafana dashboard in docs/ queries exists.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalCluster } from '../../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../../src/local-cluster/ports.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { fastCluster, http, makeKeys, nodeIds, withLogs } from '../helpers/integration.js';
import { METRICS_PATH, documentPath } from '../../src/protocol/paths.js';
import { waitFor } from '../../src/local-cluster/wait.js';

// Ascending, so LEADER sorts first and leads.
const PORTS = await allocatePorts(3);
const [LEADER, FOLLOWER] = nodeIds(PORTS) as [string, string];

interface Scrape {
  /** `# TYPE` of every metric family. */
  types: Map<string, string>;
  /** Every sample, by its series (`name{labels}` as printed). */
  samples: Map<string, number>;
}

async function scrape(node: string): Promise<Scrape> {
  const answer = await http('GET', `http://${node}${METRICS_PATH}`);
  assert.equal(answer.status, 200);
  assert.match(String(answer.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of answer.text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const sample = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (sample) samples.set(sample[1]!, Number(sample[2]));
  }
  return { types, samples };
}

const AGGREGATIONS = new Set(['sum', 'max', 'min', 'avg', 'count', 'by', 'without']);

const value = (scrape: Scrape, series: string): number => scrape.samples.get(series) ?? NaN;

const EXPECTED: Record<string, string> = {
  warehouse_requests_total: 'counter',
  warehouse_request_duration_seconds: 'histogram',
  warehouse_peer_request_duration_seconds: 'histogram',
  warehouse_leader_changes_total: 'counter',
  warehouse_term: 'gauge',
  warehouse_is_leader: 'gauge',
  warehouse_alive_nodes: 'gauge',
  warehouse_replication_factor: 'gauge',
  warehouse_under_replicated_keys: 'gauge',
  warehouse_transfers_in_progress: 'gauge',
  warehouse_hints_pending: 'gauge',
  warehouse_storage_records: 'gauge',
  warehouse_storage_size_bytes: 'gauge',
  warehouse_anti_entropy_rounds_total: 'counter',
  warehouse_repaired_keys_total: 'counter',
  warehouse_reads_from_own_copy_total: 'counter',
  nodejs_eventloop_lag_seconds: 'gauge',
  process_cpu_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
};

describe('metrics (3 nodes, RF 2)', { timeout: 60_000 }, () => {
  let cluster: LocalCluster;

  before(async () => {
    cluster = fastCluster('metrics', 2);
    await cluster.start(PORTS);
    assert.equal(await cluster.waitForLeader(undefined, 10_000), LEADER);
  });

  after(async () => {
    await cluster.stop();
  });

  it('every node exposes the Prometheus names with their types', async () => {
    for (const node of [LEADER, FOLLOWER]) {
      const { types } = await scrape(node);
      for (const [name, type] of Object.entries(EXPECTED)) assert.equal(types.get(name), type, `${name} on ${node}`);
    }
  });

  it('request counters and histograms move by operation and outcome; state gauges match the cluster', async () => {
    try {
      const before = await scrape(LEADER);
      const [key, missing] = makeKeys(7, 2);
      const url = (k: string) => `http://${LEADER}${documentPath(k)}`;
      assert.equal((await http('PUT', url(key!), '{"a": 1}')).status, 201);
      assert.equal((await http('PUT', url(key!), '{"a": 2}')).status, 200);
      assert.equal((await http('GET', url(key!))).status, 200);
      assert.equal((await http('GET', url(missing!))).status, 404);
      assert.equal((await http('PUT', url(key!), 'not json')).status, 400);
      assert.equal((await http('DELETE', url(key!))).status, 200);
      assert.equal((await http('GET', `http://${FOLLOWER}${documentPath(key)}`)).status, 307);
      const after = await scrape(LEADER);
      const moved = (series: string) => value(after, series) - value(before, series);
      assert.equal(moved('warehouse_requests_total{operation="SET",outcome="ok"}'), 2);
      assert.equal(moved('warehouse_requests_total{operation="SET",outcome="bad_request"}'), 1);
      assert.equal(moved('warehouse_requests_total{operation="GET",outcome="ok"}'), 1);
      assert.equal(moved('warehouse_requests_total{operation="GET",outcome="not_found"}'), 1);
      assert.equal(moved('warehouse_requests_total{operation="DELETE",outcome="ok"}'), 1);
      assert.equal(moved('warehouse_request_duration_seconds_count{operation="SET",outcome="ok"}'), 2);
      assert.ok(moved('warehouse_request_duration_seconds_sum{operation="SET",outcome="ok"}') > 0);
      const follower = await scrape(FOLLOWER);
      assert.ok(value(follower, 'warehouse_requests_total{operation="GET",outcome="redirected"}') >= 1);

      // The SETs fanned out to the other owner: its latency is recorded under its id.
      const peerWrites = [...after.samples].filter(
        ([series]) => series.startsWith('warehouse_peer_request_duration_seconds_count{') && series.includes('route="replicas/write"'),
      );
      assert.ok(peerWrites.some(([, count]) => count >= 1), 'replica fan-out latency recorded per peer');
      assert.equal(value(after, 'warehouse_alive_nodes'), 3);
      assert.equal(value(after, 'warehouse_replication_factor'), 2);
      assert.equal(value(after, 'warehouse_is_leader'), 1);
      assert.equal(value(follower, 'warehouse_is_leader'), 0);
      assert.equal(value(after, 'warehouse_term'), value(follower, 'warehouse_term'));
      assert.ok(value(after, 'warehouse_leader_changes_total') >= 1);
      // The key's two owners hold its tombstone.
      const stores = await Promise.all(cluster.running().map((node) => scrape(node.id)));
      assert.ok(stores.reduce((sum, store) => sum + value(store, 'warehouse_storage_records'), 0) >= 2);
      assert.ok(stores.every((store) => value(store, 'warehouse_storage_size_bytes') > 0));
      assert.ok(value(after, 'warehouse_anti_entropy_rounds_total') >= 1);
    } catch (error) {
      throw withLogs(cluster, error);
    }
  });

  it('the leader answers reads of keys it wrote from its own copy once its followers have renewed its read lease', async () => {
    try {
      const keys = makeKeys(11, 6);
      const url = (k: string) => `http://${LEADER}${documentPath(k)}`;
      const before = value(await scrape(LEADER), 'warehouse_reads_from_own_copy_total');
      // Writes acknowledged before the lease is in place (right after the nodes joined) are read from every owner:
      // write and read until the followers' answers have renewed it.
      let round = 0;
      await waitFor(
        async () => {
          round++;
          for (const key of keys) assert.ok([200, 201].includes((await http('PUT', url(key), `{"round": ${round}}`)).status));
          for (const key of keys) assert.equal((await http('GET', url(key))).text, `{"round": ${round}}`);
          return value(await scrape(LEADER), 'warehouse_reads_from_own_copy_total') > before;
        },
        { timeoutMs: 10_000, message: 'a read from the leader\'s own copy' },
      );
      // Followers never hold the lease: they are no leader.
      assert.equal(value(await scrape(FOLLOWER), 'warehouse_reads_from_own_copy_total'), 0);
    } catch (error) {
      throw withLogs(cluster, error);
    }
  });

  it('every metric the Grafana dashboard queries exists', async () => {
    const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, 'docs/grafana-dashboard.json'), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const { types } = await scrape(LEADER);
    const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => ({ panel: panel.title, expr: target.expr })));
    assert.ok(exprs.length >= 10);
    for (const { panel, expr } of exprs) {
      // Metric names: what is left once label matchers, grouping clauses, ranges and PromQL functions are taken out.
      const names = (expr.replace(/\{[^}]*\}|\bby\s*\([^)]*\)|\[[^\]]*\]|\b[a-z_]+\s*\(/g, ' ').match(/[a-zA-Z_:][\w:]*/g) ?? []).filter(
        (word) => !AGGREGATIONS.has(word) && !/^e\d/.test(word),
      );
      assert.ok(names.length > 0, `${panel}: no metric in ${expr}`);
      for (const name of names) {
        const family = name.replace(/_(bucket|sum|count)$/, '');
        assert.ok(types.has(name) || types.get(family) === 'histogram', `${panel}: ${name} is not a metric of the node`);
      }
    }
  });
});
