#!/usr/bin/env node
// `npm run chaos -- [options]`: one chaos run against a local cluster of real
// node processes; prints the verdicts and exits 0 when verdicts 1-3 pass.
import { Command, Option } from 'commander';
import { checked, durationOption, wholeNumber } from '../src/common/args.js';
import type { FaultKind } from './history.js';
import { DEFAULT_ETCD_BIN } from '../src/local-cluster/etcd-cluster.js';
import { DEFAULT_OPTIONS, type ChaosOptions, type ChaosResult, recheck, runChaos } from './run.js';

const FAULTS: FaultKind[] = ['kill', 'pause', 'partition', 'etcd'];

function parseFaults(text: string): FaultKind[] {
  if (text === 'none' || text === '') return [];
  const kinds = text.split(',').map((s) => s.trim());
  for (const kind of kinds) if (!FAULTS.includes(kind as FaultKind)) throw new Error(`unknown fault "${kind}" (use ${FAULTS.join(', ')} or none)`);
  return [...new Set(kinds)] as FaultKind[];
}

function parseMix(text: string): ChaosOptions['mix'] {
  const mix = { get: 0, set: 0, delete: 0 };
  for (const part of text.split(',')) {
    const [name, weight] = part.split('=');
    if (!name || !(name in mix) || weight === undefined || !(Number(weight) >= 0)) throw new Error(`"${part}" is not get=W, set=W or delete=W`);
    mix[name as keyof typeof mix] = Number(weight);
  }
  if (mix.get + mix.set + mix.delete <= 0) throw new Error('the mix needs a positive weight');
  return mix;
}

const program = new Command('chaos')
  .description('Run a Warehouse 13 cluster under a concurrent workload while a nemesis injects faults, then check the history.')
  .addOption(new Option('--nodes <n>', 'node processes').default(DEFAULT_OPTIONS.nodes).argParser(wholeNumber(1)))
  .addOption(new Option('--replication-factor <n>', 'copies of every key').default(DEFAULT_OPTIONS.replicationFactor).argParser(wholeNumber(1)))
  .addOption(new Option('--clients <n>', 'concurrent clients, each with its own connection').default(DEFAULT_OPTIONS.clients).argParser(wholeNumber(1)))
  .addOption(durationOption('--duration <duration>', 'how long the workload runs', DEFAULT_OPTIONS.durationMs))
  .addOption(new Option('--keys <n>', 'live keys at any time (contended by all clients)').default(DEFAULT_OPTIONS.keys).argParser(wholeNumber(1)))
  .addOption(new Option('--ops-per-key <n>', 'ops after which a key is retired for a fresh one (0: never)').default(DEFAULT_OPTIONS.opsPerKey).argParser(wholeNumber(0)))
  .addOption(new Option('--faults <list>', 'comma-separated: kill, pause, partition, etcd (pauses etcd members; with --coordinator etcd) or none').default(DEFAULT_OPTIONS.faults, DEFAULT_OPTIONS.faults.join(',')).argParser(checked(parseFaults)))
  .addOption(new Option('--seed <n>', 'seed of every random choice (default: random)').argParser(wholeNumber(0)))
  .addOption(new Option('--out <dir>', 'results folder; each run gets <out>/<timestamp>-<seed>/').default(DEFAULT_OPTIONS.out))
  .addOption(durationOption('--warmup <duration>', 'no fault before this', DEFAULT_OPTIONS.warmupMs))
  .addOption(durationOption('--cooldown <duration>', 'no fault during the last part of the workload', DEFAULT_OPTIONS.cooldownMs))
  .addOption(durationOption('--fault-min <duration>', 'shortest fault', DEFAULT_OPTIONS.faultMinMs))
  .addOption(durationOption('--fault-max <duration>', 'longest fault', DEFAULT_OPTIONS.faultMaxMs))
  .addOption(durationOption('--gap-min <duration>', 'shortest quiet time between faults', DEFAULT_OPTIONS.gapMinMs))
  .addOption(durationOption('--gap-max <duration>', 'longest quiet time between faults', DEFAULT_OPTIONS.gapMaxMs))
  .addOption(new Option('--max-faults <n>', 'at most this many faults').argParser(wholeNumber(0)))
  .addOption(new Option('--max-partitions <n>', 'at most this many partitions').argParser(wholeNumber(0)))
  .addOption(new Option('--mix <weights>', 'op mix').default(DEFAULT_OPTIONS.mix, 'get=0.45,set=0.45,delete=0.1').argParser(checked(parseMix)))
  .addOption(durationOption('--think <duration>', 'mean pause between two ops of one client', DEFAULT_OPTIONS.thinkMs))
  .addOption(new Option('--reconnect-every <n>', 'a client reconnects (fresh leader discovery) after about n ops; 0: never').default(DEFAULT_OPTIONS.reconnectEvery).argParser(wholeNumber(0)))
  .addOption(durationOption('--heartbeat-interval <duration>', 'nodes: --heartbeat-interval', DEFAULT_OPTIONS.heartbeatIntervalMs))
  .addOption(durationOption('--failure-timeout <duration>', 'nodes: --failure-timeout', DEFAULT_OPTIONS.failureTimeoutMs))
  .addOption(durationOption('--anti-entropy-interval <duration>', 'nodes: --anti-entropy-interval', DEFAULT_OPTIONS.antiEntropyIntervalMs))
  .addOption(durationOption('--node-request-timeout <duration>', 'nodes: --request-timeout', DEFAULT_OPTIONS.nodeRequestTimeoutMs))
  .addOption(durationOption('--client-request-timeout <duration>', 'clients: limit of one HTTP request', DEFAULT_OPTIONS.clientRequestTimeoutMs))
  .addOption(durationOption('--client-failover-timeout <duration>', 'clients: how long an op retries through a failover', DEFAULT_OPTIONS.clientFailoverTimeoutMs))
  .addOption(durationOption('--convergence-timeout <duration>', 'verdict 3: replicas must agree within this after the last heal', DEFAULT_OPTIONS.convergenceTimeoutMs))
  .addOption(durationOption('--partition-settle <duration>', 'anomalies this long after a partition healed are still attributed to it', DEFAULT_OPTIONS.partitionSettleMs))
  .addOption(new Option('--strict', 'consensus mode: partition anomalies and non-linearizable keys fail the run (always on with --coordinator etcd)').default(false))
  .addOption(new Option('--coordinator <mode>', 'gossip, or etcd: the consistent mode on 3 local etcd members, each on its own loopback address').choices(['gossip', 'etcd']).default('gossip'))
  .addOption(new Option('--etcd-bin <path>', 'the etcd executable for --coordinator etcd').default(DEFAULT_ETCD_BIN))
  .addOption(new Option('--host-prefix <a.b.c>', 'nodes listen on <a.b.c>.2, .3, ... (default: a 127.x.y block unique to this process)'))
  .addOption(new Option('--port <port>', 'port of every node (default: a free one)').argParser(wholeNumber(1)))
  .addOption(new Option('--keep-data', 'keep the nodes\' data dirs in the results folder').default(false))
  .addOption(new Option('--log-level <level>', 'nodes: --log-level').default(DEFAULT_OPTIONS.logLevel))
  .addOption(new Option('--recheck <dir>', 'no run: check the history in a results folder again and rewrite its verdicts and report'))
  .allowExcessArguments(false);

