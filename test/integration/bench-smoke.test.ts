// Smoke test of the benchmark tool: a tiny run against a local 3-node cluster
// completes, every phase succeeds, and nothing is left behind. No timing
// assertions: this machine's speed is not under test here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBenchmark, UsageError } from '../../bench/run.js';
import { closedLoop } from '../../bench/loop.js';
import { errorLines } from '../../bench/report.js';
import { DEFAULT_ETCD_BIN, checkEtcdBinary } from '../../src/local-cluster/etcd-cluster.js';

const BENCH_MAIN = fileURLToPath(new URL('../../bench/main.js', import.meta.url));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a tiny benchmark runs every phase against a local 3-node cluster and cleans up', { timeout: 240_000 }, async () => {
  const workDir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  const lines: string[] = [];
  const jsonFile = join(workDir, 'results.json');
  try {
    const result = await runBenchmark({
      nodes: 3,
      replicationFactor: 2,
      requests: 200,
      concurrency: 8,
      warmupMs: 200,
      workDir,
      json: jsonFile,
      progress: false,
      log: (line) => lines.push(line),
    });
    assert.deepEqual(
      result.phases.map((phase) => phase.phase),
      ['seq-set', 'set', 'get', 'mixed', 'delete'],
    );
    for (const phase of result.phases) {
      const where = `${phase.title}: ${JSON.stringify(phase)}`;
      assert.equal(phase.errors, 0, where);
      assert.equal(phase.ops, 200, where);
      assert.ok(phase.opsPerSec > 0, where);
      assert.ok(phase.latencyMs, where);
      assert.ok(phase.latencyMs.p50 > 0, where);
      assert.ok(phase.latencyMs.p50 <= phase.latencyMs.p99, where);
      assert.ok(phase.latencyMs.p99 <= phase.latencyMs.max, where);
      assert.ok(phase.loopDelayMaxMs !== null && phase.loopDelayMaxMs >= 0, `${where}: every node's event-loop delay is read`);
    }
    assert.equal(result.errors, 0);
    assert.ok(lines.some((line) => line.startsWith('Machine: ')), lines.join('\n'));
    assert.ok(lines.some((line) => line === 'Summary'), lines.join('\n'));
    assert.ok(existsSync(jsonFile), 'the --json file is written');

    // Every node it started has exited, and its data dirs are gone.
    const pids = result.targets.flatMap((target) => target.pids);
    assert.equal(pids.length, 3);
    for (const pid of pids) assert.equal(isAlive(pid), false, `node process ${pid} still runs`);
    assert.deepEqual(readdirSync(workDir), ['results.json']);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
});

test('the consistent mode runs on its own etcd members and cleans up', { timeout: 240_000, skip: checkEtcdBinary(DEFAULT_ETCD_BIN) ?? false }, async () => {
  const workDir = mkdtempSync(join(tmpdir(), 'bench-smoke-etcd-'));
  const lines: string[] = [];
  try {
    const result = await runBenchmark({
      coordinator: 'etcd',
      requests: 100,
      concurrency: 8,
      warmupMs: 0,
      phases: ['seq-set', 'set', 'get'],
      workDir,
      progress: false,
      log: (line) => lines.push(line),
    });
    assert.equal(result.errors, 0, lines.join('\n'));
    assert.deepEqual(result.phases.map((phase) => phase.ops), [100, 100, 100]);
    assert.equal(result.settings.coordinator, 'etcd');
    assert.ok(lines.some((line) => line.startsWith('Target: Warehouse 13, local cluster of 3 nodes (consistent mode)')), lines.join('\n'));
    for (const pid of result.targets.flatMap((target) => target.pids)) assert.equal(isAlive(pid), false, `node process ${pid} still runs`);
    assert.deepEqual(readdirSync(workDir), []);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
});

test('bad options are rejected before anything starts', async () => {
  await assert.rejects(runBenchmark({ concurrency: 0, progress: false, log: () => {} }), UsageError);
  await assert.rejects(runBenchmark({ phases: ['get'], progress: false, log: () => {} }), UsageError);
  await assert.rejects(runBenchmark({ compare: 'etcd', etcdBin: '/nonexistent/etcd', progress: false, log: () => {} }), /apt-get install -y etcd-server/);
});

test('the command line exits with 2 and one line for a bad flag', async () => {
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(process.execPath, [BENCH_MAIN, '--concurrency', 'lots'], (error, _stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr }),
    );
  });
  assert.equal(code, 2);
  assert.equal(stderr.trim().split('\n').length, 1, stderr);
  assert.match(stderr, /^Error: .*--concurrency/);
});

test('failed requests are counted per kind and reported', async () => {
  let n = 0;
  const loop = await closedLoop(() => Promise.resolve(n++ % 10 === 0 ? 'HTTP 503 Failed to write an entry' : null), {
    concurrency: 4,
    durationMs: 60_000,
    requests: 100,
  });
  assert.equal(loop.ok + loop.errors, 100);
  assert.equal(loop.errors, 10);
  assert.equal(loop.errorKinds.get('HTTP 503 Failed to write an entry'), 10);
  assert.equal(loop.histogram.count, 90);
  const phase = {
    phase: 'set', title: 'concurrent SET', target: 'warehouse', concurrency: 4, ops: loop.ok, errors: loop.errors,
    errorKinds: Object.fromEntries(loop.errorKinds), elapsedMs: loop.elapsedMs, opsPerSec: 1, latencyMs: null,
    endedBy: loop.endedBy, loopDelayMaxMs: null, documents: 0, cpu: { clientPercent: 0, clientMicrosPerOp: null, serverPercent: null, serverMicrosPerOp: null },
  };
  const warning = errorLines([phase]).join('\n');
  assert.match(warning, /WARNING/);
  assert.match(warning, /HTTP 503 Failed to write an entry ×10/);
});
