// Expired tombstones are purged a share of the buckets per repair pass, so
// that no pass reads the whole store (at a million records that read took
// seconds of a core) and every tombstone past its grace is gone after one
// round of shares; tombstones within the grace and live records stay.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RepairService } from '../../src/replication/repair.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { createLogger } from '../../src/common/logger.js';
import { waitFor } from '../../src/local-cluster/wait.js';
import { mulberry32, uuid4 } from '../../src/common/random.js';
import type { ReplicaRecord } from '../../src/protocol/schemas.js';

const SELF = '10.0.0.1:7000';
const GRACE_MS = 60_000;
const NOW = 10_000_000;

/** A version written at wall-clock `ms` (the clock part of a version counts 1/1024 ms). */
function writtenAt(ms: number): [number, number, string] {
  return [1, ms * 1024, SELF];
}

describe('tombstone purge', () => {
  it('purges the expired tombstones a share at a time, all of them after one round of shares, and nothing else', async () => {
    const rng = mulberry32(3);
    const store = new MemoryStore({ now: () => NOW, durable: () => Promise.resolve() });
    const expired: ReplicaRecord[] = Array.from({ length: 400 }, () => ({ key: uuid4(rng), version: writtenAt(NOW - 2 * GRACE_MS), value: null }));
    const recent: ReplicaRecord[] = Array.from({ length: 100 }, () => ({ key: uuid4(rng), version: writtenAt(NOW - GRACE_MS / 2), value: null }));
    const live: ReplicaRecord[] = Array.from({ length: 100 }, () => ({ key: uuid4(rng), version: writtenAt(NOW - 2 * GRACE_MS), value: '{}' }));
    await store.apply([...expired, ...recent, ...live]);
    const repair = new RepairService(
      {
        self: SELF,
        replicationFactor: 2,
        aliveNodes: () => [SELF],
        store,
        peers: { post: () => Promise.reject(new Error('no peers here')) },
        logger: createLogger('tombstone-purge', 'silent'),
        clock: { now: () => 0, wall: () => NOW },
        timers: { every: () => () => undefined, after: () => () => undefined },
      },
      { intervalMs: 30_000, hintIntervalMs: 1000, tombstoneGraceMs: GRACE_MS, batchSize: 100, ratePerSecond: Infinity },
    );
    const left = () => expired.filter((record) => store.get(record.key)).length;
    const afterPasses: number[] = [];
    for (let pass = 1; pass <= 10; pass++) {
      repair.trigger();
      await waitFor(() => repair.totals.rounds >= pass, { timeoutMs: 10_000, intervalMs: 1, message: `repair pass ${pass}` });
      afterPasses.push(left());
    }
    await repair.stop();
    assert.ok(afterPasses[0]! > 0 && afterPasses[0]! < expired.length, `one pass purged ${expired.length - afterPasses[0]!} of ${expired.length}`);
    assert.equal(afterPasses[9], 0, `left after each pass: ${afterPasses.join(', ')}`);
    assert.ok([...recent, ...live].every((record) => store.get(record.key)));
  });
});
