// One simulated run from one seed: a cluster of N nodes running the real
// membership and replication code, clients, and a nemesis that crashes and
// restarts nodes and partitions the network; then every fault is healed,
// gossip and repair are given time, and the invariants are checked. Every
// choice comes from the seed, and time is virtual, so a seed replays the same
// run (the fingerprint proves it).
import { createHash } from 'node:crypto';
import type { NodeId, ReplicaRecord } from '../src/protocol/schemas.js';
import { owners } from '../src/placement/rendezvous.js';
import { compareVersions } from '../src/replication/version.js';
import { pick, randomInt, shuffled, substream, uniform, type Rng } from '../src/common/random.js';
import { Scheduler } from './scheduler.js';
import { SimCluster, type ClusterOptions } from './cluster.js';
import type { RepairTotals } from '../src/replication/repair.js';
import { RETRY_PAUSE_MS, runClients, type Op, type WorkloadOptions } from './workload.js';

export interface RunResult {
  seed: number;
  ok: boolean;
  violations: string[];
  /** Reads that found a version older than a write acknowledged before they started: allowed in the gossip mode, counted. */
  staleReads: number;
  /** A hash of the history and of every node's final data: equal for equal runs. */
  fingerprint: string;
  stats: {
    nodes: number;
    replicationFactor: number;
    ops: number;
    acknowledged: number;
    unknown: number;
    failed: number;
    crashes: number;
    partitions: number;
    messages: number;
    lost: number;
    events: number;
    virtualMs: number;
    repair: RepairTotals;
  };
}

/** How long after the heal repair has to make every key's owners agree. */
const CONVERGENCE_LIMIT_MS = 120_000;

/** The one-line command that replays a seed. */
export function replayCommand(seed: number): string {
  return `npm run sim -- --seed ${seed}`;
}

export function scenario(seed: number): { cluster: ClusterOptions; workload: WorkloadOptions } {
  const rng = substream(seed, 'scenario');
  const nodes = randomInt(rng, 3, 6);
  const maxDelayMs = pick(rng, [5, 20, 80]);
  const heartbeatIntervalMs = pick(rng, [250, 500, 1000]);
  return {
    cluster: {
      nodes,
      replicationFactor: randomInt(rng, 2, 3),
      network: { minDelayMs: 0.2, maxDelayMs, dropRate: pick(rng, [0, 0.01, 0.05, 0.15]), timeoutMs: 1000 },
      heartbeatIntervalMs,
      // Three heartbeats (a node's default is ten): failovers happen within the 8 s of faults, and clients wait less for them.
      failureTimeoutMs: 3 * heartbeatIntervalMs,
      fsyncMs: pick(rng, [0.5, 5]),
      clockSkewMs: pick(rng, [0, 50, 1000]),
      antiEntropyIntervalMs: 2000,
    },
    workload: { clients: randomInt(rng, 2, 4), keys: randomInt(rng, 3, 8), durationMs: 8000, maxThinkMs: 150, timeoutMs: 2500, attempts: 3 },
  };
}

