// Terms never go down: nodes restarted (one by one, and all at once after a
// SIGKILL) come back at a term at least as high as any they announced and as
// any record they hold, even when their membership record on disk lags behind
// the records (what a term change without a persisted event used to leave).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LocalCluster } from '../../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../../src/local-cluster/ports.js';
import { ReplicaStore } from '../../src/storage/store.js';
import { parseVersion } from '../../src/replication/version.js';
import { fastCluster, http, makeKeys, nodeIds, withLogs } from '../helpers/integration.js';
import { documentPath } from '../../src/protocol/paths.js';

const PORTS = await allocatePorts(3);
const NODES = nodeIds(PORTS);

describe('terms never go down (3 nodes, RF 2)', { timeout: 120_000 }, () => {
  let cluster: LocalCluster;
  /** The highest term each node ever reported, checked on every poll. */
  const highest = new Map<string, number>();
  const drops: string[] = [];
  let watching = true;
  let watcher: Promise<void> = Promise.resolve();

  before(async () => {
    cluster = fastCluster('terms', 2);
    await cluster.start(PORTS);
    watcher = (async () => {
      while (watching) {
        for (const node of NODES) {
          const beat = await cluster.heartbeat(node, 500).catch(() => null);
          if (!beat) continue;
          const seen = highest.get(node) ?? 0;
          if (beat.term < seen) drops.push(`${node}: term ${seen} -> ${beat.term}`);
          highest.set(node, Math.max(seen, beat.term));
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
  });

  after(async () => {
    watching = false;
    await watcher;
    await cluster.stop();
  });

  it('restarted nodes keep their term, and never lead below the records they hold', async () => {
    const keys = makeKeys(77, 20);
    let leader = await cluster.waitForLeader(NODES[0], 20_000);
    // Two failovers raise the term; the old leaders come back as followers.
    for (let round = 0; round < 2; round++) {
      await cluster.get(leader).stop('SIGKILL');
      const next = await cluster.waitForLeader(undefined, 20_000);
      await cluster.restart(leader);
      leader = next;
    }
    for (const key of keys) assert.ok([200, 201].includes((await http('PUT', `http://${leader}${documentPath(key)}`, '{"v":1}')).status));
    const recordTerm = parseVersion(String((await http('GET', `http://${leader}${documentPath(keys[0])}`)).headers['x-warehouse-version']))![0];
    assert.ok(recordTerm >= 3, `records written at term ${recordTerm}`);

    // Every node killed at once; their membership records are set back to term 0,
    // as if the term changes had never been persisted. The records stay.
    await Promise.all(NODES.map((node) => cluster.get(node).stop('SIGKILL')));
    for (const node of NODES) {
      const store = ReplicaStore.open(cluster.get(node).dataDir);
      const membership = store.getMeta<{ term: number; peers: string[] }>('membership')!;
      await store.putMeta('membership', { ...membership, term: 0 });
      await store.close();
    }
    for (const node of NODES) await cluster.restart(node);
    leader = await cluster.waitForLeader(undefined, 20_000).catch((error: Error) => {
      throw withLogs(cluster, error);
    });
    const term = (await cluster.heartbeat(leader))!.term;
    assert.ok(term > recordTerm, `the leader's term ${term} is above the records' term ${recordTerm}`);
    // So its writes win over the records it holds, instead of being acknowledged and dropped.
    for (const key of keys) {
      const put = await http('PUT', `http://${leader}${documentPath(key)}`, '{"v":2}');
      assert.equal(put.status, 200, put.text);
      assert.equal((await http('GET', `http://${leader}${documentPath(key)}`)).text, '{"v":2}');
    }
    assert.deepEqual(drops, [], 'no node ever reported a lower term than before');
  });
});
