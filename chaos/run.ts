// One chaos run, start to finish: a cluster of real node processes on
// loopback, the workload, the nemesis, the heal, the convergence check, the
// final reads, the verdicts and the report. `runChaos` is what the command
// line (main.ts) and the integration test call.
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, hostname, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCluster } from '../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../src/local-cluster/ports.js';
import { DEFAULT_ETCD_BIN, EtcdCluster, checkEtcdBinary } from '../src/local-cluster/etcd-cluster.js';
import { WarehouseClient } from '../src/client/index.js';
import { type Verdict, type FinalRead, checkLinearizability, checkLostWrites, checkReadAfterWrite, partitionWindows } from './checker.js';
import { type ReplicaSnapshot, snapshotReplicas } from './convergence.js';
import { Firewall } from './firewall.js';
import { NodeGroups } from './cgroups.js';
import { FINAL_PROCESS, History, type HistoryEvent, type Op, pairOps, readHistory } from './history.js';
import { Nemesis, type FaultRecord, type FaultSchedule, type PlannedFault } from './nemesis.js';
import { renderReport } from './report.js';
import { Workload, invoke } from './workload.js';

export interface ChaosOptions extends FaultSchedule {
  nodes: number;
  clients: number;
  durationMs: number;
  /** Live keys at any time. */
  keys: number;
  /** Ops after which a key is retired for a fresh one (0: never). */
  opsPerKey: number;
  /** The run's report goes to <out>/<timestamp>-<seed>/. */
  out: string;
  /** No fault before this, no fault after durationMs - cooldownMs. */
  warmupMs: number;
  cooldownMs: number;
  mix: { get: number; set: number; delete: number };
  thinkMs: number;
  /** A client reconnects (fresh leader discovery) after about this many ops; 0: never. */
  reconnectEvery: number;
  heartbeatIntervalMs: number;
  failureTimeoutMs: number;
  antiEntropyIntervalMs: number;
  nodeRequestTimeoutMs: number;
  clientRequestTimeoutMs: number;
  clientFailoverTimeoutMs: number;
  clientHeartbeatIntervalMs: number;
  /** Verdict 3's bound: replicas must agree within this long after the last heal (or the workload's end, if later). */
  convergenceTimeoutMs: number;
  /** How long after a partition heals its anomalies are still attributed to it. */
  partitionSettleMs: number;
  /** Consensus mode: partition anomalies and non-linearizable keys fail the run. */
  strict: boolean;
  /** etcd: the consistent mode, on three etcd members after the nodes' addresses (always strict). */
  coordinator: 'gossip' | 'etcd';
  etcdBin: string;
  linearizabilityMaxSteps: number;
  /** Nodes listen on <hostPrefix>.2, .3, ...; default: a /24 of 127/8 unique to this process. */
  hostPrefix?: string;
  port?: number;
  keepData: boolean;
  logLevel: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export const DEFAULT_OPTIONS: ChaosOptions = {
  nodes: 5,
  replicationFactor: 3,
  clients: 8,
  durationMs: 60_000,
  keys: 20,
  opsPerKey: 150,
  faults: ['kill', 'pause', 'partition'],
  seed: 1,
  out: 'results',
  warmupMs: 3000,
  cooldownMs: 5000,
  faultMinMs: 2000,
  faultMaxMs: 8000,
  gapMinMs: 1000,
  gapMaxMs: 4000,
  maxFaults: Infinity,
  maxPartitions: Infinity,
  mix: { get: 0.45, set: 0.45, delete: 0.1 },
  thinkMs: 10,
  reconnectEvery: 100,
  heartbeatIntervalMs: 200,
  failureTimeoutMs: 2000,
  antiEntropyIntervalMs: 2000,
  nodeRequestTimeoutMs: 1000,
  clientRequestTimeoutMs: 1500,
  clientFailoverTimeoutMs: 6000,
  clientHeartbeatIntervalMs: 250,
  convergenceTimeoutMs: 30_000,
  partitionSettleMs: 4000,
  strict: false,
  coordinator: 'gossip',
  etcdBin: DEFAULT_ETCD_BIN,
  linearizabilityMaxSteps: 20_000_000,
  keepData: false,
  logLevel: 'warn',
};

export interface ConvergenceReport {
  boundMs: number;
  /** History times. */
  lastHealMs: number | null;
  quiesceMs: number;
  leaderAgreedMs: number | null;
  convergedMs: number | null;
  inSyncMs: number | null;
  snapshot: ReplicaSnapshot | null;
  /** Final reads that disagree with the owners' agreed copy. */
  readMismatches: { key: string; read: string | null; replicas: string | null }[];
}

export interface ChaosResult {
  seed: number;
  outDir: string;
  passed: boolean;
  verdicts: Verdict[];
  /** Problems of the run itself (a node that would not restart, a cluster that would not start). */
  errors: string[];
  stats: { ops: number; ok: number; fail: number; info: number; keys: number; faults: number; elapsedMs: number };
}

function timestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function machine(): Record<string, unknown> {
  const cpu = cpus();
  return { hostname: hostname(), os: type(), cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}

export async function runChaos(partial: Partial<ChaosOptions> = {}): Promise<ChaosResult> {
  const options: ChaosOptions = { ...DEFAULT_OPTIONS, ...partial, mix: { ...DEFAULT_OPTIONS.mix, ...partial.mix } };
  // The consistent mode promises linearizability under every fault: anything less fails the run.
  if (options.coordinator === 'etcd') options.strict = true;
  const log = options.log ?? (() => {});
  const errors: string[] = [];
  if (options.replicationFactor > options.nodes) throw new Error('the replication factor cannot exceed the number of nodes');
  if (options.durationMs <= options.warmupMs + options.cooldownMs) throw new Error('the duration must be longer than warm-up plus cool-down');
  if (options.faults.includes('etcd') && options.coordinator !== 'etcd') throw new Error('the etcd fault needs --coordinator etcd');
  if (options.coordinator === 'etcd') {
    const problem = checkEtcdBinary(options.etcdBin);
    if (problem) throw new Error(problem);
  }

  const started = new Date();
  const outDir = join(options.out, `${timestamp(started)}-${options.seed}`);
  mkdirSync(outDir, { recursive: true });
  const history = new History(join(outDir, 'history.jsonl'));

  let firewall: Firewall | null = null;
  if (options.faults.includes('partition')) {
    const reason = Firewall.unavailableReason();
    if (reason) throw new Error(`partition faults need iptables: ${reason}`);
    for (const line of Firewall.removeStaleRules()) log(`removed a rule left by an earlier run: ${line}`);
    firewall = new Firewall(options.seed);
  }
  let groups: NodeGroups | null = null;
  if (firewall && options.coordinator === 'etcd') {
    for (const name of NodeGroups.removeStale()) log(`removed a cgroup left by an earlier run: ${name}`);
    const opened = NodeGroups.open(options.seed);
    if (typeof opened === 'string') log(`partitions will not cut nodes from etcd: ${opened}`);
    else groups = opened;
  }

  const prefix = options.hostPrefix ?? `127.${100 + (process.pid % 100)}.${(options.seed >>> 0) % 250 + 1}`;
  const hosts = Array.from({ length: options.nodes }, (_, i) => `${prefix}.${i + 2}`);
  const port = options.port ?? (await allocatePorts(1, hosts))[0]!;
  const etcdHosts = options.coordinator === 'etcd' ? [0, 1, 2].map((i) => `${prefix}.${options.nodes + 2 + i}`) : [];
  let etcd: EtcdCluster | null = null;
  if (etcdHosts.length > 0) {
    log(`starting 3 etcd members on ${etcdHosts.join(', ')}`);
    etcd = await EtcdCluster.start({ bin: options.etcdBin, workDir: outDir, hosts: etcdHosts });
  }
  const cluster = new LocalCluster({
    coordinator: etcd?.coordinatorUrl,
    baseDir: join(outDir, 'cluster'),
    replicationFactor: options.replicationFactor,
    heartbeatIntervalMs: options.heartbeatIntervalMs,
    failureTimeoutMs: options.failureTimeoutMs,
    antiEntropyIntervalMs: options.antiEntropyIntervalMs,
    requestTimeoutMs: options.nodeRequestTimeoutMs,
    logLevel: options.logLevel,
    keepData: true,
  });

  // Whatever happens (an error, Ctrl-C, SIGTERM, process exit): no rule and no node left behind.
  const cleanupSync = () => {
    firewall?.healAllSync();
    for (const node of cluster.nodes.values()) {
      if (node.running) {
        node.signal('SIGCONT');
        node.signal('SIGKILL');
      }
    }
    etcd?.members.forEach((_, i) => etcd!.kill(i));
    groups?.removeAll();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    cleanupSync();
    process.stderr.write(`\nchaos: ${signal}: nodes stopped, network rules removed; partial results in ${outDir}\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.on('exit', cleanupSync);

  let workload: Workload | null = null;
  let nemesis: Nemesis | null = null;
  let convergence: ConvergenceReport | null = null;
  const finals: FinalRead[] = [];
  try {
    log(`starting ${options.nodes} nodes on ${prefix}.{2..${options.nodes + 1}}:${port} (RF ${options.replicationFactor}), logs in ${join(outDir, 'cluster')}`);
    for (const host of hosts) await cluster.startNode({ host, port, ...(groups ? { wrapper: groups.wrapper(`${host}:${port}`) } : {}) });
    await cluster.waitForLeader(undefined, 30_000);
    const ids = [...cluster.nodes.keys()];

    workload = new Workload(
      {
        clients: options.clients,
        keys: options.keys,
        opsPerKey: options.opsPerKey,
        mix: options.mix,
        thinkMs: options.thinkMs,
        reconnectEvery: options.reconnectEvery,
        seed: options.seed,
        seeds: ids,
        clientRequestTimeoutMs: options.clientRequestTimeoutMs,
        clientFailoverTimeoutMs: options.clientFailoverTimeoutMs,
        clientHeartbeatIntervalMs: options.clientHeartbeatIntervalMs,
      },
      history,
    );
    await workload.connect();
    nemesis = new Nemesis(cluster, firewall, etcd, groups, history, {
      faults: options.faults,
      startMs: history.now() + options.warmupMs,
      endMs: history.now() + options.durationMs - options.cooldownMs,
      faultMinMs: options.faultMinMs,
      faultMaxMs: options.faultMaxMs,
      gapMinMs: options.gapMinMs,
      gapMaxMs: options.gapMaxMs,
      maxFaults: options.maxFaults,
      maxPartitions: options.maxPartitions,
      replicationFactor: options.replicationFactor,
      seed: options.seed,
    });
    log(`fault plan: ${nemesis.plan.map((f) => `${f.kind}@${(f.at / 1000).toFixed(1)}s/${(f.durationMs / 1000).toFixed(1)}s`).join(', ') || 'none'}`);

    const workloadStart = history.now();
    history.phase('workload-start', `${options.clients} clients, ${options.keys} live keys`);
    workload.start();
    const nemesisDone = nemesis.run().then(() => undefined);
    const progress = setInterval(() => {
      const s = workload!.stats;
      log(`t=${((history.now() - workloadStart) / 1000).toFixed(0)}s ok=${s.ok} fail=${s.fail} info=${s.info} faults=${nemesis!.done.length}/${nemesis!.plan.length}`);
    }, 10_000);
    await sleep(Math.max(0, workloadStart + options.durationMs - history.now()));
    clearInterval(progress);
    nemesis.abort();
    await nemesisDone;
    await workload.stop(options.clientFailoverTimeoutMs + options.clientRequestTimeoutMs);
    history.phase('workload-stop');
    await nemesis.healAll();
    errors.push(...nemesis.errors);
    const quiesceMs = history.now();
    history.phase('healed', 'every node running, no node paused, no network rule');
    log(`workload stopped: ${JSON.stringify(workload.stats)}, reconnects ${JSON.stringify(workload.reconnects)}; waiting for convergence (bound ${options.convergenceTimeoutMs / 1000} s)`);

    convergence = await awaitConvergence(cluster, ids, workload.pool.all, options, history, nemesis.lastHealed(), quiesceMs);
    history.phase('converged', convergence.convergedMs === null ? 'not within the bound' : undefined);

    // The final read of every key ever used, through a fresh client (retried: a read is harmless).
    const reader = await WarehouseClient.connect({ seeds: ids, requestTimeoutMs: 5000, failoverTimeoutMs: 15_000 });
    try {
      for (const key of workload.pool.all) {
        let final: Op | null = null;
        for (let attempt = 0; attempt < 3 && !final; attempt++) {
          const before = history.events.length;
          const { outcome } = await invoke(history, reader, FINAL_PROCESS, 'get', key, null);
          if (outcome === 'ok') final = pairOps(history.events.slice(before))[0] ?? null;
        }
        finals.push({ key, op: final });
      }
    } finally {
      await reader.close();
    }
    history.phase('final-reads-done');
    // The final reads must agree with what the owners hold.
    const after = await snapshotReplicas(ids, workload.pool.all, options.replicationFactor, cluster.secret);
    for (const { key, op } of finals) {
      if (!op || !after.agreed.has(key)) continue;
      const record = after.agreed.get(key)!;
      const replicas = record?.value ?? null;
      if (replicas !== op.value) convergence.readMismatches.push({ key, read: op.value, replicas });
    }
  } catch (error) {
    errors.push(`the run stopped early: ${(error as Error).stack ?? String(error)}`);
    log(errors[errors.length - 1]!);
  } finally {
    nemesis?.abort();
    await workload?.stop(0).catch(() => undefined);
    await firewall?.healAll().catch(() => undefined);
    cleanupSync();
    await cluster.stop().catch(() => undefined);
    groups?.removeAll();
    await etcd?.stop().catch(() => undefined);
    if (!options.keepData) removeDataDirs(join(outDir, 'cluster'));
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', cleanupSync);
    await history.close();
  }

  log('checking the history');
  const stats = {
    ops: 0,
    ok: 0,
    fail: 0,
    info: 0,
    keys: workload?.pool.all.length ?? 0,
    faults: nemesis?.done.length ?? 0,
    elapsedMs: Date.now() - started.getTime(),
  };
  const { passed, verdicts } = judge(outDir, history.events, finals, convergenceVerdict(convergence, pairOps(history.events)), errors, options, {
    seed: options.seed,
    startedAt: started.toISOString(),
    machine: machine(),
    stats,
    plan: nemesis?.plan ?? ([] as PlannedFault[]),
    faults: nemesis?.done ?? ([] as FaultRecord[]),
  });
  return { seed: options.seed, outDir, passed, verdicts, errors, stats };
}

interface RunFacts {
  seed: number;
  startedAt: string;
  machine: Record<string, unknown>;
  stats: ChaosResult['stats'];
  plan: unknown;
  faults: unknown;
}

/** Verdicts 1, 2 and 4 from the history, verdict 3 as measured; writes verdicts.json and index.html. */
function judge(
  outDir: string,
  events: HistoryEvent[],
  finals: readonly FinalRead[],
  convergence: Verdict,
  errors: string[],
  options: ChaosOptions,
  facts: RunFacts,
): { passed: boolean; verdicts: Verdict[] } {
  const ops = pairOps(events);
  const windows = partitionWindows(events, options.partitionSettleMs);
  const verdicts: Verdict[] = [
    checkLostWrites(ops, finals, windows, options.strict),
    checkReadAfterWrite(ops, windows, options.strict),
    convergence,
    checkLinearizability(ops, windows, options.strict, { maxSteps: options.linearizabilityMaxSteps, retryAfterMs: options.clientRequestTimeoutMs }),
  ];
  const passed = errors.length === 0 && verdicts.every((v) => !(v.hard && (v.status === 'fail' || (v.id !== 'linearizability' && v.status === 'unknown'))));
  const clientOps = ops.filter((op) => op.process !== FINAL_PROCESS);
  Object.assign(facts.stats, {
    ops: clientOps.length,
    ok: clientOps.filter((op) => op.outcome === 'ok').length,
    fail: clientOps.filter((op) => op.outcome === 'fail').length,
    info: clientOps.filter((op) => op.outcome === 'info').length,
  });
  const summary = {
    passed,
    seed: facts.seed,
    startedAt: facts.startedAt,
    machine: facts.machine,
    options: { ...options, log: undefined, maxFaults: Number.isFinite(options.maxFaults) ? options.maxFaults : null, maxPartitions: Number.isFinite(options.maxPartitions) ? options.maxPartitions : null },
    stats: facts.stats,
    errors,
    plan: facts.plan,
    faults: facts.faults,
    partitionWindows: windows,
    verdicts: verdicts.map((v) => slimVerdict(v)),
  };
  writeFileSync(join(outDir, 'verdicts.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(outDir, 'index.html'), renderReport({ summary, verdicts, ops, events, outDir }));
  return { passed, verdicts };
}

/**
 * Checks a recorded run again (e.g. after the checker improved): verdicts 1, 2
 * and 4 are recomputed from history.jsonl; verdict 3, which needed the live
 * cluster, is kept from verdicts.json. Rewrites verdicts.json and index.html.
 */
export function recheck(outDir: string): ChaosResult {
  const saved = JSON.parse(readFileSync(join(outDir, 'verdicts.json'), 'utf8')) as {
    seed: number;
    startedAt: string;
    machine: Record<string, unknown>;
    options: ChaosOptions & { maxFaults: number | null; maxPartitions: number | null };
    stats: ChaosResult['stats'];
    errors: string[];
    plan: unknown;
    faults: unknown;
    verdicts: Verdict[];
  };
  const options: ChaosOptions = {
    ...DEFAULT_OPTIONS,
    ...saved.options,
    maxFaults: saved.options.maxFaults ?? Infinity,
    maxPartitions: saved.options.maxPartitions ?? Infinity,
  };
  const events = readHistory(join(outDir, 'history.jsonl'));
  const ops = pairOps(events);
  const keys = [...new Set(ops.map((op) => op.key))];
  const finals: FinalRead[] = keys.map((key) => {
    const reads = ops.filter((op) => op.key === key && op.process === FINAL_PROCESS && op.outcome === 'ok');
    return { key, op: reads[reads.length - 1] ?? null };
  });
  const convergence = saved.verdicts.find((v) => v.id === 'convergence')!;
  // Offending ops in verdicts.json are plain objects; the report only reads them.
  const { passed, verdicts } = judge(outDir, events, finals, convergence, saved.errors, options, {
    seed: saved.seed,
    startedAt: saved.startedAt,
    machine: saved.machine,
    stats: saved.stats,
    plan: saved.plan,
    faults: saved.faults,
  });
  return { seed: saved.seed, outDir, passed, verdicts, errors: saved.errors, stats: saved.stats };
}

/** The per-key linearizability list is long: keep only the keys that failed or were not decided. */
function slimVerdict(verdict: Verdict): Verdict {
  const keys = (verdict as Verdict & { keys?: { verdict: string }[] }).keys;
  if (!keys) return verdict;
  const { keys: _all, ...rest } = verdict as Verdict & { keys: unknown[] };
  void _all;
  return { ...rest, details: { ...rest.details, undecidedOrFailingKeys: keys.filter((k) => k.verdict !== 'linearizable') } };
}

function removeDataDirs(baseDir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(baseDir);
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(baseDir, entry);
    if (statSync(path).isDirectory()) rmSync(path, { recursive: true, force: true });
  }
}

/**
 * Polls until one leader is agreed by every node, every node sees every other,
 * and the owners of every key hold the same version; then waits for the
 * cluster to report itself in sync. Times are history times.
 */
async function awaitConvergence(
  cluster: LocalCluster,
  ids: string[],
  keys: string[],
  options: ChaosOptions,
  history: History,
  lastHealMs: number | null,
  quiesceMs: number,
): Promise<ConvergenceReport> {
  const from = Math.max(lastHealMs ?? 0, quiesceMs);
  const deadline = from + options.convergenceTimeoutMs;
  const report: ConvergenceReport = { boundMs: options.convergenceTimeoutMs, lastHealMs, quiesceMs, leaderAgreedMs: null, convergedMs: null, inSyncMs: null, snapshot: null, readMismatches: [] };
  const all = [...ids].sort().join(',');
  for (;;) {
    const beats = await cluster.heartbeats();
    const leaders = new Set(beats.map((beat) => beat.leader));
    const agreed =
      beats.length === ids.length && leaders.size === 1 && !leaders.has(null) && beats.every((beat) => beat.nodes.map((n) => n.id).sort().join(',') === all);
    if (agreed && report.leaderAgreedMs === null) report.leaderAgreedMs = history.now();
    if (!agreed) report.leaderAgreedMs = null;
    report.snapshot = await snapshotReplicas(ids, keys, options.replicationFactor, cluster.secret);
    if (agreed && report.snapshot.unreachable.length === 0 && report.snapshot.disagreements.length === 0) {
      report.convergedMs = history.now();
      break;
    }
    if (history.now() > deadline) break;
    await sleep(250);
  }
  // The store's own view: does the leader report every node in sync? (Reported, not part of the verdict.)
  try {
    await cluster.waitForInSync(Math.max(5000, deadline - history.now()));
    report.inSyncMs = history.now();
  } catch {
    report.inSyncMs = null;
  }
  return report;
}

function convergenceVerdict(report: ConvergenceReport | null, ops: readonly Op[]): Verdict {
  const base = { id: 'convergence' as const, title: '3. Convergence of replicas', hard: true };
  if (!report) {
    return { ...base, status: 'unknown', summary: 'the run stopped before the convergence check', counts: {}, violations: [], anomalies: [] };
  }
  const seconds = (ms: number | null) => (ms === null ? 'never' : `${(ms / 1000).toFixed(1)} s`);
  const since = (t: number | null, from: number | null) => (t === null || from === null ? null : t - from);
  const snapshot = report.snapshot;
  const finalOf = new Map(ops.filter((op) => op.process === FINAL_PROCESS && op.outcome === 'ok').map((op) => [op.key, op]));
  const violations = [
    ...(snapshot?.disagreements ?? []).map((d) => ({
      key: d.key,
      message: `owners disagree ${seconds(report.boundMs)} after the last heal: ${Object.entries(d.copies)
        .map(([node, copy]) => `${node}=${copy === 'unreachable' ? 'unreachable' : copy === null ? 'nothing' : `${copy.version.join('.')}:${copy.value ?? 'tombstone'}`}`)
        .join('; ')}`,
      ops: finalOf.has(d.key) ? [finalOf.get(d.key)!] : [],
    })),
    ...report.readMismatches.map((m) => ({
      key: m.key,
      message: `the final read returned ${m.read ?? 'not found'} but the owners agree on ${m.replicas ?? 'absent'}`,
      ops: finalOf.has(m.key) ? [finalOf.get(m.key)!] : [],
    })),
  ];
  if (snapshot && snapshot.unreachable.length > 0) {
    violations.push({ key: '*', message: `nodes did not answer replica reads: ${snapshot.unreachable.join(', ')}`, ops: [] });
  }
  if (report.convergedMs === null && report.leaderAgreedMs === null) {
    violations.push({ key: '*', message: `the nodes did not agree on one leader and the full membership within ${seconds(report.boundMs)}`, ops: [] });
  }
  const afterHeal = since(report.convergedMs, report.lastHealMs);
  const afterQuiesce = since(report.convergedMs, report.quiesceMs);
  const keys = snapshot ? snapshot.agreed.size + snapshot.disagreements.length : 0;
  return {
    ...base,
    status: violations.length === 0 && report.convergedMs !== null ? 'pass' : 'fail',
    summary:
      report.convergedMs !== null
        ? `one leader, and the owners of all ${keys} keys agree, ${seconds(afterHeal ?? afterQuiesce)} after the last fault healed ` +
          `(${seconds(afterQuiesce)} after the workload stopped; bound ${seconds(report.boundMs)})` +
          (report.inSyncMs === null ? '; but the leader never reported the cluster in sync' : '') +
          (report.readMismatches.length ? `; ${report.readMismatches.length} final read(s) disagree with the replicas` : '')
        : `not converged within ${seconds(report.boundMs)}: ${snapshot?.disagreements.length ?? '?'} key(s) still disagree`,
    counts: { keys, disagreeing: snapshot?.disagreements.length ?? 0, readMismatches: report.readMismatches.length },
    violations,
    anomalies: [],
    details: {
      boundMs: report.boundMs,
      lastHealMs: report.lastHealMs,
      workloadStoppedMs: report.quiesceMs,
      leaderAgreedMs: report.leaderAgreedMs,
      convergedMs: report.convergedMs,
      convergedAfterLastHealMs: afterHeal,
      convergedAfterWorkloadStopMs: afterQuiesce,
      clusterReportedInSyncMs: report.inSyncMs,
    },
  };
}