export async function runSeed(seed: number): Promise<RunResult> {
  const { cluster: clusterOptions, workload } = scenario(seed);
  const scheduler = new Scheduler(1_750_000_000_000);
  const cluster = new SimCluster(scheduler, substream(seed, 'cluster'), clusterOptions);
  let partitions = 0;
  const clients = runClients(scheduler, cluster, (label) => substream(seed, label), workload);
  const nemesis = runNemesis(scheduler, cluster, substream(seed, 'nemesis'), workload.durationMs, () => partitions++);
  const lastAnswer = workload.durationMs + workload.maxThinkMs + workload.attempts * (workload.timeoutMs + RETRY_PAUSE_MS);
  await scheduler.runUntil(lastAnswer);
  const [history] = await Promise.all([clients, nemesis]);

  cluster.endFaults();
  const healed = scheduler.elapsed();
  while (!converged(cluster) && scheduler.elapsed() - healed < CONVERGENCE_LIMIT_MS) await scheduler.runUntil(scheduler.elapsed() + 500);

  const violations = [...cluster.violations, ...membershipProblems(cluster), ...convergenceProblems(cluster), ...historyProblems(cluster, history)];
  const count = (status: Op['status']) => history.filter((op) => op.status === status).length;
  return {
    seed,
    ok: violations.length === 0,
    violations,
    staleReads: staleReads(history),
    fingerprint: fingerprint(cluster, history),
    stats: {
      nodes: clusterOptions.nodes,
      replicationFactor: clusterOptions.replicationFactor,
      ops: history.length,
      acknowledged: count('ok'),
      unknown: count('info'),
      failed: count('fail'),
      crashes: cluster.nodes.reduce((sum, node) => sum + node.crashes, 0),
      partitions,
      messages: cluster.network.counts.messages,
      lost: cluster.network.counts.lost,
      events: scheduler.steps,
      virtualMs: Math.round(scheduler.elapsed()),
      repair: cluster.repairTotals(),
    },
  };
}

/**
 * Crashes, restarts, partitions and heals at random moments while the clients
 * run. Some crashes wait for the node's next new term, to strike while it is
 * written.
 */
async function runNemesis(scheduler: Scheduler, cluster: SimCluster, rng: Rng, durationMs: number, partitioned: () => void): Promise<void> {
  for (;;) {
    await scheduler.sleep(uniform(rng, 200, 2500));
    if (scheduler.elapsed() >= durationMs) return;
    const up = cluster.up();
    const down = cluster.nodes.filter((node) => !node.process);
    const roll = rng();
    if (roll < 0.25 && up.length > 1) cluster.crash(pick(rng, up).id);
    else if (roll < 0.35) cluster.crashWhileWritingTerm(pick(rng, cluster.ids));
    else if (roll < 0.6 && down.length > 0) cluster.restart(pick(rng, down).id);
    else if (roll < 0.8 && !cluster.network.partitioned()) {
      const order = shuffled(rng, cluster.ids);
      const cut = randomInt(rng, 1, order.length - 1);
      cluster.partition([order.slice(0, cut), order.slice(cut)]);
      partitioned();
    } else cluster.heal();
  }
}

function allKeys(cluster: SimCluster): string[] {
  return [...new Set(cluster.nodes.flatMap((node) => node.store.all().map((record) => record.key)))].sort();
}

/** Each key on exactly its owners, in one version, and no hint left. */
function convergenceProblems(cluster: SimCluster): string[] {
  const problems: string[] = [];
  const rf = cluster.options.replicationFactor;
  for (const node of cluster.nodes) if (node.store.hintCount() > 0) problems.push(`${node.id} still holds ${node.store.hintCount()} hint(s) after the heal`);
  for (const key of allKeys(cluster)) {
    const own = owners(key, cluster.ids, rf);
    const copies = cluster.nodes.map((node) => ({ node: node.id, record: node.store.record(key) }));
    const versions = new Set(copies.filter((copy) => own.includes(copy.node)).map((copy) => (copy.record ? copy.record.version.join('.') : 'none')));
    if (versions.size > 1) problems.push(`${key}: its owners disagree after the heal (${[...versions].join(' / ')})`);
    const strays = copies.filter((copy) => copy.record && !own.includes(copy.node)).map((copy) => copy.node);
    if (strays.length > 0) problems.push(`${key}: non-owners still hold a copy after the heal (${strays.join(', ')})`);
  }
  return problems;
}

/**
 * Once healed, gossip agrees: every node up, seeing every node alive, and
 * following one leader in one term. (During faults the gossip mode promises
 * none of this: each side of a partition elects its own leader, possibly in
 * the same term as the other side's.)
 */
