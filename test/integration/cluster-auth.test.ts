// Node-to-node traffic needs the cluster secret: unsigned or wrongly signed
// internal requests are refused with a one-line JSON error, a node with
// another secret or none cannot join, and a founder without a configured
// secret creates one its joiners can use.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalCluster } from '../../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../../src/local-cluster/ports.js';
import { NODE_BIN } from '../helpers/cli.js';
import { FAST, type HttpAnswer, fastCluster, http, internalPost, json, literal, nodeIds, runToExit } from '../helpers/integration.js';
import { GOSSIP_PATH, INTERNAL_HEARTBEAT_PATH, INTERNAL_TRAFFIC_PATH, REPLICA_READ_PATH, REPLICA_WRITE_PATH, SYNC_DIGEST_PATH, SYNC_KEYS_PATH } from '../../src/protocol/paths.js';

// Ascending, as the test's nodes sort: the cluster, a refused joiner, a made-up sender, a founder and its joiner.
const [P1, P2, REFUSED_PORT, FAKE_PORT, FOUNDER_PORT, JOINER_PORT] = (await allocatePorts(6)) as [number, number, number, number, number, number];
const [ONE, TWO, FAKE, FOUNDER] = nodeIds([P1, P2, FAKE_PORT, FOUNDER_PORT]) as [string, string, string, string];
const ROUTES: [string, string][] = [
  [GOSSIP_PATH, JSON.stringify({ cluster: 'Warehouse 13', from: { id: FAKE, joined: 1 }, leader: null, term: 0, replicationFactor: 2, nodes: [] })],
  [REPLICA_WRITE_PATH, JSON.stringify({ records: [] })],
  [REPLICA_READ_PATH, JSON.stringify({ keys: [] })],
  [SYNC_DIGEST_PATH, JSON.stringify({ from: ONE, members: [ONE, TWO], buckets: [] })],
  [SYNC_KEYS_PATH, JSON.stringify({ from: ONE, members: [ONE, TWO], buckets: [0] })],
  [INTERNAL_HEARTBEAT_PATH, '{}'],
  [INTERNAL_TRAFFIC_PATH, '{}'],
];

function assertOneLineJsonError(answer: HttpAnswer, status: number): void {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.text.split('\n').length, 1);
  assert.equal(typeof json(answer).error, 'string');
}

describe('cluster secret', { timeout: 120_000 }, () => {
  let cluster: LocalCluster;

  before(async () => {
    cluster = fastCluster('auth', 2);
    await cluster.start([P1, P2]);
  });

  after(() => cluster.stop());

  it('refuses every internal route without a signature (401) or with another secret (403)', async () => {
    for (const [path, body] of ROUTES) {
      assertOneLineJsonError(await internalPost(ONE, path, body, null), 401);
      assertOneLineJsonError(await internalPost(ONE, path, body, 'not-the-cluster-secret-at-all'), 403);
      // A signature over another body does not carry over.
      const signed = await internalPost(ONE, path, body);
      assert.ok(signed.status < 500, `${path}: ${signed.text}`);
    }
    const noBody = await http('POST', `http://${ONE}${REPLICA_READ_PATH}`, undefined, { 'x-warehouse-time': String(Date.now()), 'x-warehouse-auth': 'x' });
    assertOneLineJsonError(noBody, 403);
    const stale = await http('POST', `http://${ONE}${REPLICA_READ_PATH}`, '{"keys":[]}', {
      'content-type': 'application/json', 'x-warehouse-time': String(Date.now() - 120_000), 'x-warehouse-auth': 'x',
    });
    assertOneLineJsonError(stale, 401);
  });

  it('a joiner with another secret, or none, is refused before it announces itself', async () => {
    const base = ['--host', '127.0.0.1', '--join', ONE, '--heartbeat-interval', `${FAST.heartbeatIntervalMs}ms`, '--failure-timeout', `${FAST.failureTimeoutMs}ms`];
    const wrong = await runToExit(NODE_BIN, [...base, '--port', String(REFUSED_PORT), '--data-dir', join(cluster.options.baseDir, 'wrong')], 30_000);
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.match(wrong.stderr, /^Error: no cluster secret: pass the cluster's secret with --cluster-secret-file PATH or WAREHOUSE_CLUSTER_SECRET/);
    const other = await runToExit(NODE_BIN, [...base, '--port', String(REFUSED_PORT), '--data-dir', join(cluster.options.baseDir, 'other')], 30_000, { WAREHOUSE_CLUSTER_SECRET: 'another-cluster-secret-0123' });
    assert.equal(other.code, 1, other.stderr);
    assert.equal(other.stderr.trim().split('\n').length, 1, other.stderr);
    assert.match(other.stderr, new RegExp(`^Error: ${literal(ONE)} does not accept this node's cluster secret`));
    for (const beat of await cluster.heartbeats()) assert.deepEqual(beat.nodes.map((node) => node.id), [ONE, TWO]);
  });

  it('a founder without a configured secret creates one (mode 600) that its joiners use', async () => {
    const dataDir = join(cluster.options.baseDir, 'founder');
    const founder = spawn(NODE_BIN, ['--host', '127.0.0.1', '--port', String(FOUNDER_PORT), '--data-dir', dataDir, '--heartbeat-interval', `${FAST.heartbeatIntervalMs}ms`, '--failure-timeout', `${FAST.failureTimeoutMs}ms`], { stdio: 'ignore' });
    try {
      await cluster.waitFor(async () => (await cluster.heartbeat(FOUNDER)) !== null, { timeoutMs: 20_000, message: 'the founder to serve' });
      const secretFile = join(dataDir, 'cluster.secret');
      assert.equal(statSync(secretFile).mode & 0o777, 0o600);
      const joiner = await cluster.startNode({ port: JOINER_PORT, join: FOUNDER, extraArgs: ['--cluster-secret-file', secretFile] });
      await cluster.waitFor(async () => (await cluster.heartbeat(joiner.id))?.nodes.length === 2, { timeoutMs: 20_000, message: 'the joiner to see the founder' });
      await joiner.stop();
    } finally {
      founder.kill('SIGKILL');
    }
  });
});
