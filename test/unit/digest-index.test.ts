// The anti-entropy digests are updated write by write instead of re-hashed
// per bucket. What repair relies on: two nodes holding the same (key, version)
// pairs get the same digests however they got there, and the digests kept up
// to date always equal the ones a fresh scan of the store would give, also
// when writes land while a scan is running.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DigestIndex } from '../../src/replication/digest-index.js';
import { bucketOf, mismatchedBuckets } from '../../src/replication/digest.js';
import { owners } from '../../src/placement/rendezvous.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { ReplicaStore } from '../../src/storage/store.js';
import type { ChangeWatcher, ReplicaStorage } from '../../src/storage/replicas.js';
import { mulberry32, pick, randomInt, shuffled, uuid4, type Rng } from '../../src/common/random.js';
import type { ReplicaRecord } from '../../src/protocol/schemas.js';

const NODES = ['10.0.0.1:7000', '10.0.0.2:7000', '10.0.0.3:7000', '10.0.0.4:7000'];
const SELF = NODES[0]!;

function memoryStore(): MemoryStore {
  return new MemoryStore({ now: () => 1000, durable: () => Promise.resolve() });
}

/** What the index holds, comparable with deepEqual. */
function view(index: DigestIndex): unknown {
  return {
    digests: NODES.slice(1).map((peer) => index.digestsFor(peer)),
    foreign: index.foreignCopies().sort((a, b) => (a.key < b.key ? -1 : 1)),
  };
}

/** The digests a node starting now would compute from the store as it is. */
async function fresh(store: ReplicaStorage, members: readonly string[]): Promise<unknown> {
  const index = new DigestIndex(store, SELF, 2);
  await index.refresh(members);
  return view(index);
}

function randomWrite(rng: Rng, keys: readonly string[], clock: { at: number }): ReplicaRecord {
  return { key: pick(rng, keys), version: [randomInt(rng, 1, 3), (clock.at += randomInt(rng, -3, 10)), pick(rng, NODES)], value: rng() < 0.2 ? null : '{}' };
}

