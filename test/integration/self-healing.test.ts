// Issue 3's four proofs on real processes, scaled to finish in seconds:
//   1. 3 nodes RF 2, 10,000 documents: kill one, wait for the repair, kill another,
//      everything is still there with its latest value on the last node;
//   2. writes, overwrites and deletes while an owner is down (back before and
//      after the failure timeout): the owners converge, nothing deleted returns,
//      nothing old wins;
//   3. a 4th node joins a loaded cluster: every key keeps >= RF copies throughout,
//      the new node ends with about its share, nobody keeps what it does not own;
//   4. 5 nodes RF 3, two killed at once: nothing lost, back in sync, 3 copies each.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { WarehouseClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../../src/local-cluster/ports.js';
import { owners } from '../../src/placement/rendezvous.js';
import type { ReplicaRecord } from '../../src/protocol/schemas.js';
import { compareVersions } from '../../src/replication/version.js';
import { fastCluster, http, inParallel, json, makeKeys, nodeIds, readReplicas, replicaMap, withLogs } from '../helpers/integration.js';
import { documentPath } from '../../src/protocol/paths.js';

const IN_FLIGHT = 64;

/** Reports the time of each phase as a test diagnostic. */
function stopwatch(t: { diagnostic(message: string): void }): (phase: string) => void {
  let last = Date.now();
  return (phase) => {
    const now = Date.now();
    t.diagnostic(`${phase}: ${now - last} ms`);
    last = now;
  };
}

// Each scenario's own nodes, ascending: the first leads, and scenario 3's joiner sorts last.
const [HEAL_1, HEAL_2, HEAL_3, HEAL_4] = await Promise.all([3, 3, 4, 5].map((count) => allocatePorts(count)));

/** The latest value of every key the test wrote: the document text, or null once deleted. */
type Expected = Map<string, string | null>;

async function setAll(client: WarehouseClient, entries: readonly [string, string][], expected: Expected): Promise<void> {
  await inParallel(entries, IN_FLIGHT, async ([key, value]) => {
    await client.set(key, value);
    expected.set(key, value);
  });
}

async function deleteAll(client: WarehouseClient, keys: readonly string[], expected: Expected): Promise<void> {
  await inParallel(keys, IN_FLIGHT, async (key) => {
    await client.delete(key);
    expected.set(key, null);
  });
}

/** Reads every key through the client (the leader); returns what differs from `expected`. */
async function wrongReads(client: WarehouseClient, expected: Expected): Promise<string[]> {
  const keys = [...expected.keys()];
  const answers = await inParallel(keys, IN_FLIGHT, (key) => client.get(key));
  const wrong: string[] = [];
  answers.forEach((answer, i) => {
    const want = expected.get(keys[i]!);
    const got = answer.found ? answer.value : null;
    if (got !== want) wrong.push(`${keys[i]}: expected ${want}, read ${got}`);
  });
  return wrong;
}

function summary(problems: readonly string[], total: number): string {
  return `${problems.length} of ${total} keys wrong, e.g.\n${problems.slice(0, 8).join('\n')}`;
}

/**
 * Compares each key's copies across `nodes`: every owner (under `nodes`) holds
 * the same newest version with the expected value (a tombstone, or nothing, for
 * a deleted key), and with `strict`, no other node holds a copy.
 */
