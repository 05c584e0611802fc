// Leader and followers on real processes: followers redirect document
// requests to the leader, SETs in flight while the leader is SIGKILLed are
// retried by the client library on the new leader, the new leader is the
// alive node that sorts first, and a restarted old leader rejoins as follower.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { WarehouseClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../../src/local-cluster/ports.js';
import { fastCluster, http, inParallel, json, makeKeys, nodeIds, withLogs } from '../helpers/integration.js';
import { documentPath } from '../../src/protocol/paths.js';

const [low, middle, high] = (await allocatePorts(3)) as [number, number, number];
// Started in this order, so that join order and sort order differ: THIRD joins last but sorts before SECOND.
const STARTED = [low, high, middle];
const [FIRST, SECOND, THIRD] = nodeIds(STARTED) as [string, string, string];

describe('failover (3 nodes, RF 2)', { timeout: 120_000 }, () => {
  let cluster: LocalCluster;
  let client: WarehouseClient | undefined;

  before(async () => {
    cluster = fastCluster('failover', 2);
    await cluster.start(STARTED);
    assert.equal(await cluster.waitForLeader(undefined, 10_000), FIRST);
  });

  after(async () => {
    await client?.close();
    await cluster.stop();
  });

  it('a follower redirects document requests to the leader and stores nothing', async () => {
    const [key] = makeKeys(1, 1);
    for (const follower of [SECOND, THIRD]) {
      for (const method of ['PUT', 'GET', 'DELETE'] as const) {
        const answer = await http(method, `http://${follower}${documentPath(key)}`, method === 'PUT' ? '{"a": 1}' : undefined);
        assert.equal(answer.status, 307, `${method} on ${follower}`);
        assert.equal(answer.headers.location, `http://${FIRST}${documentPath(key)}`);
        assert.deepEqual(json(answer), { error: 'Not the leader', leader: FIRST });
      }
    }
    const onLeader = await http('GET', `http://${FIRST}${documentPath(key)}`);
    assert.equal(onLeader.status, 404);
    assert.deepEqual(json(onLeader), { error: 'Not found' });
  });

  it('SETs in flight while the leader is SIGKILLed are retried on the new leader and all succeed', async () => {
    client = await WarehouseClient.connect({ seeds: [SECOND], heartbeatIntervalMs: 200 });
    assert.equal(client.heartbeat().node, FIRST);
    const keys = makeKeys(2, 600);
    const value = (i: number) => JSON.stringify({ i, name: `artifact ${i}` });
    let started = 0;
    let done = 0;
    let inFlightAtKill = -1;
    let killed: Promise<unknown> | undefined;
    const results = await inParallel(keys, 32, async (key, i) => {
      started++;
      const result = await client!.set(key, value(i));
      done++;
      if (done === 150) {
        inFlightAtKill = started - done;
        killed = cluster.get(FIRST).stop('SIGKILL');
      }
      return result;
    }).catch((error: unknown) => {
      throw withLogs(cluster, error);
    });
    await killed;
    assert.ok(inFlightAtKill > 0, 'some SETs were in flight when the leader died');
    for (const result of results) {
      assert.ok(result.result === 'created' || result.result === 'updated', JSON.stringify(result));
      assert.ok(result.replicas >= 1, JSON.stringify(result));
    }
    // THIRD sorts first among the survivors although it joined last.
    assert.equal(client.heartbeat().node, THIRD);
    assert.equal(await cluster.waitForLeader(THIRD, 10_000), THIRD);

    const read = await inParallel(keys, 32, (key) => client!.get(key));
    read.forEach((answer, i) => assert.deepEqual(answer.found && answer.value, value(i), `key ${keys[i]}`));
  });

  it('leadership is sticky: the old leader restarts from its data dir and rejoins as a follower', async () => {
    const before = (await cluster.heartbeat(THIRD))!;
    assert.equal(before.leader, THIRD);

    // Watch every node while the old leader comes back: nobody may name it leader, not even briefly.
    let watching = true;
    const claims: string[] = [];
    const watcher = (async () => {
      while (watching) {
        for (const beat of await cluster.heartbeats()) {
          // A node still starting up may not know the leader yet (null); it must never name another.
          if (beat.leader !== THIRD && beat.leader !== null) claims.push(`${beat.node} named ${beat.leader} (term ${beat.term})`);
        }
        await setTimeout(20);
      }
    })();
    try {
      await cluster.restart(FIRST);
      await cluster.waitForLeader(THIRD, 10_000);
    } finally {
      watching = false;
      await watcher;
    }
    assert.deepEqual(claims, []);

    const after = (await cluster.heartbeat(FIRST))!;
    assert.equal(after.leader, THIRD);
    assert.equal(after.term, before.term, 'no election happened');
    assert.deepEqual(after.nodes.map((node) => node.id).sort(), [FIRST, SECOND, THIRD].sort());

    const [key] = makeKeys(3, 1);
    const redirect = await http('PUT', `http://${FIRST}${documentPath(key)}`, '{"back": true}');
    assert.equal(redirect.status, 307);
    assert.deepEqual(json(redirect), { error: 'Not the leader', leader: THIRD });
  });

  it('when the leader dies again, the alive node that sorts first takes over', async () => {
    const term = (await cluster.heartbeat(THIRD))!.term;
    await cluster.get(THIRD).stop('SIGKILL');
    assert.equal(await cluster.waitForLeader(FIRST, 10_000), FIRST);
    const beat = (await cluster.heartbeat(SECOND))!;
    assert.ok(beat.term > term, `term grew from ${term} to ${beat.term}`);
    // The client follows and the data written through the old leaders is all there.
    const keys = makeKeys(2, 600);
    const read = await inParallel(keys.slice(0, 100), 16, (key) => client!.get(key));
    read.forEach((answer, i) => assert.deepEqual(answer.found && answer.value, JSON.stringify({ i, name: `artifact ${i}` })));
    assert.equal(client!.heartbeat().node, FIRST);
  });

  it('a follower frozen past the failure timeout rejoins as a follower instead of taking over', async () => {
    // FIRST leads, SECOND follows. Freeze the follower until the leader has dropped it, then let it go on.
    cluster.get(SECOND).signal('SIGSTOP');
    try {
      await cluster.waitFor(async () => (await cluster.heartbeat(FIRST))?.nodes.length === 1, { timeoutMs: 10_000, message: 'the leader to drop the frozen follower' });
    } finally {
      cluster.get(SECOND).signal('SIGCONT');
    }
    // Sticky leadership: whatever the thawed node concluded while it was cut off, the healthy leader stays.
    const leader = await cluster.waitForLeader(undefined, 10_000);
    const beats = await cluster.heartbeats();
    assert.equal(leader, FIRST, `[node, leader, term] after the thaw: ${JSON.stringify(beats.map((beat) => [beat.node, beat.leader, beat.term]))}`);
  });
});
