// The answers agree with the data, on three real nodes with RF 3 (every node
// owns every key, so no stand-in hides a missed write): versions and
// conditional writes over HTTP, idempotent retries (also across a leader
// change), an owner back with a copy that missed a DELETE, an owner that may
// hold the only copy being down, and a copy from a skewed clock.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LocalCluster } from '../../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../../src/local-cluster/ports.js';
import { parseVersion } from '../../src/replication/version.js';
import { fastCluster, http, internalPost, json, makeKeys, nodeIds, withLogs, type HttpAnswer } from '../helpers/integration.js';
import { REPLICA_WRITE_PATH, documentPath } from '../../src/protocol/paths.js';

// Ascending: A sorts first, so it leads.
const PORTS = await allocatePorts(3);
const [A, B, X] = nodeIds(PORTS) as [string, string, string];
const keys = makeKeys(8, 10);
const JSON_HEADERS = { 'content-type': 'application/json' };

function versionOf(answer: HttpAnswer): string {
  const version = answer.headers['x-warehouse-version'];
  assert.equal(typeof version, 'string', `no version header: HTTP ${answer.status} ${answer.text}`);
  assert.ok(parseVersion(version as string), `parseable version: ${String(version)}`);
  return version as string;
}

describe('answers agree with the data (3 nodes, RF 3)', { timeout: 120_000 }, () => {
  let cluster: LocalCluster;
  let leader = A;
  const put = (key: string, value: string, headers: Record<string, string> = {}) =>
    http('PUT', `http://${leader}${documentPath(key)}`, value, { ...JSON_HEADERS, ...headers });
  const del = (key: string, headers: Record<string, string> = {}) => http('DELETE', `http://${leader}${documentPath(key)}`, undefined, headers);
  const get = (key: string) => http('GET', `http://${leader}${documentPath(key)}`);

  before(async () => {
    // Long failure timeout: a killed owner stays a member while it restarts. No anti-entropy to hide what a node missed.
    cluster = fastCluster('correct', 3, { failureTimeoutMs: 8000, antiEntropyIntervalMs: 600_000 });
    await cluster.start(PORTS);
    await cluster.waitForLeader(A, 20_000);
  });

  after(async () => {
    await cluster.stop();
  });

  it('shows every version and honours If-Match and If-None-Match: *', async () => {
    const key = keys[0]!;
    const created = await put(key, '{"n":1}', { 'if-none-match': '*' });
    assert.equal(created.status, 201, created.text);
    const v1 = versionOf(created);
    const again = await put(key, '{"n":2}', { 'if-none-match': '*' });
    assert.equal(again.status, 409);
    assert.deepEqual(json(again), { error: `Key exists (current: ${v1})` });
    assert.equal(versionOf(again), v1);
    const read = await get(key);
    assert.equal(versionOf(read), v1);
    const updated = await put(key, '{"n":3}', { 'if-match': v1 });
    assert.equal(updated.status, 200, updated.text);
    const v2 = versionOf(updated);
    const stale = await put(key, '{"n":4}', { 'if-match': v1 });
    assert.equal(stale.status, 412);
    assert.deepEqual(json(stale), { error: `Version mismatch (current: ${v2})` });
    assert.equal((await del(key, { 'if-match': v1 })).status, 412);
    assert.equal((await del(key, { 'if-match': `"${v2}"` })).status, 200, 'an ETag-style quoted version works too');
    const gone = await put(key, '{"n":5}', { 'if-match': v2 });
    assert.equal(gone.status, 412);
    assert.deepEqual(json(gone), { error: 'Version mismatch (current: absent)' });
    assert.equal(gone.headers['x-warehouse-version'], undefined);
    assert.equal((await get(key)).status, 404);
    for (const [headers, error] of [
      [{ 'if-match': 'seven' }, 'If-Match must be one version as in x-warehouse-version (TERM.CLOCK.WRITER)'],
      [{ 'if-none-match': 'abc' }, 'If-None-Match accepts only *'],
      [{ 'if-match': v2, 'if-none-match': '*' }, 'If-Match and If-None-Match cannot be combined'],
      [{ 'idempotency-key': 'not-a-uuid' }, 'Idempotency-Key must be one UUID'],
    ] as const) {
      const answer = await put(key, '1', headers);
      assert.equal(answer.status, 400);
      assert.deepEqual(json(answer), { error });
    }
    assert.equal((await get(key)).status, 404, 'refused writes stored nothing');
  });

  it('applies a retried write once and gives the retry the first answer', async () => {
    const key = keys[1]!;
    const id = randomUUID();
    const first = await put(key, '{"try":1}', { 'idempotency-key': id });
    assert.equal(first.status, 201);
    const retry = await put(key, '{"try":1}', { 'idempotency-key': id });
    assert.equal(retry.status, 201, 'the retry is answered "created" again, not "updated"');
    assert.deepEqual(json(retry), json(first));
    assert.equal(versionOf(retry), versionOf(first), 'and not written again');
    assert.equal(versionOf(await get(key)), versionOf(first));
    // The same key with a new id is a new operation.
    assert.equal((await put(key, '{"try":2}', { 'idempotency-key': randomUUID() })).status, 200);
    const late = await put(key, '{"try":1}', { 'idempotency-key': id });
    assert.equal(late.status, 201, 'a late retry still gets its first answer');
    assert.equal((await get(key)).text, '{"try":2}', 'and does not overwrite the newer write');
  });

  it('an owner back with a copy that missed a DELETE does not change the answers', async () => {
    const key = keys[2]!;
    assert.equal((await put(key, '{"alive":true}')).status, 201);
    await cluster.get(X).stop('SIGKILL');
    const deleted = await del(key);
    assert.equal(deleted.status, 200, deleted.text);
    assert.deepEqual(json(deleted), { result: 'deleted', replicas: 2 });
    await cluster.restart(X);
    // Back in every node's list (members confirm it on its own address first), and X has reached
    // the others (it lists them): an owner again that the leader no longer counts as silent.
    await cluster.waitForLeader();
    await cluster.waitFor(async () => (await cluster.heartbeat(X))?.nodes.length === 3, { message: 'X to hear from every node' });
    // X still holds the live copy: the leader used to answer Deleted and Updated from it.
    const again = await del(key);
    assert.equal(again.status, 404, `DELETE of a deleted key: ${again.status} ${again.text}`);
    const created = await put(key, '{"alive":"again"}');
    assert.equal(created.status, 201, `SET of a deleted key: ${created.status} ${created.text}`);
    assert.deepEqual(json(created), { result: 'created', replicas: 3 });
  });

  it('does not answer Not found while an owner that may hold the only copy is down', async () => {
    const key = keys[3]!;
    // A write that reached only B (its leader died mid-write, say): B holds the only copy.
    const term = (await cluster.heartbeat(A))!.term;
    const only = { key, version: [term, Date.now() * 1024, B], value: '{"only":"B"}' };
    const placed = await internalPost(B, REPLICA_WRITE_PATH, JSON.stringify({ records: [only] }));
    assert.equal(placed.status, 200, placed.text);
    await cluster.get(B).stop('SIGKILL');
    const read = await get(key);
    assert.equal(read.status, 503, `GET with the only copy's owner down: ${read.status} ${read.text}`);
    await cluster.restart(B);
    // The leader treats B as silent until its gossip reaches B again (at most one request timeout).
    let back = await get(key);
    await cluster.waitFor(async () => (back = await get(key)).status !== 503, { message: 'the leader to reach B again' });
    assert.equal(back.text, '{"only":"B"}');
  });

  it('a copy with a clock ahead makes the leader write above it instead of acknowledging a write nobody applied', async () => {
    const key = keys[4]!;
    const term = (await cluster.heartbeat(A))!.term;
    const skewed = { key, version: [term, (Date.now() + 1_800_000) * 1024, B], value: '{"skewed":true}' };
    for (const node of [A, B, X]) {
      const placed = await internalPost(node, REPLICA_WRITE_PATH, JSON.stringify({ records: [skewed] }));
      assert.equal(placed.status, 200);
    }
    const written = await put(key, '{"fresh":true}');
    assert.equal(written.status, 200, written.text);
    assert.deepEqual(json(written), { result: 'updated', replicas: 3 });
    const read = await get(key);
    assert.equal(read.text, '{"fresh":true}', 'the acknowledged write is what every read returns');
    assert.ok(parseVersion(versionOf(read))![1] > (skewed.version[1] as number));
  });

  it('a retry after a leader change gets the first answer: the request travels with the record', async () => {
    const key = keys[5]!;
    const id = randomUUID();
    const first = await put(key, '{"once":true}', { 'idempotency-key': id });
    assert.equal(first.status, 201);
    await cluster.get(A).stop('SIGKILL');
    leader = await cluster.waitForLeader(undefined, 30_000).catch((error: Error) => {
      throw withLogs(cluster, error);
    });
    assert.notEqual(leader, A);
    const retry = await put(key, '{"once":true}', { 'idempotency-key': id });
    assert.equal(retry.status, 201, `${retry.status} ${retry.text}`);
    assert.equal(versionOf(retry), versionOf(first));
    assert.equal(versionOf(await get(key)), versionOf(first));
  });
});