async function divergence(nodes: readonly string[], rf: number, expected: Expected, strict = false): Promise<string[]> {
  const keys = [...expected.keys()];
  const copies = await replicaMap(nodes, keys);
  const problems: string[] = [];
  keys.forEach((key, i) => {
    const want = expected.get(key)!;
    const own = owners(key, nodes, rf);
    const held = nodes.map((node) => ({ node, record: copies.get(node)![i] ?? null }));
    let newest: ReplicaRecord | null = null;
    for (const { record } of held) if (record && (!newest || compareVersions(record.version, newest.version) > 0)) newest = record;
    for (const { node, record } of held) {
      if (!own.includes(node)) {
        if (strict && record) problems.push(`${key}: ${node} is no owner but holds a copy`);
        continue;
      }
      if (want === null) {
        // Deleted: a tombstone as new as any copy anywhere, or nothing at all once purged.
        if (record?.value) problems.push(`${key}: deleted, but owner ${node} holds ${record.value}`);
        else if (record && compareVersions(record.version, newest!.version) !== 0) problems.push(`${key}: owner ${node} holds an older tombstone`);
        continue;
      }
      if (record === null) problems.push(`${key}: owner ${node} holds nothing, expected ${want}`);
      else if (record.value !== want) problems.push(`${key}: owner ${node} holds ${record.value}, expected ${want}`);
      else if (compareVersions(record.version, newest!.version) !== 0) problems.push(`${key}: owner ${node} holds an older version`);
    }
  });
  return problems;
}

/** Waits until `check` finds no problems; fails with the last problems found. */
async function eventually(cluster: LocalCluster, what: string, check: () => Promise<string[]>, timeoutMs = 30_000, total = 0): Promise<void> {
  let problems: string[] = [];
  try {
    await cluster.waitFor(async () => (problems = await check()).length === 0, { timeoutMs, intervalMs: 250, message: what });
  } catch (error) {
    throw withLogs(cluster, new Error(`${(error as Error).message}\n${summary(problems, total)}`));
  }
}