/** What commander hands back: each flag's parsed value, or its default. */
interface ChaosFlags {
  nodes: number;
  replicationFactor: number;
  clients: number;
  duration: number;
  keys: number;
  opsPerKey: number;
  faults: FaultKind[];
  seed?: number;
  out: string;
  warmup: number;
  cooldown: number;
  faultMin: number;
  faultMax: number;
  gapMin: number;
  gapMax: number;
  maxFaults?: number;
  maxPartitions?: number;
  mix: ChaosOptions['mix'];
  think: number;
  reconnectEvery: number;
  heartbeatInterval: number;
  failureTimeout: number;
  antiEntropyInterval: number;
  nodeRequestTimeout: number;
  clientRequestTimeout: number;
  clientFailoverTimeout: number;
  convergenceTimeout: number;
  partitionSettle: number;
  strict: boolean;
  coordinator: 'gossip' | 'etcd';
  etcdBin: string;
  hostPrefix?: string;
  port?: number;
  keepData: boolean;
  logLevel: string;
  recheck?: string;
}

program.parse();
const o = program.opts<ChaosFlags>();
const seed: number = o.seed ?? Math.floor(Math.random() * 1_000_000);
const started = Date.now();
const stamp = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`;

const result: ChaosResult = o.recheck
  ? recheck(o.recheck)
  : await runChaos({
  nodes: o.nodes,
  replicationFactor: o.replicationFactor,
  clients: o.clients,
  durationMs: o.duration,
  keys: o.keys,
  opsPerKey: o.opsPerKey,
  faults: o.faults,
  seed,
  out: o.out,
  warmupMs: o.warmup,
  cooldownMs: o.cooldown,
  faultMinMs: o.faultMin,
  faultMaxMs: Math.max(o.faultMax, o.faultMin),
  gapMinMs: o.gapMin,
  gapMaxMs: Math.max(o.gapMax, o.gapMin),
  maxFaults: o.maxFaults ?? Infinity,
  maxPartitions: o.maxPartitions ?? Infinity,
  mix: o.mix,
  thinkMs: o.think,
  reconnectEvery: o.reconnectEvery,
  heartbeatIntervalMs: o.heartbeatInterval,
  failureTimeoutMs: o.failureTimeout,
  antiEntropyIntervalMs: o.antiEntropyInterval,
  nodeRequestTimeoutMs: o.nodeRequestTimeout,
  clientRequestTimeoutMs: o.clientRequestTimeout,
  clientFailoverTimeoutMs: o.clientFailoverTimeout,
  convergenceTimeoutMs: o.convergenceTimeout,
  partitionSettleMs: o.partitionSettle,
  strict: o.strict,
  coordinator: o.coordinator,
  etcdBin: o.etcdBin,
  ...(o.hostPrefix ? { hostPrefix: o.hostPrefix } : {}),
  ...(o.port ? { port: o.port } : {}),
  keepData: o.keepData,
  logLevel: o.logLevel,
  log: (line) => process.stderr.write(`${stamp()} ${line}\n`),
});

const { stats } = result;
console.log(`\nseed ${result.seed}: ${stats.ops} ops (ok ${stats.ok}, fail ${stats.fail}, info ${stats.info}) on ${stats.keys} keys, ${stats.faults} faults, ${(stats.elapsedMs / 1000).toFixed(0)} s`);
for (const verdict of result.verdicts) {
  console.log(`${verdict.status.toUpperCase().padEnd(9)} ${verdict.title}: ${verdict.summary}`);
  for (const v of verdict.violations.slice(0, 5)) console.log(`          - ${v.key}: ${v.message}`);
  if (verdict.violations.length > 5) console.log(`          … ${verdict.violations.length - 5} more in verdicts.json`);
}
for (const error of result.errors) console.log(`ERROR     ${error}`);
console.log(`${result.passed ? 'PASS' : 'FAIL'}: report in ${result.outDir}/index.html`);
process.exitCode = result.passed ? 0 : 1;
