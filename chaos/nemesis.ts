// The nemesis: a schedule of faults, planned up front from the seed, run
// one after another during the fault window, each recorded in the history
// (start and end) and always healed: a killed node is restarted from its
// data dir, a paused one continued, a partition's rules removed.
import { setTimeout as sleep } from 'node:timers/promises';
import type { LocalCluster } from '../src/local-cluster/local-cluster.js';
import type { EtcdCluster } from '../src/local-cluster/etcd-cluster.js';
import type { Firewall } from './firewall.js';
import type { NodeGroups } from './cgroups.js';
import type { FaultKind, History } from './history.js';
import { type Rng, pick, shuffled, substream, uniform } from '../src/common/random.js';

/** How long faults last, how far apart they are, and how many there may be. */
export interface FaultSchedule {
  faults: FaultKind[];
  faultMinMs: number;
  faultMaxMs: number;
  gapMinMs: number;
  gapMaxMs: number;
  maxFaults: number;
  maxPartitions: number;
  replicationFactor: number;
  seed: number;
}

export interface NemesisOptions extends FaultSchedule {
  /** History time (ms) before which no fault starts. */
  startMs: number;
  /** History time (ms) by which every fault must be healed. */
  endMs: number;
}

export interface PlannedFault {
  fault: number;
  kind: FaultKind;
  /** Planned start (history time, ms); the actual start may be later if the previous fault took longer to heal. */
  at: number;
  durationMs: number;
  /** Random numbers for choosing targets at run time (drawn up front so later faults do not depend on earlier targets). */
  draws: number[];
}

/** The fault schedule: kinds, times and durations, all from the seed. */
export function planFaults(options: NemesisOptions): PlannedFault[] {
  const rng = substream(options.seed, 'nemesis-plan');
  const plan: PlannedFault[] = [];
  if (options.faults.length === 0) return plan;
  let t = options.startMs;
  let partitions = 0;
  while (plan.length < options.maxFaults) {
    const allowed = options.faults.filter((kind) => kind !== 'partition' || partitions < options.maxPartitions);
    if (allowed.length === 0) break;
    const kind = pick(rng, allowed);
    let durationMs = Math.round(uniform(rng, options.faultMinMs, options.faultMaxMs));
    const draws = [rng(), rng(), rng(), rng()];
    const gap = Math.round(uniform(rng, options.gapMinMs, options.gapMaxMs));
    if (t + durationMs > options.endMs) durationMs = options.endMs - t;
    if (durationMs < Math.min(1000, options.faultMinMs)) break;
    if (kind === 'partition') partitions++;
    plan.push({ fault: plan.length, kind, at: t, durationMs, draws });
    t += durationMs + gap;
  }
  // Every requested kind at least once when there is room: replace a fault of the most frequent kind.
  for (const kind of options.faults) {
    if (plan.length < options.faults.length || plan.some((f) => f.kind === kind)) continue;
    if (kind === 'partition' && options.maxPartitions < 1) continue;
    const counts = new Map<FaultKind, number>();
    for (const f of plan) counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1);
    const [common] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]!;
    const victims = plan.filter((f) => f.kind === common);
    victims[Math.floor(rng() * victims.length)]!.kind = kind;
  }
  return plan;
}

export interface FaultRecord {
  fault: number;
  kind: FaultKind;
  nodes: string[];
  groups?: string[][];
  start: number;
  end: number | null;
  /** Partitions: packets the cut dropped. */
  dropped?: number;
  error?: string;
}

export class Nemesis {
  readonly plan: PlannedFault[];
  readonly done: FaultRecord[] = [];
  readonly errors: string[] = [];
  private readonly paused = new Set<string>();
  private readonly killed = new Set<string>();
  private readonly pausedMembers = new Set<number>();
  private readonly stopped = new AbortController();

  constructor(
    private readonly cluster: LocalCluster,
    private readonly firewall: Firewall | null,
    private readonly etcd: EtcdCluster | null,
    /** The nodes' cgroups, which let a partition cut them from etcd; null where that cannot be done. */
    private readonly groups: NodeGroups | null,
    private readonly history: History,
    private readonly options: NemesisOptions,
  ) {
    this.plan = planFaults(options);
  }

