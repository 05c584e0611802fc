// N simulated nodes running the production replication code: each process is
// a Coordinator, a ReplicaBatcher, a RepairService and the replica endpoints
// over the node's MemoryStore, talking through the simulated network, on
// virtual time. Membership is modelled, not run: a node sees as alive the
// nodes it can reach, some (seeded) time after a change, as gossip would
// tell it, and follows the gossip mode's rules: leadership is sticky, a
// leaderless group elects the alive node that sorts first, in a term above
// every term it hears. So each side of a partition has its own leader (split
// brain), as in the real gossip mode.
// Crashes lose what was not durable.
import type { NodeId, ReplicaRecord, Version } from '../src/protocol/schemas.js';
import { MemoryStore, type MemoryStoreOptions } from '../src/storage/memory-store.js';
import { ReplicaBatcher } from '../src/replication/batcher.js';
import { Coordinator } from '../src/replication/coordinator.js';
import { RepairService, type RepairTotals } from '../src/replication/repair.js';
import { replicaEndpoints } from '../src/replication/endpoints.js';
import { HybridClock, compareVersions } from '../src/replication/version.js';
import { Fence } from '../src/coordination/fence.js';
import { createLogger } from '../src/common/logger.js';
import type { Timers } from '../src/common/timers.js';
import { randomInt, uniform, type Rng } from '../src/common/random.js';
import type { Scheduler } from './scheduler.js';
import { SimNetwork, type NetworkOptions, type Process } from './network.js';

export interface ClusterOptions {
  nodes: number;
  replicationFactor: number;
  network: NetworkOptions;
  /** Longest time a node takes to notice a change of who it can reach. */
  detectionMs: number;
  /** Longest simulated fsync. */
  fsyncMs: number;
  /** Largest skew of a node's wall clock (its versions' clocks). */
  clockSkewMs: number;
  antiEntropyIntervalMs: number;
  hintIntervalMs: number;
}

export interface NodeProcess extends Process {
  coordinator: Coordinator;
  repair: RepairService;
}

export interface SimNode {
  readonly id: NodeId;
  readonly store: MemoryStore;
  readonly skewMs: number;
  process: NodeProcess | null;
  /** Alive nodes as this node sees them. */
  view: NodeId[];
  /** The term this node knows (persisted: a restart keeps it). */
  term: number;
  /** The leader this node follows (itself when it leads). */
  leader: NodeId | null;
  crashes: number;
}

const logger = createLogger('sim', 'silent');

/** Reports every removal before it happens: the one way a copy may leave a disk. */
class CheckedStore extends MemoryStore {
  constructor(
    options: MemoryStoreOptions,
    private readonly removing: (entries: readonly { key: string; version: Version }[]) => void,
  ) {
    super(options);
  }

  override removeIfUnchanged(entries: readonly { key: string; version: Version }[]): Promise<number> {
    this.removing(entries);
    return super.removeIfUnchanged(entries);
  }
}

export class SimCluster {
  readonly nodes: SimNode[];
  readonly network: SimNetwork;
  readonly ids: NodeId[];
  /** Invariant violations noticed while the run goes on. */
  readonly violations: string[] = [];
  private topology = 0;
  private readonly repairs: RepairService[] = [];

  constructor(
    private readonly scheduler: Scheduler,
    private readonly rng: Rng,
    readonly options: ClusterOptions,
  ) {
    this.ids = Array.from({ length: options.nodes }, (_, i) => `10.0.0.${i + 1}:7000`);
    this.network = new SimNetwork(scheduler, rng, options.network, (node) => this.node(node).process);
    this.nodes = this.ids.map((id) => {
      const node: SimNode = {
        id,
        store: new CheckedStore({ now: () => scheduler.now(), durable: () => this.fsync(node) }, (entries) => this.checkRemoval(node, entries)),
        skewMs: randomInt(rng, -options.clockSkewMs, options.clockSkewMs),
        process: null,
        view: [...this.ids],
        term: 0,
        leader: null,
        crashes: 0,
      };
      return node;
    });
    for (const node of this.nodes) this.start(node);
    this.settleViews();
  }

  node(id: NodeId): SimNode {
    return this.nodes.find((node) => node.id === id)!;
  }

  up(): SimNode[] {
    return this.nodes.filter((node) => node.process);
  }