describe('1. three nodes RF 2, 10,000 documents, two nodes killed one after the other', { timeout: 150_000 }, () => {
  const [A, B, C] = nodeIds(HEAL_1) as [string, string, string];
  let cluster: LocalCluster;
  let client: WarehouseClient | undefined;

  before(async () => {
    cluster = fastCluster('heal-1', 2);
    await cluster.start(HEAL_1);
  });

  after(async () => {
    await client?.close();
    await cluster.stop();
  });

  it('keeps every document with its latest value on the last node', async (t) => {
    const lap = stopwatch(t);
    client = await WarehouseClient.connect({ seeds: [A], heartbeatIntervalMs: 200 });
    const keys = makeKeys(101, 10_000);
    const expected: Expected = new Map();
    await setAll(client, keys.map((key, i) => [key, JSON.stringify({ i, v: 1 })]), expected);
    await setAll(client, keys.slice(0, 1000).map((key, i) => [key, JSON.stringify({ i, v: 2 })]), expected);
    lap('10,000 written, 1,000 overwritten');

    await cluster.get(B).stop('SIGKILL');
    // Writes go on while the cluster notices and repairs.
    await setAll(client, keys.slice(500, 1500).map((key, i) => [key, JSON.stringify({ i: i + 500, v: 3 })]), expected);
    lap('1,000 overwritten after the kill');
    try {
      await cluster.waitForInSync(40_000);
      lap('in sync');
    } catch (error) {
      throw withLogs(cluster, error);
    }

    await cluster.get(A).stop('SIGKILL');
    await cluster.waitForLeader(C, 20_000);
    lap('second kill noticed');
    const last = await readReplicas(C, keys);
    const missing = keys.filter((key, i) => last[i]?.value !== expected.get(key));
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of ${keys.length} documents not on ${C} with their latest value`);
    const wrong = await wrongReads(client, expected);
    lap('10,000 read');
    assert.deepEqual(wrong, [], summary(wrong, keys.length));
    assert.equal(client.heartbeat().node, C);
  });
});

describe('2. writes while an owner is down, then it comes back from its data dir', { timeout: 150_000 }, () => {
  const NODES = nodeIds(HEAL_2);
  const [A, , X] = NODES as [string, string, string];
  let cluster: LocalCluster;
  let client: WarehouseClient | undefined;
  const expected: Expected = new Map();
  // Keys X owns under the full membership: the ones its absence affects.
  const ofX = makeKeys(201, 2400).filter((key) => owners(key, NODES, 2).includes(X));
  const others = makeKeys(202, 300).filter((key) => !owners(key, NODES, 2).includes(X));

  before(async () => {
    // Writes to a frozen node give up after the request timeout: keep it well below the failure timeout.
    cluster = fastCluster('heal-2', 2, { failureTimeoutMs: 5000, requestTimeoutMs: 500 });
    await cluster.start(HEAL_2);
    client = await WarehouseClient.connect({ seeds: [A], heartbeatIntervalMs: 200 });
    await setAll(client, [...ofX.slice(0, 1200), ...others].map((key, i) => [key, JSON.stringify({ i, v: 1 })]), expected);
  });

  after(async () => {
    await client?.close();
    await cluster.stop();
  });

  /** One document operation: a new value, or null to delete; resolves to the replicas reported. */
  type Write = (key: string, value: string | null) => Promise<number>;

  const viaClient: Write = async (key, value) => {
    if (value !== null) return (await client!.set(key, value)).replicas;
    const answer = await client!.delete(key);
    assert.ok(answer.found, `${key} existed`);
    return answer.replicas;
  };

  /** Straight to the leader over HTTP, all at once: the client library keeps only 8 requests in flight per node. */
  const viaHttp: Write = async (key, value) => {
    const answer = await http(value === null ? 'DELETE' : 'PUT', `http://${A}${documentPath(key)}`, value ?? undefined);
    assert.ok(answer.status === 200 || answer.status === 201, `${key}: HTTP ${answer.status} ${answer.text}`);
    return (json(answer) as { replicas: number }).replicas;
  };

  /**
   * While X is down: overwrites a third of `slice`, deletes another third,
   * creates `fresh`, and overwrites keys X does not own. Returns the replica
   * counts the writes reported.
   */
  async function mutate(write: Write, limit: number, slice: string[], fresh: string[], tag: string): Promise<number[]> {
    const third = Math.floor(slice.length / 3);
    const ops: [string, string | null][] = [
      ...slice.slice(0, third).map((key): [string, string] => [key, JSON.stringify({ tag, overwritten: true })]),
      ...slice.slice(third, 2 * third).map((key): [string, null] => [key, null]),
      ...fresh.map((key): [string, string] => [key, JSON.stringify({ tag, created: true })]),
      ...others.slice(0, 20).map((key): [string, string] => [key, JSON.stringify({ tag, elsewhere: true })]),
    ];
    return inParallel(ops, limit, async ([key, value]) => {
      const replicas = await write(key, value);
      expected.set(key, value);
      return replicas;
    });
  }

  it('back before the failure timeout: hinted writes are handed over and the owners converge', async (t) => {
    const lap = stopwatch(t);
    // X is frozen (SIGSTOP), not killed: it comes back at once, well within the failure timeout,
    // and the leader's writes to it time out and go to a stand-in with a hint.
    let dropped = false;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const beat = await cluster.heartbeat(A);
        if (beat && !beat.nodes.some((node) => node.id === X)) dropped = true;
        await setTimeout(20);
      }
    })();
    let hints = 0;
    let replicas: number[] = [];
    try {
      cluster.get(X).signal('SIGSTOP');
      try {
        // Keys this leader wrote in its term: the reachable copies prove the answers, the writes go on.
        replicas = await mutate(viaHttp, 1000, ofX.slice(0, 90), [], 'hinted');
        // A key nobody reachable holds: the frozen owner may hold the only copy, so the leader cannot
        // tell Created from Updated and answers 503 (the client library would wait and retry).
        const fresh = await http('PUT', `http://${A}${documentPath(ofX[1200]!)}`, '{"fresh":true}');
        assert.equal(fresh.status, 503, fresh.text);
        assert.equal((json(fresh) as { error: string }).error, 'An owner of the key did not answer');
        // The stand-ins report their own hints in their own heartbeats at once.
        hints = Math.max(...(await Promise.all([A, NODES[1]!].map((node) => cluster.heartbeat(node)))).map((beat) => beat?.repair?.hintsPending ?? 0));
      } finally {
        cluster.get(X).signal('SIGCONT');
        lap('X frozen');
      }
      await cluster.waitForLeader(A, 10_000).catch(async (error: Error) => {
        throw withLogs(cluster, new Error(`${error.message}\n${JSON.stringify(await cluster.heartbeats())}`));
      });
    } finally {
      watching = false;
      await watcher;
    }
    assert.equal(dropped, false, 'X was never dropped');
    assert.ok(hints > 0, 'writes for the frozen owner were kept as hints');
    // The stand-in counts: every write reports the true number of replicas.
    assert.deepEqual([...new Set(replicas)], [2]);

    await eventually(cluster, 'hints delivered', async () => {
      const pending = (await cluster.heartbeats()).map((beat) => beat.repair?.hintsPending ?? 0);
      return pending.some((count) => count > 0) ? [`hints pending: ${pending.join(', ')}`] : [];
    }, 20_000);
    await eventually(cluster, 'owners to converge', () => divergence(NODES, 2, expected), 30_000, expected.size);
    lap('converged');
    const wrong = await wrongReads(client!, expected);
    assert.deepEqual(wrong, [], summary(wrong, expected.size));
  });

  it('back after the failure timeout: stale copies on the returning node lose, deleted keys stay deleted', async () => {
    await cluster.get(X).stop('SIGKILL');
    await cluster.waitForLeader(A, 20_000); // the survivors dropped X
    await mutate(viaClient, IN_FLIGHT, ofX.slice(600, 900), ofX.slice(1300, 1400), 'past-timeout');
    await cluster.waitForInSync(30_000);
    await cluster.restart(X);
    await cluster.waitForInSync(30_000);
    await eventually(cluster, 'owners to converge', () => divergence(NODES, 2, expected), 30_000, expected.size);
    const wrong = await wrongReads(client!, expected);
    assert.deepEqual(wrong, [], summary(wrong, expected.size));
    const deleted = [...expected.values()].filter((value) => value === null).length;
    assert.ok(deleted >= 100, `${deleted} deleted keys checked`);
  });
});

