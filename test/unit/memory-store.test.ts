// The simulator's in-memory store answers replica writes exactly as the LMDB
// store does (both use applyRecord), and a crash loses only what was not
// durable, newest first.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ReplicaStore } from '../../src/storage/store.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { hintsWithin } from '../../src/storage/replicas.js';
import { mulberry32, pick, randomInt, uuid4 } from '../../src/common/random.js';
import type { ReplicaRecord } from '../../src/protocol/schemas.js';

describe('MemoryStore', () => {
  it('answers random batches of replica writes as the LMDB store does', async () => {
    const rng = mulberry32(13);
    const keys = Array.from({ length: 5 }, () => uuid4(rng));
    const lmdb = ReplicaStore.open(mkdtempSync(join(tmpdir(), 'wh13-memstore-')), { now: () => 1000 });
    const memory = new MemoryStore({ now: () => 1000, durable: () => Promise.resolve() });
    try {
      for (let batch = 0; batch < 200; batch++) {
        const records: ReplicaRecord[] = Array.from({ length: randomInt(rng, 1, 4) }, (_, i) => ({
          key: pick(rng, keys),
          version: [randomInt(rng, 1, 3), randomInt(rng, 1, 5), pick(rng, ['a:1', 'b:1'])],
          value: rng() < 0.3 ? null : JSON.stringify(batch * 10 + i),
          ...(rng() < 0.5 ? { request: { id: uuid4(rng), result: 'created' as const } } : {}),
        }));
        const hintFor = rng() < 0.3 ? records.map(() => pick(rng, [null, 'c:1'])) : undefined;
        assert.deepEqual(await memory.apply(records, hintFor), await lmdb.apply(records, hintFor));
        if (rng() < 0.1) {
          const gone = keys.flatMap((key) => (lmdb.get(key) ? [{ key, version: lmdb.get(key)!.version }] : [])).slice(0, 2);
          assert.equal(await memory.removeIfUnchanged(gone), await lmdb.removeIfUnchanged(gone));
        }
      }
      assert.deepEqual([...memory.entries()], [...lmdb.entries()]);
      assert.deepEqual([...memory.pendingHints()], [...lmdb.pendingHints()]);
      assert.equal(memory.highestTerm(), lmdb.highestTerm());
      for (const record of memory.entries()) if (record.request) assert.deepEqual(memory.knownRequest(record.request.id), lmdb.knownRequest(record.request.id));
    } finally {
      await lmdb.close();
    }
  });

  it('loses on a crash the batches that were not durable yet, newest first', async () => {
    const [key1, key2] = [uuid4(mulberry32(1)), uuid4(mulberry32(2))];
    const flushes: (() => void)[] = [];
    const store = new MemoryStore({ now: () => 0, durable: () => new Promise<void>((resolve) => flushes.push(resolve)) });
    const durable = store.apply([{ key: key1, version: [1, 1, 'a:1'], value: '1' }]);
    flushes.shift()!();
    await durable;
    void store.apply([{ key: key1, version: [1, 2, 'a:1'], value: '2' }]);
    void store.apply([{ key: key2, version: [1, 3, 'a:1'], value: '3' }], ['b:1']);
    // Visible before it is durable, as an LMDB commit is before its fsync.
    assert.equal(store.get(key2)?.value, '3');
    store.crash(1);
    assert.equal(store.get(key1)?.value, '2');
    assert.equal(store.get(key2), undefined);
    assert.equal(store.hintCount(), 0);
    void store.apply([{ key: key2, version: [4, 4, 'a:1'], value: '4' }]);
    assert.equal(store.highestTerm(), 4);
    store.crash(0);
    assert.equal(store.highestTerm(), 1, 'the highest term goes back with the batch that raised it');
  });

  it('both stores keep every copy but no hint beyond the bound', async () => {
    const rng = mulberry32(21);
    const lmdb = ReplicaStore.open(mkdtempSync(join(tmpdir(), 'wh13-hintbound-')), { maxHints: 3 });
    const memory = new MemoryStore({ now: () => 1000, durable: () => Promise.resolve(), maxHints: 3 });
    try {
      for (const store of [lmdb, memory]) {
        const records: ReplicaRecord[] = Array.from({ length: 5 }, (_, i) => ({ key: uuid4(rng), version: [1, i + 1, 'a:1'], value: '{}' }));
        await store.apply(records.slice(0, 2), ['c:1', null]);
        await store.apply(records.slice(2), ['c:1', 'c:1', 'c:1']);
        assert.equal([...store.entries()].length, 5, 'every copy is stored');
        assert.equal(store.hintCount(), 3);
        assert.deepEqual(
          [...store.pendingHints()].map((hint) => hint.key).sort(),
          [records[0]!.key, records[2]!.key, records[3]!.key].sort(),
          'the first hints up to the bound are kept',
        );
      }
    } finally {
      await lmdb.close();
    }
  });

  it('counts pending hints only for a batch that carries one', () => {
    let asked = 0;
    const pending = () => ++asked && 0;
    assert.deepEqual(hintsWithin([null, null], pending, 3), [null, null]);
    assert.equal(hintsWithin(undefined, pending, 3), undefined);
    assert.equal(asked, 0, 'a replica write without hints must not read the database statistics');
    assert.deepEqual(hintsWithin([null, 'c:1'], pending, 3), [null, 'c:1']);
    assert.equal(asked, 1);
  });
});

