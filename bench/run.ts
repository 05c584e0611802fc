// One benchmark run: start (or reach) the clusters, run the phases against
// each target in turn, report, and always stop what was started.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { defaultOptions, MEMORY_BASELINE_DOCUMENTS, PHASE_NAMES, type BenchOptions } from './options.js';
import { checkEtcdBinary, etcdVersion } from '../src/local-cluster/etcd-cluster.js';
import { startTargets } from './targets.js';
import { getAtPhase, loadPhase, runPhase, standardPhase, warmupPhases, type PhaseResult, type PhaseSpec, type TargetState } from './phases.js';
import { KeyPool, KeySequence } from './workload.js';
import { machineInfo, type MachineInfo } from './machine.js';
import { Progress } from './progress.js';
import { delay } from '../src/local-cluster/processes.js';
import {
  computeRatio,
  errorLines,
  growthLines,
  machineLines,
  memoryLines,
  phaseLine,
  ratioLine,
  summaryLines,
  type MemorySnapshot,
  type Ratio,
} from './report.js';

/** A bad option: the command line reports it in one line and exits with 2. */
export class UsageError extends Error {}

export interface BenchmarkResult {
  tool: 'warehouse-bench';
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  versions: Record<string, string>;
  settings: {
    nodes: number | null;
    replicationFactor: number | null;
    target: string | null;
    concurrency: number;
    durationMs: number | null;
    requests: number | null;
    valueSize: number;
    compare: 'etcd' | null;
    coordinator: 'gossip' | 'etcd' | null;
    memory: number | null;
  };
  /** What was measured, with the ids of the processes this run started (all stopped when it returns). */
  targets: { name: string; description: string; pids: number[] }[];
  /** 1, 5 and 15 minute load averages when the run ended. */
  loadAverageAtEnd: number[];
  phases: PhaseResult[];
  /** warehouse/etcd per phase, with --compare etcd. */
  ratios: Ratio[];
  /** Memory snapshots, with --memory. */
  memory: MemorySnapshot[];
  interrupted: boolean;
  /** Failed requests over all phases. */
  errors: number;
}

const WAREHOUSE_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

export function validateOptions(options: BenchOptions): void {
  const whole = (name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`${name} must be a whole number from ${min} to ${max}`);
  };
  whole('--nodes', options.nodes, 1, 64);
  whole('--replication-factor', options.replicationFactor, 1, 64);
  if (!(options.warmupMs >= 0 && Number.isFinite(options.warmupMs))) throw new UsageError('--warmup must be zero or longer');
  whole('--concurrency', options.concurrency, 1, 10_000);
  whole('--value-size', options.valueSize, 1, 1024 * 1024);
  if (options.requests !== null) whole('--requests', options.requests, 1);
  if (options.memory !== null) whole('--memory', options.memory, 1);
  if (!(options.durationMs > 0 && Number.isFinite(options.durationMs))) throw new UsageError('--duration must be longer than zero');
  if (options.phases.length === 0) throw new UsageError('--phases needs at least one phase');
  for (const phase of options.phases) {
    if (!PHASE_NAMES.includes(phase)) throw new UsageError(`unknown phase "${phase}" (phases: ${PHASE_NAMES.join(', ')})`);
  }
  const needKeys = options.phases.filter((phase) => phase === 'get' || phase === 'mixed' || phase === 'delete');
  if (needKeys.length > 0 && !options.phases.includes('set') && !options.phases.includes('seq-set')) {
    throw new UsageError(`phase ${needKeys[0]} needs keys: add the set or seq-set phase`);
  }
  if (options.compare !== null && options.compare !== 'etcd') throw new UsageError(`--compare supports only etcd, not "${String(options.compare)}"`);
  if (options.coordinator !== 'gossip' && options.coordinator !== 'etcd') throw new UsageError(`--coordinator is gossip or etcd, not "${String(options.coordinator)}"`);
}