  crash(id: NodeId): void {
    const node = this.node(id);
    if (!node.process) return;
    node.process.alive = false;
    node.process = null;
    node.crashes++;
    node.store.crash(randomInt(this.rng, 0, node.store.volatileBatches()));
    this.changed();
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.process) return;
    this.start(node);
    this.changed();
  }

  partition(sides: NodeId[][]): void {
    this.network.partition(sides);
    this.changed();
  }

  heal(): void {
    this.network.heal();
    this.changed();
  }

  /** The process a client that contacted `via` is sent to: the leader `via` follows, if `via` reaches it. */
  leaderFor(via: NodeId): NodeProcess | null {
    const node = this.node(via);
    if (!node.process || !node.leader) return null;
    const leader = this.node(node.leader);
    return leader === node || this.reaches(node, leader) ? leader.process : null;
  }

  private reaches(a: SimNode, b: SimNode): boolean {
    return a.process !== null && b.process !== null && this.network.connected(a.id, b.id);
  }

  private start(node: SimNode): void {
    const process = { node: node.id, alive: true } as NodeProcess;
    const timers = this.timersOf(process);
    const peers = this.network.transport(process);
    const aliveNodes = () => node.view;
    process.repair = new RepairService(
      { self: node.id, replicationFactor: this.options.replicationFactor, aliveNodes, store: node.store, peers, logger, now: () => this.scheduler.now(), timers },
      {
        intervalMs: this.options.antiEntropyIntervalMs,
        hintIntervalMs: this.options.hintIntervalMs,
        // Tombstones stay for the whole run: outages here are far shorter than any grace period.
        tombstoneGraceMs: 365 * 24 * 3_600_000,
        batchSize: 50,
        // Unpaced: the simulated network is the only limit, and repair should be quick between faults.
        ratePerSecond: Infinity,
      },
    );
    this.repairs.push(process.repair);
    process.coordinator = new Coordinator(
      { self: node.id, replicationFactor: this.options.replicationFactor, term: () => Promise.resolve(node.term), aliveNodes },
      node.store,
      new ReplicaBatcher(peers),
      logger,
      null,
      new HybridClock(() => this.scheduler.now() + node.skewMs),
    );
    process.endpoints = replicaEndpoints({
      self: node.id,
      store: node.store,
      fence: new Fence(node.store),
      repair: process.repair,
      limits: () => ({ maxValueBytes: 1024 * 1024, term: node.term, now: this.scheduler.now() + node.skewMs }),
    });
    node.view = this.nodes.filter((other) => other === node || this.reaches(node, other)).map((other) => other.id);
    // A restarted node knows no leader until gossip names one.
    node.leader = null;
    node.process = process;
    process.repair.start();
  }

  /** The scheduler, for one process: nothing fires once it is dead. */
  private timersOf(process: Process): Timers {
    return {
      every: (ms, fn) => this.scheduler.every(ms, () => process.alive && fn()),
      after: (ms, fn) => this.scheduler.after(ms, () => process.alive && fn()),
    };
  }

  /** A process's fsync: resolves after a while, or never if the process dies first. */
  private fsync(node: SimNode): Promise<void> {
    const process = node.process;
    return new Promise((resolve) =>
      this.scheduler.after(uniform(this.rng, 0, this.options.fsyncMs), () => {
        if (process === null || process.alive) resolve();
      }),
    );
  }

  /** Who can reach whom changed: every node notices in its own time. */
  private changed(): void {
    const topology = ++this.topology;
    for (const node of this.nodes) {
      this.scheduler.after(uniform(this.rng, 0, this.options.detectionMs), () => {
        if (topology === this.topology) this.notice(node);
      });
    }
  }

  /**
   * What gossip tells `node` once it has noticed a change: who is alive, and
   * who leads in which term. Leadership is sticky: a node follows a leader it
   * reaches that claims to lead (the one that sorts first if a healed
   * partition shows two); only without one does it elect the alive node that
   * sorts first. A leader goes above every term it hears; the others take its
   * term once it has claimed it.
   */
  private notice(node: SimNode): void {
    if (!node.process) return;
    const members = this.nodes.filter((other) => other === node || this.reaches(node, other));
    const view = members.map((other) => other.id);
    const leader = members.find((member) => member.leader === member.id) ?? members[0]!;
    const highest = Math.max(...members.map((member) => member.term));
    if (leader === node) {
      if (node.leader !== node.id || highest > node.term) {
        node.leader = node.id;
        this.raiseTerm(node, highest + 1);
        // Its claim reaches the others with its next gossip.
        for (const member of members) {
          if (member !== node) this.scheduler.after(uniform(this.rng, 0, this.options.detectionMs / 4), () => this.notice(member));
        }
      }
    } else {
      node.leader = leader.id;
      // A claim below the term this node knows is not adopted: the leader goes above it once it hears of it.
      if (leader.leader === leader.id) this.raiseTerm(node, leader.term);
    }
    if (view.join() === node.view.join()) return;
    node.view = view;
    node.process.repair.trigger();
  }

  /** Terms only go up, as the membership machine's (its own simulator checks that). */
  private raiseTerm(node: SimNode, term: number): void {
    node.term = Math.max(node.term, term);
  }

  /** What repair did, summed over every process of the run. */
  repairTotals(): RepairTotals {
    const sum: RepairTotals = { rounds: 0, antiEntropyKeys: 0, handedOffKeys: 0, hintsDelivered: 0 };
    for (const { totals } of this.repairs) for (const name of Object.keys(sum) as (keyof RepairTotals)[]) sum[name] += totals[name];
    return sum;
  }

  /** Every node sees who it reaches and follows its leader, as once gossip has spread. */
  settleViews(): void {
    this.topology++;
    for (const node of this.nodes) this.notice(node);
    for (const node of this.nodes) this.notice(node);
  }

  /**
   * A copy (not a tombstone past its grace, which is never purged here) may
   * leave a node only while a copy at least as new is on another disk.
   */
  private checkRemoval(node: SimNode, entries: readonly { key: string; version: Version }[]): void {
    for (const { key, version } of entries) {
      const held = node.store.record(key);
      if (!held || compareVersions(held.version, version) !== 0) continue;
      const elsewhere = this.newestAnywhere(key, node);
      if (!elsewhere || compareVersions(elsewhere.version, version) < 0) {
        this.violations.push(`${node.id} dropped the newest copy of ${key} (${version.join('.')}); the newest elsewhere is ${elsewhere ? elsewhere.version.join('.') : 'none'}`);
      }
    }
  }

  /** The newest version of `key` on any node's disk, down or up. */
  newestAnywhere(key: string, except?: SimNode): ReplicaRecord | null {
    let best: ReplicaRecord | null = null;
    for (const node of this.nodes) {
      if (node === except) continue;
      const record = node.store.record(key);
      if (record && (!best || compareVersions(record.version, best.version) > 0)) best = record;
    }
    return best;
  }
}
