// What the short chaos runs in `npm test` share: the fast timings, and how a
// run's outcome is reported and asserted.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { ChaosOptions, ChaosResult } from '../../chaos/run.js';

export const SHORT_RUN: Partial<ChaosOptions> = {
  warmupMs: 3000,
  maxPartitions: 1,
  faultMinMs: 2000,
  gapMinMs: 1000,
  heartbeatIntervalMs: 200,
  failureTimeoutMs: 2000,
  antiEntropyIntervalMs: 2000,
  convergenceTimeoutMs: 30_000,
};

/** Prints the verdicts as test diagnostics; fails on an error of the run itself or a failed hard verdict. */
export function assertRunPassed(t: TestContext, result: ChaosResult): void {
  const { seed, stats, outDir } = result;
  t.diagnostic(`seed ${seed}, ${stats.ops} ops (ok ${stats.ok}, fail ${stats.fail}, info ${stats.info}), ${stats.faults} faults, ${(stats.elapsedMs / 1000).toFixed(0)} s, report: ${outDir}/index.html`);
  for (const v of result.verdicts) t.diagnostic(`${v.status.padEnd(9)} ${v.title}: ${v.summary}`);
  const failing = result.verdicts
    .filter((v) => v.hard && v.status === 'fail')
    .map((v) => `${v.title}: ${v.summary}\n${v.violations.slice(0, 5).map((x) => `  ${x.key}: ${x.message}`).join('\n')}`);
  assert.deepEqual(result.errors, [], `the run itself failed (report: ${outDir}/index.html)`);
  assert.deepEqual(failing, [], `verdicts failed with seed ${seed} (report: ${outDir}/index.html)`);
}