describe('3. a fourth node joins a loaded cluster', { timeout: 150_000 }, () => {
  const [OLD_PORTS, NEW_PORT] = [HEAL_3.slice(0, 3), HEAL_3[3]!];
  const OLD = nodeIds(OLD_PORTS);
  const NEW = nodeIds([NEW_PORT])[0]!;
  const ALL = [...OLD, NEW];
  const RF = 2;
  let cluster: LocalCluster;
  let client: WarehouseClient | undefined;

  before(async () => {
    cluster = fastCluster('heal-3', RF);
    await cluster.start(OLD_PORTS);
  });

  after(async () => {
    await client?.close();
    await cluster.stop();
  });

  it('keeps >= RF copies of every key while it rebalances, then everyone holds only what it owns', async (t) => {
    client = await WarehouseClient.connect({ seeds: [OLD[0]!], heartbeatIntervalMs: 200 });
    const keys = makeKeys(301, 5000);
    const expected: Expected = new Map();
    await setAll(client, keys.map((key, i) => [key, JSON.stringify({ i })]), expected);

    // The keys that move are those the new node will own; small chunks of them are
    // sampled round and round, so that many samples fall inside the rebalance.
    // Copies are counted on the old nodes first, then on the new one: a copy moves
    // from an old node to the new one and is dropped only after that, so a correct
    // hand-off is never missed by a sample taken in this order.
    const moving = keys.filter((key) => owners(key, ALL, RF).includes(NEW));
    const CHUNK = 250;
    const violations: string[] = [];
    let samples = 0;
    let midway = 0;
    const sample = async (chunk: string[]) => {
      const old = await Promise.all(OLD.map((node) => readReplicas(node, chunk)));
      const fresh = cluster.nodes.has(NEW) ? await readReplicas(NEW, chunk).catch(() => chunk.map(() => null)) : chunk.map(() => null);
      const counts = chunk.map((key, i) => [...old, fresh].filter((records) => records[i]?.value === expected.get(key)).length);
      const low = counts.filter((count) => count < RF).length;
      if (low > 0) violations.push(`sample ${samples}: ${low} of ${chunk.length} keys with fewer than ${RF} copies`);
      const onNew = fresh.filter((record) => record !== null).length;
      const stillOnFormerOwner = OLD.some((node, n) => old[n]!.some((record, i) => record !== null && !owners(chunk[i]!, ALL, RF).includes(node)));
      if (onNew > 0 && stillOnFormerOwner) midway++;
      samples++;
    };
    for (let start = 0; start < moving.length; start += CHUNK) await sample(moving.slice(start, start + CHUNK));

    let sampling = true;
    const sampler = (async () => {
      for (let start = 0; sampling; start = (start + CHUNK) % moving.length) await sample(moving.slice(start, start + CHUNK));
    })();
    try {
      await cluster.startNode({ port: NEW_PORT });
      await cluster.waitForInSync(40_000);
    } catch (error) {
      throw withLogs(cluster, error);
    } finally {
      sampling = false;
      await sampler;
    }
    t.diagnostic(`${samples} samples of ${CHUNK} moving keys, ${midway} of them caught a hand-off half done`);
    assert.deepEqual(violations, [], `${samples} samples`);

    await eventually(cluster, 'every key exactly on its owners', () => divergence(ALL, RF, expected, true), 30_000, keys.length);
    const held = (await readReplicas(NEW, keys)).filter((record) => record !== null).length;
    const share = (keys.length * RF) / ALL.length;
    assert.ok(Math.abs(held - share) <= share * 0.25, `the new node holds ${held} keys, its share is ${share}`);
    const wrong = await wrongReads(client, expected);
    assert.deepEqual(wrong, [], summary(wrong, keys.length));
  });
});