export async function runBenchmark(overrides: Partial<BenchOptions> = {}): Promise<BenchmarkResult> {
  const options: BenchOptions = { ...defaultOptions(), ...overrides };
  validateOptions(options);
  if (options.compare === 'etcd' || (options.coordinator === 'etcd' && !options.target)) {
    const problem = checkEtcdBinary(options.etcdBin);
    if (problem) throw new UsageError(`${problem}, or pass --etcd-bin PATH`);
  }
  const log = options.log;
  const progress = new Progress(options.progress);
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const versions: Record<string, string> = { 'Warehouse 13': WAREHOUSE_VERSION };
  if (options.compare === 'etcd' || options.coordinator === 'etcd') versions.etcd = etcdVersion(options.etcdBin);

  const stops: (() => Promise<void>)[] = [];
  const states: TargetState[] = [];
  const results: PhaseResult[] = [];
  const ratios: Ratio[] = [];
  const memory: MemorySnapshot[] = [];
  try {
    states.push(...(await startTargets(options, versions.etcd ?? 'unknown', stops)));

    for (const line of machineLines(machine, versions)) log(line);
    if (machine.loadAverage[0]! > machine.cores / 4) {
      log(`WARNING: load average ${machine.loadAverage[0]} on ${machine.cores} cores: other processes compete for the CPU, numbers will be low and noisy`);
    }
    for (const { target } of states) log(`Target: ${target.describe()}`);
    const limit = options.requests !== null ? `${options.requests} requests` : `${options.durationMs / 1000} s`;
    log(`Each phase: ${limit}, ${options.concurrency} requests in flight (sequential SET: 1), ${options.valueSize}-byte JSON documents, UUID4 keys`);
    const limits = { concurrency: options.concurrency, durationMs: options.durationMs, requests: options.requests, valueSize: options.valueSize };
    if (options.warmupMs > 0) {
      log(`Warm-up: ${options.warmupMs / 1000} s per target (SET, then GET), not measured`);
      for (const state of states) {
        // Its own keys: the measured phases never see them.
        const scratch: TargetState = { target: state.target, keys: new KeyPool() };
        for (const spec of warmupPhases(options.warmupMs, limits)) {
          if (options.signal?.aborted) break;
          const result = await runPhase(spec, scratch, {
            signal: options.signal,
            onProgress: (done) => progress.update(`  ${spec.title} [${state.target.name}]: ${done.toLocaleString('en-US')} req`),
          });
          progress.clear();
          if (result.errors > 0) log(`  ${phaseLine(result)}`);
        }
      }
    }
    log('');

    const runSpec = async (spec: PhaseSpec): Promise<void> => {
      const pair: PhaseResult[] = [];
      for (const state of states) {
        if (options.signal?.aborted) return;
        const planned = spec.requests ?? null;
        const result = await runPhase(spec, state, {
          signal: options.signal,
          onProgress: (done, errors, elapsedMs) => {
            const rate = elapsedMs > 0 ? Math.round((done * 1000) / elapsedMs).toLocaleString('en-US') : '0';
            const of = planned !== null ? `${done}/${planned} req` : Number.isFinite(spec.durationMs) ? `${(elapsedMs / 1000).toFixed(1)}/${spec.durationMs / 1000} s, ${done.toLocaleString('en-US')} req` : `${done.toLocaleString('en-US')} req`;
            progress.update(`  ${spec.title} [${state.target.name}]: ${of}, ${rate}/s${errors > 0 ? `, ${errors} errors` : ''}`);
          },
        });
        progress.clear();
        log(phaseLine(result));
        results.push(result);
        pair.push(result);
      }
      if (pair.length === 2 && pair.every((result) => result.endedBy !== 'aborted')) {
        const ratio = computeRatio(pair[0]!, pair[1]!);
        ratios.push(ratio);
        log(`  ${ratioLine(ratio)}`);
      }
    };
    const snapshot = async (documents: number): Promise<void> => {
      await delay(1000); // let the last writes settle
      for (const { target } of states) memory.push({ target: target.name, documents, members: await target.memory() });
    };

    if (options.memory === null) {
      for (const name of PHASE_NAMES.filter((phase) => options.phases.includes(phase))) await runSpec(standardPhase(name, limits));
    } else {
      const sequence = new KeySequence();
      const baseline = Math.min(MEMORY_BASELINE_DOCUMENTS, options.memory);
      for (const documents of baseline < options.memory ? [baseline, options.memory] : [options.memory]) {
        await runSpec(loadPhase(sequence, documents, limits));
        if (options.signal?.aborted) break;
        await snapshot(documents);
        await runSpec(getAtPhase(documents, limits));
      }
    }

    log('');
    log('Summary');
    for (const line of summaryLines(results, ratios)) log(line);
    if (memory.length > 0) {
      log('');
      log('Memory (records and JS heap: from GET /v1/stats, n/a where a member does not answer it)');
      for (const line of memoryLines(memory)) log(line);
      for (const line of growthLines(memory)) log(line);
    }
    const errors = errorLines(results);
    if (errors.length > 0) log('');
    for (const line of errors) log(line);
    if (options.signal?.aborted) log('Interrupted: the results above are partial.');
  } finally {
    progress.clear();
    // Stop in reverse order of start: clients first, then the clusters.
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }

  const result: BenchmarkResult = {
    tool: 'warehouse-bench',
    startedAt,
    finishedAt: new Date().toISOString(),
    machine,
    versions,
    settings: {
      nodes: options.target ? null : options.nodes,
      replicationFactor: options.target ? null : options.replicationFactor,
      target: options.target,
      concurrency: options.concurrency,
      durationMs: options.requests === null ? options.durationMs : null,
      requests: options.requests,
      valueSize: options.valueSize,
      compare: options.compare,
      coordinator: options.target ? null : options.coordinator,
      memory: options.memory,
    },
    targets: states.map(({ target }) => ({ name: target.name, description: target.describe(), pids: target.pids() })),
    loadAverageAtEnd: loadavg().map((value) => Math.round(value * 100) / 100),
    phases: results,
    ratios,
    memory,
    interrupted: options.signal?.aborted === true,
    errors: results.reduce((sum, phase) => sum + phase.errors, 0),
  };
  if (options.json) {
    await writeFile(options.json, `${JSON.stringify(result, null, 2)}\n`);
    log(`Results written to ${options.json}`);
  }
  return result;
}
