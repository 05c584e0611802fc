// The replica store on a real LMDB file: apply reports per record whether it
// stored it and what it holds, the highest record term survives a reopen
// without a scan, and the request index is bounded by count and age.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ReplicaStore } from '../../src/storage/store.js';
import type { ReplicaRecord, Version } from '../../src/protocol/schemas.js';

const KEY = '0d5d3807-5fbf-4228-a657-5a091c4e497f';
const OTHER = '1d5d3807-5fbf-4228-a657-5a091c4e497f';
const ID = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const record = (version: Version, value: string | null, id?: number): ReplicaRecord => ({
  key: KEY,
  version,
  value,
  ...(id === undefined ? {} : { request: { id: ID(id), result: 'created' as const } }),
});

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'wh13-store-'));
}

describe('ReplicaStore', () => {
  it('reports, per record, whether it holds it now and the version it holds', async () => {
    const store = ReplicaStore.open(dir());
    try {
      assert.deepEqual(await store.apply([record([1, 10, 'a:1'], '1')]), [{ applied: true, current: [1, 10, 'a:1'] }]);
      // The same record again: held exactly, still applied (a replay is harmless).
      assert.deepEqual(await store.apply([record([1, 10, 'a:1'], '1')]), [{ applied: true, current: [1, 10, 'a:1'] }]);
      // An older one (a skewed clock, a lower term) is refused with what beat it.
      assert.deepEqual(await store.apply([record([1, 9, 'b:1'], '2'), record([0, 99, 'a:1'], '3')]), [
        { applied: false, current: [1, 10, 'a:1'] },
        { applied: false, current: [1, 10, 'a:1'] },
      ]);
      assert.equal(store.get(KEY)?.value, '1');
    } finally {
      await store.close();
    }
  });

  it('keeps the highest term of any record it applied across a reopen', async () => {
    const path = dir();
    let store = ReplicaStore.open(path);
    await store.apply([record([7, 1, 'a:1'], '1'), { key: OTHER, version: [3, 1, 'a:1'], value: null }]);
    assert.equal(store.highestTerm(), 7);
    await store.close();
    store = ReplicaStore.open(path);
    assert.equal(store.highestTerm(), 7);
    await store.close();
  });

  it('remembers the request that wrote a record, with the record, and forgets it by age', async () => {
    let now = 1_000_000;
    const store = ReplicaStore.open(dir(), { now: () => now, requestIndex: { maxEntries: 100, maxAgeMs: 60_000 } });
    try {
      await store.apply([record([1, 1, 'a:1'], '1', 1)]);
      assert.deepEqual(store.knownRequest(ID(1)), { key: KEY, version: [1, 1, 'a:1'], result: 'created' });
      assert.deepEqual(store.record(KEY)?.request, { id: ID(1), result: 'created' });
      assert.equal(store.knownRequest(ID(2)), null);
      // A newer write keeps the old request in the index: a late retry of it still replays.
      await store.apply([record([1, 2, 'a:1'], '2', 2)]);
      assert.equal(store.knownRequest(ID(1))?.result, 'created');
      now += 60_001;
      assert.equal(store.knownRequest(ID(1)), null, 'expired');
    } finally {
      await store.close();
    }
  });

  it('keeps at most maxEntries requests, dropping the oldest first', async () => {
    let now = 0;
    const store = ReplicaStore.open(dir(), { now: () => ++now, requestIndex: { maxEntries: 5, maxAgeMs: 1e12 } });
    try {
      for (let i = 1; i <= 12; i++) await store.apply([record([1, i, 'a:1'], String(i), i)]);
      const kept = Array.from({ length: 12 }, (_, i) => i + 1).filter((i) => store.knownRequest(ID(i)) !== null);
      assert.deepEqual(kept, [8, 9, 10, 11, 12]);
    } finally {
      await store.close();
    }
  });
});
