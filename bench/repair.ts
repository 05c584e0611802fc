// `npm run bench:repair`: how long the cluster takes to restore the
// replication factor after losing a node, and what the repair costs the
// foreground. Loads N documents into 3 nodes (RF 2), measures a mixed
// 90 % GET / 10 % SET load, SIGKILLs a follower, and measures the same load
// from the moment the node is dropped until every node reports "in sync".
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { LocalCluster } from '../src/local-cluster/local-cluster.js';
import { durationOption, wholeNumber } from '../src/common/args.js';
import { closedLoop, type LoopResult } from './loop.js';
import { WarehouseTarget } from './store-target.js';
import { KeyPool, KeySequence, makeDocument } from './workload.js';
import { mulberry32 } from '../src/common/random.js';
import { machineInfo } from './machine.js';
import { allocatePorts } from '../src/local-cluster/ports.js';

interface RepairOptions {
  documents: number;
  concurrency: number;
  baselineMs: number;
  failureTimeoutMs: number;
  /** Every node's --repair-rate; null for the node's default. */
  repairRate: number | null;
}

function parseOptions(argv: string[]): RepairOptions {
  const whole = wholeNumber(1);
  const program = new Command('bench:repair')
    .addOption(new Option('--documents <n>', 'documents loaded before the node loss').default(100_000).argParser(whole))
    .addOption(new Option('--concurrency <n>', 'requests in flight').default(64).argParser(whole))
    .addOption(durationOption('--baseline <duration>', 'length of the no-repair measurement', 10_000))
    .addOption(durationOption('--failure-timeout <duration>', "the nodes' failure timeout", 10_000))
    .addOption(new Option('--repair-rate <records/s>', "the nodes' --repair-rate (default: the node's default; 0: no limit)").argParser(wholeNumber(0)))
    .parse(argv, { from: 'user' });
  const o = program.opts<{ documents: number; concurrency: number; baseline: number; failureTimeout: number; repairRate?: number }>();
  return { documents: o.documents, concurrency: o.concurrency, baselineMs: o.baseline, failureTimeoutMs: o.failureTimeout, repairRate: o.repairRate ?? null };
}

function latency(result: LoopResult): string {
  const ms = (percentile: number) => (result.histogram.percentile(percentile) / 1e6).toFixed(1);
  const rate = (result.ok / (result.elapsedMs / 1000)).toFixed(0);
  return `${rate} ops/s, p50 ${ms(50)} ms, p99 ${ms(99)} ms, ${result.errors} errors`;
}

const options = parseOptions(process.argv.slice(2));
const cluster = new LocalCluster({
  baseDir: mkdtempSync(join(tmpdir(), 'warehouse-repair-')),
  replicationFactor: 2,
  failureTimeoutMs: options.failureTimeoutMs,
  logLevel: 'warn',
  extraArgs: options.repairRate === null ? [] : ['--repair-rate', String(options.repairRate)],
});
try {
  const machine = machineInfo();
  console.log(`${machine.cpuModel}, ${machine.cores} cores, Node.js ${machine.node}; repair rate ${options.repairRate === null ? 'the default' : options.repairRate === 0 ? 'unlimited' : `${options.repairRate} records/s`}`);
  const [first] = await cluster.start(await allocatePorts(3));
  const leader = await cluster.waitForLeader();
  const target = await WarehouseTarget.connect(first!.id, options.concurrency, null);
  const keys = new KeySequence();
  const written = new KeyPool();
  let next = 0;
  const set = () => {
    const index = next++;
    const key = keys.key(index);
    return target.set(key, makeDocument(key, index, 200)).then((error) => {
      if (error === null) written.add(key);
      return error;
    });
  };
  const random = mulberry32(13);
  const mixed = () => (random() < 0.1 ? set() : target.get(written.pick(random)!));

  const load = await closedLoop(set, { concurrency: options.concurrency, durationMs: 0, requests: options.documents });
  console.log(`loaded ${written.size} documents: ${latency(load)}`);
  await cluster.waitForInSync(120_000);

  const baseline = await closedLoop(mixed, { concurrency: options.concurrency, durationMs: options.baselineMs, requests: null });
  console.log(`no repair running, mixed 90% GET / 10% SET: ${latency(baseline)}`);

  const victim = cluster.running().find((node) => node.id !== leader)!;
  const killedAt = Date.now();
  await victim.stop('SIGKILL');
  await cluster.waitFor(async () => !(await cluster.heartbeat(leader))?.nodes.some((node) => node.id === victim.id), {
    timeoutMs: options.failureTimeoutMs * 3,
    message: `${victim.id} to be dropped`,
  });
  const droppedAt = Date.now();
  const repaired = new AbortController();
  const watcher = cluster
    .waitFor(async () => (await cluster.heartbeat(leader))?.repair?.inSync === true, { timeoutMs: 30 * 60_000, intervalMs: 200, message: 'repair' })
    .then(() => repaired.abort());
  const during = await closedLoop(mixed, { concurrency: options.concurrency, durationMs: 30 * 60_000, requests: null, signal: repaired.signal });
  await watcher;
  const syncedAt = Date.now();
  console.log(`killed ${victim.id} (SIGKILL); dropped after ${((droppedAt - killedAt) / 1000).toFixed(1)} s (failure timeout ${options.failureTimeoutMs / 1000} s)`);
  console.log(`replication factor restored ${((syncedAt - droppedAt) / 1000).toFixed(1)} s after the drop, for ${written.size} documents`);
  console.log(`during the repair, mixed 90% GET / 10% SET: ${latency(during)}`);
  await target.close();
} finally {
  await cluster.stop();
}
