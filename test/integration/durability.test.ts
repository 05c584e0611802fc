// Bad input on the HTTP API gets a clear status and a one-line JSON error and
// changes nothing; and acknowledged writes survive SIGKILL of every node and a
// restart from the same data dirs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WarehouseClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../../src/local-cluster/ports.js';
import { type HttpAnswer, fastCluster, http, inParallel, internalPost, makeKeys, nodeIds, readReplicas, recordCount, withLogs } from '../helpers/integration.js';
import { GOSSIP_PATH, HEARTBEAT_PATH, REPLICA_READ_PATH, REPLICA_WRITE_PATH, SYNC_DIGEST_PATH, SYNC_KEYS_PATH, documentPath } from '../../src/protocol/paths.js';

// Ascending, so the first node leads.
const PORTS = await allocatePorts(3);
const NODES = nodeIds(PORTS);
const LEADER = NODES[0]!;
const LIMIT = 1024;

/** A JSON error body of one line: {"error": "..."} (a redirect or 503 may add "leader"). */
function assertErrorBody(answer: HttpAnswer, status: number, error?: string | RegExp): void {
  const what = `HTTP ${answer.status} ${answer.text}`;
  assert.equal(answer.status, status, what);
  assert.match(String(answer.headers['content-type']), /^application\/json/, what);
  assert.ok(!answer.text.includes('\n'), `one line: ${what}`);
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  assert.equal(typeof body.error, 'string', what);
  assert.ok((body.error as string).length > 0 && !(body.error as string).includes('\n'), what);
  assert.deepEqual(Object.keys(body).filter((name) => name !== 'error' && name !== 'leader'), [], what);
  if (typeof error === 'string') assert.equal(body.error, error, what);
  else if (error) assert.match(body.error as string, error, what);
}