  /** Time of the end of the last fault, or null if none ran. */
  lastHealed(): number | null {
    const ends = this.done.map((f) => f.end).filter((end): end is number => end !== null);
    return ends.length ? Math.max(...ends) : null;
  }

  abort(): void {
    this.stopped.abort();
  }

  async run(): Promise<void> {
    for (const planned of this.plan) {
      if (this.stopped.signal.aborted) return;
      const wait = planned.at - this.history.now();
      if (wait > 0 && !(await this.pause(wait))) return;
      // Bounded: a fault that can no longer end within the window is skipped.
      const durationMs = Math.min(planned.durationMs, this.options.endMs - this.history.now());
      if (durationMs < 500) continue;
      await this.runFault(planned, durationMs);
    }
  }

  /** Heals whatever is still broken: restarts killed nodes, continues paused ones, removes every rule. */
  async healAll(): Promise<void> {
    for (const id of this.paused) this.cluster.get(id).signal('SIGCONT');
    this.paused.clear();
    for (const member of this.pausedMembers) this.etcd?.resume(member);
    this.pausedMembers.clear();
    await this.firewall?.healAll();
    for (const node of this.cluster.nodes.values()) {
      if (!node.running) {
        try {
          await this.cluster.restart(node.id);
        } catch (error) {
          this.errors.push(`restart of ${node.id} during the final heal failed: ${(error as Error).message}`);
        }
      }
    }
    this.killed.clear();
  }

