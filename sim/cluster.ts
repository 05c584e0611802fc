// N simulated nodes running the production code of a gossip-mode node: each
// process is the MembershipDriver over the Membership machine, a Coordinator,
// a ReplicaBatcher, a RepairService and the replica endpoints, over the
// node's MemoryStore, talking through the simulated network, on virtual time.
// A node keeps its membership record (term and contacts) on its simulated
// disk beside its data, and a crash loses what was not durable: the driver's
// rule that a term is on disk before gossip or a write carries it is what
// keeps a node's term from going down across restarts, and is checked here.
import type { NodeId, NodeInfo, ReplicaRecord, Version } from '../src/protocol/schemas.js';
import { MemoryStore, type MemoryStoreOptions } from '../src/storage/memory-store.js';
import { ReplicaBatcher } from '../src/replication/batcher.js';
import { Coordinator, type ReadOutcome } from '../src/replication/coordinator.js';
import { RepairService, type RepairTotals } from '../src/replication/repair.js';
import { replicaEndpoints } from '../src/replication/endpoints.js';
import { HybridClock, compareVersions } from '../src/replication/version.js';
import { Fence } from '../src/coordination/fence.js';
import { MEMBERSHIP_KEY, openGossipMembership, type MetaStore } from '../src/membership/gossip.js';
import { gossipOver, type GossipTransport, type MembershipDriver, type PersistedMembership } from '../src/membership/driver.js';
import { createLogger } from '../src/common/logger.js';
import type { Timers } from '../src/common/timers.js';
import { randomInt, uniform, type Rng } from '../src/common/random.js';
import type { Scheduler } from './scheduler.js';
import { SimNetwork, type NetworkOptions, type Process } from './network.js';

export interface ClusterOptions {
  nodes: number;
  replicationFactor: number;
  network: NetworkOptions;
  /** The nodes' --heartbeat-interval: how often they gossip (and, as a node does, deliver hints). */
  heartbeatIntervalMs: number;
  /** The nodes' --failure-timeout: silence after which a node drops a peer. */
  failureTimeoutMs: number;
  /** Longest simulated fsync. */
  fsyncMs: number;
  /** Largest skew of a node's wall clock (its versions' clocks). */
  clockSkewMs: number;
  antiEntropyIntervalMs: number;
}

export interface NodeProcess extends Process {
  membership: MembershipDriver;
  coordinator: Coordinator;
  repair: RepairService;
  /** Set once its membership is open: until then, as before a node listens, requests to it are refused. */
  listening: boolean;
}

export interface SimNode {
  readonly id: NodeId;
  /** Its `joined` stamp is kept across restarts, as a node keeps it in its data dir. */
  readonly info: NodeInfo;
  readonly store: MemoryStore;
  readonly skewMs: number;
  /** The process from its start until it crashes. */
  process: NodeProcess | null;
  /** The highest term this node has put out, in gossip or in a write: none of its processes may go below it. */
  announcedTerm: number;
  /** Its disk completes no fsync before this (ms since the run started). */
  stalledUntil: number;
  crashes: number;
}