describe('durability and bad input (3 nodes, RF 2)', { timeout: 120_000 }, () => {
  let cluster: LocalCluster;
  let client: WarehouseClient | undefined;

  before(async () => {
    cluster = fastCluster('durability', 2, { extraArgs: ['--max-value-size', '1KiB'] });
    await cluster.start(PORTS);
  });

  after(async () => {
    await client?.close();
    await cluster.stop();
  });

  it('answers bad input with a one-line JSON error, stores nothing and keeps serving', async () => {
    const [kept, fresh] = makeKeys(41, 2);
    const keptValue = '{"kept": true}';
    const put = await http('PUT', `http://${LEADER}${documentPath(kept)}`, keptValue);
    assert.equal(put.status, 201, put.text);
    const countsBefore = await Promise.all(NODES.map(recordCount));
    const replicasBefore = await Promise.all(NODES.map((node) => readReplicas(node, [kept!, fresh!])));

    const url = (key: string) => `http://${LEADER}${documentPath(key)}`;
    const bigJson = JSON.stringify({ blob: 'x'.repeat(LIMIT) });
    const checks: [string, () => Promise<HttpAnswer>, number, string | RegExp | undefined][] = [
      ['GET malformed key', () => http('GET', url('12345')), 400, 'Key is not a proper UUID4'],
      ['PUT malformed key', () => http('PUT', url('12345'), '{}'), 400, 'Key is not a proper UUID4'],
      ['DELETE malformed key', () => http('DELETE', url('12345')), 400, 'Key is not a proper UUID4'],
      ['PUT UUID1 key', () => http('PUT', url('0d5d3807-5fbf-1228-a657-5a091c4e497f'), '{}'), 400, 'Key is not a proper UUID4'],
      ['PUT invalid JSON', () => http('PUT', url(fresh!), '{"name": Chapayev}'), 400, 'Value is not valid JSON'],
      ['PUT invalid JSON over kept', () => http('PUT', url(kept!), '{oops'), 400, 'Value is not valid JSON'],
      ['PUT empty body', () => http('PUT', url(fresh!), ''), 400, 'Value is not valid JSON'],
      ['PUT oversized body', () => http('PUT', url(fresh!), bigJson), 413, `Value is larger than the limit of ${LIMIT} bytes`],
      ['PUT oversized over kept', () => http('PUT', url(kept!), bigJson), 413, `Value is larger than the limit of ${LIMIT} bytes`],
      ['GET bad URL encoding', () => http('GET', url('%E0%A4%A')), 400, undefined],
      ['GET unknown path', () => http('GET', `http://${LEADER}/v2/documents/${fresh}`), 404, undefined],
      ['GET root', () => http('GET', `http://${LEADER}/`), 404, undefined],
      ['POST documents', () => http('POST', url(fresh!), '{}'), 404, undefined],
      ['GET internal', () => http('GET', `http://${LEADER}${REPLICA_READ_PATH}`), 404, undefined],
      ['gossip not JSON', () => internalPost(LEADER, GOSSIP_PATH, 'garbage'), 400, undefined],
      ['gossip wrong shape', () => internalPost(LEADER, GOSSIP_PATH, '{"cluster": "Warehouse 13"}'), 400, undefined],
      ['gossip another cluster', () => internalPost(LEADER, GOSSIP_PATH, JSON.stringify({
        cluster: 'Warehouse 12', from: { id: '127.0.0.1:1', joined: 1 }, leader: null, term: 0, replicationFactor: 2, nodes: [],
      })), 400, undefined],
      ['replica write not JSON', () => internalPost(LEADER, REPLICA_WRITE_PATH, '[[['), 400, undefined],
      ['replica write bad version', () => internalPost(LEADER, REPLICA_WRITE_PATH, JSON.stringify({
        records: [{ key: kept, version: ['x', 1, 'y'], value: '{"evil": true}' }],
      })), 400, undefined],
      ['replica write null body', () => internalPost(LEADER, REPLICA_WRITE_PATH, 'null'), 400, undefined],
      ['replica read keys not a list', () => internalPost(LEADER, REPLICA_READ_PATH, '{"keys": "all"}'), 400, undefined],
      ['sync digest garbage', () => internalPost(LEADER, SYNC_DIGEST_PATH, '{"from": 1}'), 400, undefined],
      ['sync keys garbage', () => internalPost(LEADER, SYNC_KEYS_PATH, '{"buckets": [-1]}'), 400, undefined],
    ];
    // Every case runs; the failures are reported together at the end.
    const failures: string[] = [];
    for (const [name, send, status, error] of checks) {
      try {
        assertErrorBody(await send(), status, error);
      } catch (failure) {
        failures.push(`${name}: ${(failure as Error).message.split('\n')[0]}`);
      }
    }

    // A document just under the limit is fine; the same request with a bit more is not.
    const nearLimit = JSON.stringify({ blob: 'y'.repeat(LIMIT - 20) });
    assert.ok(Buffer.byteLength(nearLimit) <= LIMIT);
    const [edge] = makeKeys(42, 1);
    assert.equal((await http('PUT', url(edge!), nearLimit)).status, 201);
    assert.equal((await http('GET', url(edge!))).text, nearLimit);
    assert.equal((await http('DELETE', url(edge!))).status, 200);

    // Nothing changed, everybody still serves.
    for (const node of NODES) assert.equal((await http('GET', `http://${node}${HEARTBEAT_PATH}`)).status, 200);
    assert.equal(cluster.running().length, 3, 'no node crashed');
    const get = await http('GET', url(kept!));
    assert.equal(get.status, 200);
    assert.equal(get.text, keptValue);
    assert.equal((await http('GET', url(fresh!))).status, 404);
    assert.deepEqual(await Promise.all(NODES.map((node) => readReplicas(node, [kept!, fresh!]))), replicasBefore);
    const countsAfter = await Promise.all(NODES.map(recordCount));
    // The edge document left a tombstone on its owners, nothing else changed.
    assert.equal(countsAfter.reduce((a, b) => a + b) - countsBefore.reduce((a, b) => a + b), 2);
    assert.deepEqual(failures, [], 'bad input answered wrongly');
  });

  it('keeps every acknowledged write through SIGKILL of every node and a restart from the same data dirs', async () => {
    const keys = makeKeys(43, 1500);
    client = await WarehouseClient.connect({ seeds: NODES, heartbeatIntervalMs: 200 });
    const latest = new Map<string, string | null>();
    await inParallel(keys, 64, async (key, i) => {
      const value = JSON.stringify({ i, round: 1 });
      await client!.set(key, value);
      latest.set(key, value);
    });
    // Overwrite a third and delete a seventh, so "latest" differs from "first".
    await inParallel(keys, 64, async (key, i) => {
      if (i % 7 === 0) {
        assert.equal((await client!.delete(key)).found, true);
        latest.set(key, null);
      } else if (i % 3 === 0) {
        const value = JSON.stringify({ i, round: 2 });
        assert.equal((await client!.set(key, value)).result, 'updated');
        latest.set(key, value);
      }
    });
    await client.close();
    client = undefined;

    await Promise.all(NODES.map((node) => cluster.get(node).stop('SIGKILL')));
    try {
      await Promise.all(NODES.map((node) => cluster.restart(node)));
      await cluster.waitForLeader(undefined, 20_000);
    } catch (error) {
      throw withLogs(cluster, error);
    }
    assert.equal(cluster.running().length, 3);

    client = await WarehouseClient.connect({ seeds: NODES, heartbeatIntervalMs: 200 });
    const answers = await inParallel(keys, 64, (key) => client!.get(key));
    const wrong: string[] = [];
    answers.forEach((answer, i) => {
      const expected = latest.get(keys[i]!);
      const got = answer.found ? answer.value : null;
      if (got !== expected) wrong.push(`${keys[i]}: expected ${expected}, got ${got}`);
    });
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} of ${keys.length} keys wrong`);
  });
});