describe('4. five nodes RF 3, two killed at once', { timeout: 150_000 }, () => {
  const NODES = nodeIds(HEAL_4);
  const RF = 3;
  let cluster: LocalCluster;
  let client: WarehouseClient | undefined;

  before(async () => {
    cluster = fastCluster('heal-4', RF);
    await cluster.start(HEAL_4);
  });

  after(async () => {
    await client?.close();
    await cluster.stop();
  });

  it('loses nothing and restores three copies of every key within a bounded time', async (t) => {
    client = await WarehouseClient.connect({ seeds: [NODES[0]!], heartbeatIntervalMs: 200 });
    const keys = makeKeys(401, 3000);
    const expected: Expected = new Map();
    await setAll(client, keys.map((key, i) => [key, JSON.stringify({ i, v: 1 })]), expected);
    await setAll(client, keys.slice(0, 300).map((key, i) => [key, JSON.stringify({ i, v: 2 })]), expected);
    await deleteAll(client, keys.slice(300, 400), expected);

    // The leader and a follower at once.
    const killed = [NODES[0]!, NODES[3]!];
    await Promise.all(killed.map((node) => cluster.get(node).stop('SIGKILL')));
    const survivors = NODES.filter((node) => !killed.includes(node));
    const started = Date.now();
    try {
      await cluster.waitForLeader(survivors[0], 20_000);
      await cluster.waitForInSync(30_000);
    } catch (error) {
      throw withLogs(cluster, error);
    }
    const repairMs = Date.now() - started;
    t.diagnostic(`leader elected and replication factor restored ${repairMs} ms after the kills`);

    const wrong = await wrongReads(client, expected);
    assert.deepEqual(wrong, [], summary(wrong, keys.length));
    // Every live key on all three survivors, with the same newest version.
    await eventually(cluster, 'three copies of every key', () => divergence(survivors, RF, expected, true), 10_000, keys.length);
    assert.ok(repairMs < 30_000, `replication factor restored in ${repairMs} ms`);
  });
});