describe('anti-entropy digests', () => {
  it('stay equal to a fresh scan through writes, removals and membership changes (random runs)', async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const rng = mulberry32(seed);
      const keys = Array.from({ length: 300 }, () => uuid4(rng));
      const store = memoryStore();
      const index = new DigestIndex(store, SELF, 2);
      const clock = { at: 1000 };
      let members = NODES.slice(0, 3);
      await index.refresh(members);
      for (let step = 1; step <= 50; step++) {
        const roll = rng();
        if (roll < 0.6) {
          await store.apply(Array.from({ length: randomInt(rng, 1, 20) }, () => randomWrite(rng, keys, clock)));
        } else if (roll < 0.75) {
          const held = [...store.entries()].filter(() => rng() < 0.1);
          await store.removeIfUnchanged(held.map(({ key, version }) => ({ key, version })));
        } else if (roll < 0.85) {
          members = shuffled(rng, NODES).slice(0, randomInt(rng, 2, 4));
          if (!members.includes(SELF)) members.push(SELF);
        }
        await index.refresh(members);
        // A fresh index scans 4,096 buckets: compared every few steps.
        if (step % 5 === 0) assert.deepEqual(view(index), await fresh(store, members), `seed ${seed}, step ${step}`);
      }
    }
  });

  it('are the same on two nodes that hold the same pairs, whatever order and history brought them', async () => {
    const rng = mulberry32(5);
    const keys = Array.from({ length: 500 }, () => uuid4(rng));
    const clock = { at: 1000 };
    const writes = Array.from({ length: 3000 }, () => randomWrite(rng, keys, clock));
    const members = NODES.slice(0, 3);
    const [a, b] = [memoryStore(), memoryStore()];
    const [onA, onB] = [new DigestIndex(a, SELF, 2), new DigestIndex(b, SELF, 2)];
    await onA.refresh(members);
    await onB.refresh(members);
    for (const write of writes) await a.apply([write]);
    // B sees the same writes in another order, each newest version only once the older ones were refused or replaced.
    for (const write of shuffled(rng, writes)) await b.apply([write]);
    assert.deepEqual([...a.entries()], [...b.entries()]);
    await onA.refresh(members);
    await onB.refresh(members);
    assert.deepEqual(view(onA), view(onB));
    assert.ok(onA.digestsFor(NODES[1]!).length > 100);
    // One newer version of a key both should hold shows in its bucket and nowhere else.
    const shared = [...a.entries()].find((record) => owners(record.key, members, 2).includes(SELF))!;
    const peer = owners(shared.key, members, 2).find((node) => node !== SELF)!;
    await b.apply([{ ...shared, version: [shared.version[0], shared.version[1] + 1, shared.version[2]] }]);
    assert.deepEqual(mismatchedBuckets(onA.digestsFor(peer), onB.digestsFor(peer)), [bucketOf(shared.key)]);
  });

  it('count every write that lands while a scan of the LMDB store is running', async () => {
    const rng = mulberry32(11);
    const keys = Array.from({ length: 4000 }, () => uuid4(rng));
    const store = ReplicaStore.open(mkdtempSync(join(tmpdir(), 'wh13-digests-')));
    try {
      const clock = { at: 1000 };
      await store.apply(keys.map((key) => ({ key, version: [1, clock.at++, SELF], value: '{}' })));
      const index = new DigestIndex(store, SELF, 2);
      // Each membership change scans every bucket again while batches are written, each queued between two slices.
      for (const members of [NODES.slice(0, 3), NODES.slice(0, 2), NODES.slice(0, 3), NODES.slice(0, 2)]) {
        const scan = index.refresh(members);
        const writes: Promise<unknown>[] = [];
        for (let batch = 0; batch < 200; batch++) {
          writes.push(store.apply(Array.from({ length: 10 }, () => randomWrite(rng, keys, clock))));
          await new Promise((resolve) => setImmediate(resolve));
        }
        await Promise.all([scan, ...writes]);
        await index.refresh(members);
        assert.deepEqual(view(index), await fresh(store, members));
      }
    } finally {
      await store.close();
    }
  });

  it('are rebuilt from the store when told that reported writes were lost', async () => {
    const rng = mulberry32(19);
    const store = memoryStore();
    let watcher: ChangeWatcher | undefined;
    let muted = false;
    // The store as the index sees it: reports can be held back, as if their write had not committed.
    const seen: ReplicaStorage = Object.assign(Object.create(store) as MemoryStore, {
      watch(target: ChangeWatcher) {
        watcher = target;
        store.watch({ changed: (...change) => muted || target.changed(...change), lost: () => target.lost() });
      },
    });
    const members = NODES.slice(0, 3);
    const index = new DigestIndex(seen, SELF, 2);
    await store.apply(Array.from({ length: 300 }, (_, i) => ({ key: uuid4(rng), version: [1, i + 1, SELF], value: '{}' })));
    await index.refresh(members);
    muted = true;
    await store.apply(Array.from({ length: 50 }, (_, i) => ({ key: uuid4(rng), version: [1, 1000 + i, SELF], value: '{}' })));
    muted = false;
    await index.refresh(members);
    assert.notDeepEqual(view(index), await fresh(store, members));
    watcher!.lost();
    await index.refresh(members);
    assert.deepEqual(view(index), await fresh(store, members));
  });

  it('the LMDB store reports a write that failed inside its transaction as lost', async () => {
    const rng = mulberry32(17);
    const store = ReplicaStore.open(mkdtempSync(join(tmpdir(), 'wh13-digests-lost-')));
    try {
      const members = NODES.slice(0, 3);
      const index = new DigestIndex(store, SELF, 2);
      await store.apply(Array.from({ length: 500 }, (_, i) => ({ key: uuid4(rng), version: [1, i + 1, SELF], value: '{}' })));
      await index.refresh(members);
      let lost = 0;
      store.watch({ changed: () => undefined, lost: () => lost++ });
      // LMDB refuses a key this long inside the transaction, after the first record was reported.
      const batch: ReplicaRecord[] = [
        { key: uuid4(rng), version: [1, 1000, SELF], value: '{}' },
        { key: 'f'.repeat(4000), version: [1, 1001, SELF], value: '{}' },
      ];
      await assert.rejects(store.apply(batch));
      assert.equal(lost, 1);
      // lmdb-js keeps what the callback wrote before it threw (and reported): the rebuilt digests agree.
      await index.refresh(members);
      assert.deepEqual(view(index), await fresh(store, members));
    } finally {
      await store.close();
    }
  });
});