function membershipProblems(cluster: SimCluster): string[] {
  const everyone = [...cluster.ids].sort().join(' ');
  const views = cluster.nodes.map((node) => {
    const membership = cluster.listening(node.id)?.membership;
    if (!membership) return { node: node.id, text: 'is down', agrees: false };
    const { leader, term } = membership.status();
    const alive = [...membership.aliveIds()].sort().join(' ');
    return { node: node.id, text: `follows ${leader} in term ${term} and sees ${alive}`, agrees: leader !== null && alive === everyone };
  });
  if (views.every((view) => view.agrees && view.text === views[0]!.text)) return [];
  return [`membership did not converge after the heal: ${views.map((view) => `${view.node} ${view.text}`).join('; ')}`];
}

function converged(cluster: SimCluster): boolean {
  return membershipProblems(cluster).length === 0 && convergenceProblems(cluster).length === 0;
}

/** The copy the key's owners agree on after the heal (the newest of theirs if they do not). */
function finalCopy(cluster: SimCluster, key: string): ReplicaRecord | null {
  let best: ReplicaRecord | null = null;
  for (const owner of owners(key, cluster.ids, cluster.options.replicationFactor)) {
    const record = cluster.node(owner as NodeId).store.record(key);
    if (record && (!best || compareVersions(record.version, best.version) > 0)) best = record;
  }
  return best;
}

/**
 * No acknowledged write lost (the final copy is that write or a newer one),
 * hence nothing deleted comes back, and no document appears that no client wrote.
 */
function historyProblems(cluster: SimCluster, history: readonly Op[]): string[] {
  const problems: string[] = [];
  const keys = new Set([...history.map((op) => op.key), ...allKeys(cluster)]);
  for (const key of keys) {
    const final = finalCopy(cluster, key);
    const ops = history.filter((op) => op.key === key);
    for (const op of ops) {
      if (op.f === 'get' || op.status !== 'ok' || !op.version) continue;
      if (!final || compareVersions(final.version, op.version) < 0) {
        problems.push(
          `${key}: acknowledged ${op.f.toUpperCase()} #${op.id} (${op.version.join('.')}, ${op.result}) is lost; the owners hold ${final ? `${final.version.join('.')} ${final.value ?? '(deleted)'}` : 'nothing'}`,
        );
      }
    }
    const sameVersion = final && ops.find((op) => op.f !== 'get' && op.status === 'ok' && op.version && compareVersions(op.version, final.version) === 0);
    if (final && sameVersion && sameVersion.value !== final.value) {
      problems.push(`${key}: holds ${final.value ?? '(deleted)'} under the version acknowledged for #${sameVersion.id}, which wrote ${sameVersion.value ?? '(delete)'}`);
    }
    for (const read of ops) {
      if (read.f !== 'get' || read.result !== 'found') continue;
      const writer = ops.find((op) => op.f === 'set' && op.value === read.value);
      if (!writer) problems.push(`${key}: GET #${read.id} read ${read.value}, which no client wrote`);
      else if (writer.status === 'ok' && writer.attempts === 1 && writer.version && compareVersions(writer.version, read.version!) !== 0) {
        problems.push(`${key}: GET #${read.id} read ${read.value} as ${read.version!.join('.')}, but it was written as ${writer.version.join('.')}`);
      }
    }
    if (final && final.value !== null && !ops.some((op) => op.f === 'set' && op.value === final.value)) {
      problems.push(`${key}: holds ${final.value}, which no client wrote`);
    }
    if (final && final.value === null && !ops.some((op) => op.f === 'delete')) problems.push(`${key}: holds a tombstone, but no client deleted it`);
  }
  return problems;
}

function staleReads(history: readonly Op[]): number {
  return history.filter((read) => {
    if (read.f !== 'get' || read.status !== 'ok') return false;
    return history.some(
      (write) =>
        write.f !== 'get' &&
        write.key === read.key &&
        write.status === 'ok' &&
        write.version &&
        write.complete < read.invoke &&
        read.version !== null &&
        compareVersions(read.version, write.version) < 0,
    );
  }).length;
}

function fingerprint(cluster: SimCluster, history: readonly Op[]): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(history));
  for (const node of cluster.nodes) hash.update(JSON.stringify(node.store.all()));
  return hash.digest('hex').slice(0, 16);
}