/** The id stamped in every node's data dir: they all belong to one cluster from the start. */
const CLUSTER_ID = 'b7e1c1a0-5151-4c1d-9d4e-000000000013';

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
  private readonly repairs: RepairService[] = [];
  private faults = true;
  /** Nodes to crash while they write their next new term. */
  private readonly doomed = new Set<NodeId>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly rng: Rng,
    readonly options: ClusterOptions,
  ) {
    this.ids = Array.from({ length: options.nodes }, (_, i) => `10.0.0.${i + 1}:7000`);
    this.network = new SimNetwork(scheduler, rng, options.network, (id) => this.listening(id));
    this.nodes = this.ids.map((id, index) => {
      const skewMs = randomInt(rng, -options.clockSkewMs, options.clockSkewMs);
      const node: SimNode = {
        id,
        info: { id, joined: scheduler.now() + skewMs },
        // The first node keeps at most two hints, so every run also stands in past the bound (repair, not a hint, then brings the copy home).
        store: new CheckedStore({ now: () => scheduler.now(), durable: () => this.fsync(node), maxHints: index === 0 ? 2 : undefined }, (entries) =>
          this.checkRemoval(node, entries),
        ),
        skewMs,
        process: null,
        announcedTerm: 0,
        stalledUntil: 0,
        crashes: 0,
      };
      // A formed cluster restarting: every node remembers every other one as a contact.
      void node.store.putMeta(MEMBERSHIP_KEY, { term: 0, peers: this.ids.filter((other) => other !== id) } satisfies PersistedMembership);
      return node;
    });
    for (const node of this.nodes) void this.start(node);
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
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    if (!node.process) void this.start(node);
  }

  partition(sides: NodeId[][]): void {
    this.network.partition(sides);
  }

  heal(): void {
    this.network.heal();
  }

  /**
   * A crash aimed at the MustSync rule: once the node writes a new term, its
   * disk stalls, and it crashes before that write is durable.
   */
  crashWhileWritingTerm(id: NodeId): void {
    this.doomed.add(id);
  }

  /** The end of the faults: the network heals, every node is restarted, and none crashes any more. */
  endFaults(): void {
    this.faults = false;
    this.doomed.clear();
    this.heal();
    for (const node of this.nodes) this.restart(node.id);
  }

  /** A node's process once it listens. */
  listening(id: NodeId): NodeProcess | null {
    const process = this.node(id).process;
    return process?.listening ? process : null;
  }

  /**
   * The process a client that contacted `via` ends at: a node that does not
   * lead redirects it to the leader it follows, as the HTTP server does, if
   * the client (on `via`'s side of a partition) reaches that one.
   */
  leaderFor(via: NodeId): NodeProcess | null {
    let at = this.listening(via);
    // A longer chain of redirects is a loop.
    for (let hops = 0; at && hops < this.nodes.length; hops++) {
      const { isLeader, leader } = at.membership.status();
      if (isLeader) return at;
      if (leader === null || !this.network.connected(via, leader)) return null;
      at = this.listening(leader);
    }
    return null;
  }

  /** Starts a process as src/node/main.ts does: membership from what the disk remembers, then the replication services. */
  private async start(node: SimNode): Promise<void> {
    const process = { node: node.id, alive: true, listening: false } as NodeProcess;
    // Its disk writes (the membership record first) are this process's from now on.
    node.process = process;
    const timers = this.timersOf(process);
    const peers = this.network.transport(process);
    // A process that crashes while this awaits never gets further: its fsync never completes.
    const membership = await openGossipMembership({
      self: node.info,
      join: null,
      replicationFactor: this.options.replicationFactor,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      failureTimeoutMs: this.options.failureTimeoutMs,
      requestTimeoutMs: this.options.network.timeoutMs,
      store: this.membershipDisk(node),
      gossip: this.announcing(node, gossipOver(peers)),
      clock: { now: () => this.scheduler.elapsed(), wall: () => this.scheduler.now() + node.skewMs },
      timers,
      logger,
      repairStatus: () => process.repair.status(),
      clusterId: CLUSTER_ID,
    });
    this.checkTerm(node, membership);
    process.membership = membership;
    process.gossip = {
      receiveGossip: async (gossip) => {
        const reply = await membership.receiveGossip(gossip);
        this.announced(node, reply.answer.term);
        return reply;
      },
    };
    const aliveNodes = () => membership.aliveIds();
    process.repair = new RepairService(
      { self: node.id, replicationFactor: this.options.replicationFactor, aliveNodes, store: node.store, peers, logger, clock: { now: () => this.scheduler.elapsed(), wall: () => this.scheduler.now() }, timers },
      {
        intervalMs: this.options.antiEntropyIntervalMs,
        hintIntervalMs: this.options.heartbeatIntervalMs,
        // Tombstones stay for the whole run: outages here are far shorter than any grace period.
        tombstoneGraceMs: 365 * 24 * 3_600_000,
        batchSize: 50,
        // Unpaced: the simulated network is the only limit, and repair should be quick between faults.
        ratePerSecond: Infinity,
      },
    );
    this.repairs.push(process.repair);
    process.coordinator = new Coordinator(
      { self: node.id, replicationFactor: this.options.replicationFactor, term: () => this.durableTerm(node, membership), aliveNodes, readLease: () => membership.readLease() },
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
      limits: () => ({ maxValueBytes: 1024 * 1024, term: membership.status().term, now: this.scheduler.now() + node.skewMs }),
    });
    membership.on('event', (event) => {
      this.checkTerm(node, membership);
      // As in a node: who is alive changed, so copies may have to move.
      if (event.type === 'node-up' || event.type === 'node-down') process.repair.trigger();
    });
    process.listening = true;
    await membership.start();
    process.repair.start();
  }

  /** The node's disk as its membership sees it: writing a new term may stall, and be the last thing the node does. */
  private membershipDisk(node: SimNode): MetaStore {
    return {
      getMeta: <T>(key: string) => node.store.getMeta<T>(key),
      highestTerm: () => node.store.highestTerm(),
      putMeta: (key, value) => {
        const newTerm = key === MEMBERSHIP_KEY && (value as PersistedMembership).term > (node.store.getMeta<PersistedMembership>(key)?.term ?? 0);
        if (newTerm && this.doomed.delete(node.id)) {
          // Long enough for heartbeats and client writes to come due meanwhile: none may carry the new term yet.
          const stallMs = uniform(this.rng, 0, 2 * this.options.heartbeatIntervalMs);
          node.stalledUntil = this.scheduler.elapsed() + stallMs;
          const process = node.process;
          this.scheduler.after(uniform(this.rng, 0, stallMs), () => {
            if (this.faults && node.process === process) this.crash(node.id);
          });
        }
        return node.store.putMeta(key, value);
      },
    };
  }

  /** The gossip a node sends, its terms noted as put out. */
  private announcing(node: SimNode, transport: GossipTransport): GossipTransport {
    return {
      exchange: (peer, gossip) => {
        this.announced(node, gossip.term);
        return transport.exchange(peer, gossip);
      },
      heard: (peer) => transport.heard(peer),
    };
  }

  /** The term a write takes, noted as put out. */
  private async durableTerm(node: SimNode, membership: MembershipDriver): Promise<number> {
    const term = await membership.durableTerm();
    this.announced(node, term);
    return term;
  }

  private announced(node: SimNode, term: number): void {
    node.announcedTerm = Math.max(node.announcedTerm, term);
  }

  /** A node's term never goes down: not while it runs, nor across a crash, below one it has put out. */
  private checkTerm(node: SimNode, membership: MembershipDriver): void {
    const { term } = membership.status();
    if (term < node.announcedTerm) this.violations.push(`${node.id}'s term is ${term}, below the term ${node.announcedTerm} it put out before`);
  }

  /** The scheduler, for one process: nothing fires once it is dead. */
  private timersOf(process: Process): Timers {
    return {
      every: (ms, fn) => {
        const stop = this.scheduler.every(ms, () => (process.alive ? fn() : stop()));
        return stop;
      },
      after: (ms, fn) => this.scheduler.after(ms, () => process.alive && fn()),
    };
  }

  /** A process's fsync: resolves after a while, or never if the process dies first. */
  private fsync(node: SimNode): Promise<void> {
    const process = node.process;
    const delay = Math.max(uniform(this.rng, 0, this.options.fsyncMs), node.stalledUntil - this.scheduler.elapsed());
    return new Promise((resolve) =>
      this.scheduler.after(delay, () => {
        if (process === null || process.alive) resolve();
      }),
    );
  }

  /** What repair did, summed over every process of the run. */
  repairTotals(): RepairTotals {
    const sum: RepairTotals = { rounds: 0, antiEntropyKeys: 0, handedOffKeys: 0, hintsDelivered: 0 };
    for (const { totals } of this.repairs) for (const name of Object.keys(sum) as (keyof RepairTotals)[]) sum[name] += totals[name];
    return sum;
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

  /**
   * A read through `leader`. One it answered from its own copy under its read
   * lease must miss no newer copy on any node it counts alive: asking every
   * owner would have found that one. (The own-copy path runs before the
   * read's first await, so the counter has moved by the time read() returns.)
   */
  read(leader: NodeProcess, key: string): Promise<ReadOutcome> {
    const before = leader.coordinator.ownCopyReads;
    const answer = leader.coordinator.read(key);
    if (leader.coordinator.ownCopyReads > before) {
      const mine = this.node(leader.node).store.record(key)!;
      for (const id of leader.membership.aliveIds()) {
        const held = this.node(id).store.record(key);
        if (held && compareVersions(held.version, mine.version) > 0) {
          this.violations.push(`${leader.node} answered ${key} from its own copy (${mine.version.join('.')}) while ${id}, which it counts alive, held ${held.version.join('.')}`);
        }
      }
    }
    return answer;
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