  private async pause(ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.stopped.signal });
      return true;
    } catch {
      return false;
    }
  }

  private async leader(): Promise<string | null> {
    const agreed = await this.cluster.agreedLeader();
    if (agreed) return agreed;
    const beats = await this.cluster.heartbeats();
    const claims = beats.filter((beat) => beat.leader !== null).map((beat) => beat.leader!);
    return claims[0] ?? null;
  }

  /** `count` targets among `ids`; with probability 1/2 the leader is one of them. */
  private targets(ids: readonly string[], leader: string | null, count: number, draws: number[]): string[] {
    const rng: Rng = (() => {
      let i = 1;
      return () => draws[i++ % draws.length]!;
    })();
    const others = shuffled(rng, ids.filter((id) => id !== leader));
    const chosen = leader && ids.includes(leader) && draws[0]! < 0.5 ? [leader, ...others] : others;
    return chosen.slice(0, count).sort();
  }

  private async runFault(planned: PlannedFault, durationMs: number): Promise<void> {
    const ids = [...this.cluster.nodes.keys()];
    const leader = await this.leader();
    const rf = this.options.replicationFactor;
    const record: FaultRecord = { fault: planned.fault, kind: planned.kind, nodes: [], start: 0, end: null };
    const log = (phase: 'start' | 'end' | 'error', detail?: string) =>
      this.history.record({
        type: 'nemesis',
        fault: planned.fault,
        phase,
        kind: planned.kind,
        nodes: record.nodes,
        ...(record.groups ? { groups: record.groups } : {}),
        time: this.history.now(),
        ...(detail === undefined ? {} : { detail }),
      });
    try {
      if (planned.kind === 'kill' || planned.kind === 'pause') {
        // Up to RF-1 nodes at once (two on RF 3 about one time in four): never every copy of a key.
        const most = Math.max(1, Math.min(rf - 1, ids.length - 1));
        const count = most >= 2 && planned.draws[3]! < 0.25 ? 2 : 1;
        record.nodes = this.targets(ids, leader, count, planned.draws);
        const detail = `${planned.kind === 'kill' ? 'SIGKILL' : 'SIGSTOP'} ${record.nodes.join(', ')}${record.nodes.includes(leader ?? '') ? ' (the leader)' : ''} for ${(durationMs / 1000).toFixed(1)} s`;
        record.start = log('start', detail).time;
        this.done.push(record);
        if (planned.kind === 'kill') {
          for (const id of record.nodes) this.killed.add(id);
          await Promise.all(record.nodes.map((id) => this.cluster.get(id).stop('SIGKILL')));
        } else {
          for (const id of record.nodes) {
            this.paused.add(id);
            this.cluster.get(id).signal('SIGSTOP');
          }
        }
        await this.pause(durationMs);
        if (planned.kind === 'kill') {
          await Promise.all(record.nodes.map((id) => this.cluster.restart(id)));
          for (const id of record.nodes) this.killed.delete(id);
          record.end = log('end', `restarted ${record.nodes.join(', ')} from their data dirs`).time;
        } else {
          for (const id of record.nodes) {
            this.cluster.get(id).signal('SIGCONT');
            this.paused.delete(id);
          }
          record.end = log('end', `SIGCONT ${record.nodes.join(', ')}`).time;
        }
      } else if (planned.kind === 'etcd') {
        if (!this.etcd) throw new Error('etcd fault without etcd');
        // One member of three: etcd keeps its quorum and the store must not notice. Two: no
        // quorum, so writes must fail with a clear error and come back after.
        const count = planned.draws[3]! < 0.5 ? 1 : 2;
        const members = shuffled(substream(Math.floor(planned.draws[1]! * 2 ** 31), 'etcd-members'), [0, 1, 2]).slice(0, count).sort();
        record.nodes = members.map((i) => this.etcd!.members[i]!.name);
        record.start = log('start', `SIGSTOP etcd ${record.nodes.join(', ')} for ${(durationMs / 1000).toFixed(1)} s${count === 2 ? ' (no quorum)' : ''}`).time;
        this.done.push(record);
        for (const member of members) {
          this.pausedMembers.add(member);
          this.etcd.pause(member);
        }
        await this.pause(durationMs);
        for (const member of members) {
          this.etcd.resume(member);
          this.pausedMembers.delete(member);
        }
        record.end = log('end', `SIGCONT etcd ${record.nodes.join(', ')}`).time;
      } else {
        if (!this.firewall) throw new Error('partition fault without a firewall');
        const size = 1 + Math.floor(planned.draws[3]! * Math.floor(ids.length / 2));
        const minority = this.targets(ids, leader, size, planned.draws);
        const majority = ids.filter((id) => !minority.includes(id));
        // In the consistent mode a cut also reaches etcd: from the other nodes, from etcd, or from both.
        const cut = this.etcd && this.groups ? (['nodes', 'etcd', 'both'] as const)[Math.floor(planned.draws[1]! * 3)]! : 'nodes';
        const fromNodes = cut !== 'etcd';
        const fromEtcd = cut !== 'nodes';
        record.nodes = minority;
        record.groups = [minority, [...(fromNodes ? majority : []), ...(fromEtcd ? ['etcd'] : [])]];
        const host = (id: string) => id.slice(0, id.lastIndexOf(':'));
        const others = [...(fromNodes ? [`{${majority.join(', ')}}`] : []), ...(fromEtcd ? ['etcd'] : [])].join(' and from ');
        const detail = `cut {${minority.join(', ')}} from ${others}; leader ${leader ?? 'unknown'} on the ${minority.includes(leader ?? '') ? 'minority' : 'majority'} side, for ${(durationMs / 1000).toFixed(1)} s`;
        record.start = log('start', detail).time;
        this.done.push(record);
        const droppedBefore = await this.firewall.droppedPackets();
        if (fromNodes) await this.firewall.partition(minority.map(host), majority.map(host));
        if (fromEtcd) await this.firewall.cutGroups(minority.map((id) => this.groups!.path(id)), this.etcd!.members.map((member) => member.host));
        await this.pause(durationMs);
        const dropped = (await this.firewall.droppedPackets()) - droppedBefore;
        await this.firewall.healAll();
        record.dropped = dropped;
        record.end = log('end', `all links restored; ${dropped} packets dropped`).time;
        // Gossip, and etcd keepalives, flow every heartbeat: a cut across them that dropped nothing did not
        // cut anything. Nodes in the consistent mode do not gossip: with no leader serving (etcd without
        // quorum) nothing may cross between them, and an empty count proves nothing.
        if (dropped === 0 && (!this.etcd || fromEtcd)) {
          throw new Error(
            'the partition dropped no packet: node-to-node traffic does not come from the nodes\' own addresses, so no cut took place',
          );
        }
      }
    } catch (error) {
      const message = `${planned.kind} fault ${planned.fault} failed: ${(error as Error).message}`;
      this.errors.push(message);
      record.error = message;
      log('error', message);
      await this.healAll();
      record.end ??= this.history.now();
    }
  }
}
