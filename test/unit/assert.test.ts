// The invariant helper, and one boundary that uses it: a store refuses a
// batch whose hint slots do not line up with its records, before storing any.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InvariantError, invariant } from '../../src/common/assert.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { ReplicaStore } from '../../src/storage/store.js';
import type { ReplicaRecord } from '../../src/protocol/schemas.js';

describe('invariant', () => {
  it('passes on a truthy condition and throws an InvariantError with the message otherwise', () => {
    invariant(1 + 1 === 2, 'arithmetic');
    assert.throws(() => invariant(false, 'broken'), (error: unknown) => error instanceof InvariantError && error.message === 'broken' && error.name === 'InvariantError');
    assert.throws(() => invariant(null, () => `formatted ${2}`), { name: 'InvariantError', message: 'formatted 2' });
  });

  it('formats a lazy message only when the invariant breaks', () => {
    let formatted = 0;
    invariant(true, () => String(++formatted));
    assert.equal(formatted, 0);
  });
});

describe('store.apply', () => {
  const records: ReplicaRecord[] = ['0d5d3807-5fbf-4228-a657-5a091c4e497f', '7c1f1d2e-3a4b-4c5d-8e6f-708192a3b4c5'].map((key) => ({
    key,
    version: [1, 1024, 'a:1'],
    value: '{}',
  }));

  it('refuses hint slots that do not match the records one for one, storing nothing', async () => {
    const lmdb = ReplicaStore.open(mkdtempSync(join(tmpdir(), 'wh13-assert-')), { now: () => 1000 });
    const memory = new MemoryStore({ now: () => 1000, durable: () => Promise.resolve() });
    try {
      for (const store of [lmdb, memory]) {
        await assert.rejects(store.apply(records, ['c:1']), InvariantError);
        assert.equal(store.get(records[0]!.key), undefined);
        assert.deepEqual(await store.apply(records, [null, 'c:1']), records.map(({ version }) => ({ applied: true, current: version })));
      }
    } finally {
      await lmdb.close();
    }
  });
});
