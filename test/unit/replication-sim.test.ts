// The replication simulator (sim/): a few hundred seeded runs of N nodes
// running the real membership driver, coordinator, batcher and repair through
// crashes, restarts, partitions, drops and reordering must keep every
// invariant, and a seed must replay to the same run. A failure names the seed
// and its replay command.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { replayCommand, runSeed } from '../../sim/run.js';

const SEEDS = 200;

describe('replication simulator', () => {
  it(`keeps every invariant over ${SEEDS} seeds`, async () => {
    const failures: string[] = [];
    let acknowledged = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const result = await runSeed(seed);
      acknowledged += result.stats.acknowledged;
      if (!result.ok) failures.push(`seed ${seed}: ${result.violations.join('; ')} (replay: ${replayCommand(seed)})`);
    }
    assert.deepEqual(failures, []);
    // The runs do work: most client requests are answered despite the faults.
    assert.ok(acknowledged > SEEDS * 30, `only ${acknowledged} acknowledged requests`);
  });

  it('replays a seed to the same history and the same data on every node', async () => {
    const first = await runSeed(42);
    const second = await runSeed(42);
    assert.equal(second.fingerprint, first.fingerprint);
    assert.deepEqual(second.stats, first.stats);
    assert.notEqual((await runSeed(43)).fingerprint, first.fingerprint);
  });
});
