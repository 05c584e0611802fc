// Membership, failure detection and leader election as a deterministic state
// machine, in the manner of etcd's raft package: its only inputs are the time
// (`tick`) and received gossip (`receive`); its outputs are gossip to send and
// events, collected with `drain`. Sockets, timers and disks stay in the driver,
// so a test can run a whole simulated cluster from a seed.
import { CLUSTER_NAME, MAX_MEMBERS, type Gossip, type NodeId, type NodeInfo, type RepairStatus } from '../protocol/schemas.js';
import { compareNodeIds } from '../common/address.js';
import { chooseLeader, claimBeats } from './election.js';
import { MAX_TERM_STEP } from '../security/peer-payloads.js';
import { invariant } from '../common/assert.js';

/** A departed node is still sent gossip this long (a partition healing), then forgotten. */
export const DEPARTED_TTL_MS = 24 * 3_600_000;

export interface MembershipConfig {
  self: NodeInfo;
  replicationFactor: number;
  heartbeatIntervalMs: number;
  failureTimeoutMs: number;
  /** Stamped in the data dir when the cluster was founded; null until a fresh joiner learns it. */
  clusterId: string | null;
}

export interface MembershipStart {
  now: number;
  term: number;
  /** Known leader (from a join target), or null to wait for gossip or an election. */
  leader: NodeId | null;
  /** Nodes to contact: from the join target, or remembered from the last run. */
  peers: readonly NodeId[];
}

export type MembershipEvent =
  | { type: 'node-up'; node: NodeInfo }
  | { type: 'node-down'; node: NodeId }
  | { type: 'leader'; leader: NodeId; term: number; previous: NodeId | null }
  | { type: 'cluster'; id: string };

export interface Outgoing {
  to: NodeId;
  gossip: Gossip;
  /** When it left (the machine's clock): an answer to it renews the read lease from this time. */
  at: number;
}

/**
 * The read lease lasts this share of the failure timeout from the gossip a
 * peer answered: a peer drops its leader only after a full failure timeout
 * without hearing it, and the rest covers clocks that run at different rates.
 */
const LEASE_SHARE = 0.8;

export type ReceiveResult = { accepted: true } | { accepted: false; reason: string };

interface Peer {
  info: NodeInfo | null;
  /** Last direct contact; null until the peer has answered once. */
  lastHeard: number | null;
  /** When we first learned of it, to give an unconfirmed peer a failure timeout to answer. */
  learned: number;
  /** The repair state it reported last. */
  repair?: RepairStatus;
  /** The term it claimed last. */
  term?: number;
}

/** One node as this node sees it, for the dashboard. */
export interface PeerView {
  id: NodeId;
  /** Last direct contact; null until it answered, or once it was dropped. */
  lastHeard: number | null;
  term: number | null;
  departed: boolean;
}

export function replicationFactorMismatch(mine: number, theirs: number): string {
  return `replication factor ${theirs} does not match the cluster's replication factor ${mine}`;
}

export function anotherCluster(node: NodeId, theirs: string, ours: string): string {
  return `${node} belongs to another cluster (${theirs}, this one is ${ours}): its data dir comes from another cluster; move that data dir away to join with an empty one`;
}

export class Membership {
  private readonly peers = new Map<NodeId, Peer>();
  /**
   * Nodes dropped after the failure timeout. They are still sent our gossip
   * every heartbeat: without that, both sides of a partition that outlasts
   * the timeout forget each other for good and keep two leaders after it heals.
   */
  private readonly departed = new Map<NodeId, number>();
  private term: number;
  private leader: NodeId | null;
  private clusterId: string | null;
  private leaderUnknownSince: number;
  /**
   * A leaderless node heard a leader named with a term below its own, so did
   * not adopt it: a leader exists, and the term exchange will let us adopt it.
   */
  private leaderNamed = false;
  private lastBroadcast = -Infinity;
  private lastTick: number | null = null;
  private alive: NodeInfo[] | null = null;
  private aliveIdList: NodeId[] | null = null;
  private outbox: Outgoing[] = [];
  private events: MembershipEvent[] = [];
  /** Per alive peer, when the newest gossip it answered naming us its leader in our term left. */
  private readonly promises = new Map<NodeId, number>();
  /** Changes whenever the lease may have lapsed or the membership or term changed: see `readLease`. */
  private leaseEpoch = 0;

  constructor(
    private readonly config: MembershipConfig,
    start: MembershipStart,
  ) {
    this.term = start.term;
    this.leader = start.leader;
    this.clusterId = config.clusterId;
    this.leaderUnknownSince = start.now;
    for (const id of start.peers) this.learn(id, start.now);
    // The join target may not have confirmed the leader yet and then leaves it
    // out of its node list: without this, the first tick would find the leader
    // missing from the peers and start an election at once.
    if (this.leader !== null) this.learn(this.leader, start.now);
    if (this.leader === null && this.peers.size === 0) this.elect(start.now);
  }

  get self(): NodeId {
    return this.config.self.id;
  }

  tick(now: number): void {
    // A gap this long between ticks means this process was paused (SIGSTOP,
    // a stalled VM): the silence is ours, not our peers'. Dropping them all
    // now would make this node elect itself the moment it wakes up.
    // Nor is the time before the first tick (a node still opening its store
    // and starting to listen, slowly on a loaded machine): peers count as
    // silent only from then on.
    if (this.lastTick === null || now - this.lastTick > this.config.failureTimeoutMs / 2) this.forgiveSilence(now);
    this.lastTick = now;
    this.detectFailures(now);
    this.expireDeparted(now);
    this.checkLeader(now);
    if (now - this.lastBroadcast >= this.config.heartbeatIntervalMs) {
      this.lastBroadcast = now;
      const gossip = this.gossip();
      for (const to of this.peers.keys()) this.outbox.push({ to, gossip, at: now });
      for (const to of this.departed.keys()) this.outbox.push({ to, gossip, at: now });
    }
  }

  /**
   * Gossip received from a peer, as a request or as the answer to ours.
   * `fromItsAddress`: it is the answer of the node at `from.id` itself. A
   * request only names its sender: an id it names is contacted, and counted
   * alive once it answers there. `answerTo`: when the gossip of ours that
   * this answers left.
   */
  receive(now: number, gossip: Gossip, fromItsAddress = true, answerTo?: number): ReceiveResult {
    if (gossip.replicationFactor !== this.config.replicationFactor) {
      return { accepted: false, reason: replicationFactorMismatch(this.config.replicationFactor, gossip.replicationFactor) };
    }
    if (gossip.term > this.term + MAX_TERM_STEP) {
      return { accepted: false, reason: `term ${gossip.term} is more than ${MAX_TERM_STEP} beyond this node's term ${this.term}` };
    }
    const from = gossip.from;
    if (gossip.clusterId !== undefined && this.clusterId !== null && gossip.clusterId !== this.clusterId) {
      return { accepted: false, reason: anotherCluster(from.id, gossip.clusterId, this.clusterId) };
    }
    if (from.id === this.self) return { accepted: true };
    const peer = this.peers.get(from.id);
    if (!peer && this.isFull(from.id)) return { accepted: false, reason: `this cluster already has ${MAX_MEMBERS} nodes` };
    if (!fromItsAddress && (!peer || peer.lastHeard === null)) {
      this.learn(from.id, now);
      return { accepted: true };
    }
    if (this.clusterId === null && gossip.clusterId !== undefined) {
      this.clusterId = gossip.clusterId;
      this.events.push({ type: 'cluster', id: gossip.clusterId });
    }
    if (!peer || peer.lastHeard === null) {
      this.events.push({ type: 'node-up', node: from });
      this.breakLease();
    }
    if (!peer || peer.lastHeard === null || peer.info?.joined !== from.joined) this.forgetAlive();
    this.peers.set(from.id, { info: from, lastHeard: now, learned: peer?.learned ?? now, repair: gossip.repair, term: gossip.term });
    this.departed.delete(from.id);
    for (const node of gossip.nodes) this.learn(node.id, now);
    if (gossip.leader !== null && gossip.term >= this.term && this.keepsLeading(gossip.leader)) {
      // Two live leaders (a healed partition): the one that sorts first keeps
      // leading, as the task's rule picks it. Our term catches up with the
      // other claim's, and our leader itself goes one above so that its
      // claim beats the other everywhere.
      this.raiseTerm(gossip.term + (this.leader === this.self ? 1 : 0));
    } else if (gossip.leader !== null && claimBeats(gossip.term, gossip.leader, this.term, this.leader)) {
      this.learn(gossip.leader, now);
      if (gossip.leader === this.self) this.dropCorroborated(now, gossip);
      this.setLeader(gossip.leader, gossip.term);
    } else if (gossip.term > this.term) {
      this.raiseTerm(gossip.term);
    } else if (gossip.leader !== null && this.leader === null) {
      this.leaderNamed = true;
    }
    if (answerTo !== undefined && this.promisesUs(gossip)) this.promises.set(from.id, Math.max(this.promises.get(from.id) ?? answerTo, answerTo));
    return { accepted: true };
  }

  /**
   * The leader's read lease: an epoch while no other node can be serving as
   * leader to any node this one counts alive, null otherwise. Each alive
   * peer answered our gossip naming us its leader in our term and listing us
   * alive; from then on it elects or follows no one else before a failure
   * timeout without hearing us, which the lease ends before. The epoch
   * changes with every membership change, term change and observed lapse,
   * so "the same epoch" means "no other leader in between" for everything
   * this node can see: a copy it wrote itself in this epoch is still the
   * newest. A leader outside this node's view (the other side of a partition
   * that outlasted the failure timeout) is not covered, as reads that ask
   * every owner do not see its writes either.
   */
  readLease(now: number): number | null {
    if (this.leader !== this.self) return null;
    const lasts = this.config.failureTimeoutMs * LEASE_SHARE;
    for (const [id, peer] of this.peers) {
      if (peer.lastHeard === null) continue;
      const promised = this.promises.get(id);
      if (promised === undefined || now - promised >= lasts) {
        this.leaseEpoch++;
        return null;
      }
    }
    return this.leaseEpoch;
  }

  private promisesUs(answer: Gossip): boolean {
    return this.leader === this.self && answer.leader === this.self && answer.term === this.term && answer.nodes.some((node) => node.id === this.self);
  }

  /** Promises were made to an earlier state: a new term or view starts the lease over. */
  private breakLease(): void {
    this.leaseEpoch++;
    this.promises.clear();
  }

  /** Outputs since the last call: gossip to send and membership events. */
  drain(): { messages: Outgoing[]; events: MembershipEvent[] } {
    const ready = { messages: this.outbox, events: this.events };
    this.outbox = [];
    this.events = [];
    return ready;
  }

  gossip(): Gossip {
    return {
      cluster: CLUSTER_NAME,
      from: this.config.self,
      leader: this.leader,
      term: this.term,
      replicationFactor: this.config.replicationFactor,
      nodes: [...this.aliveNodes()],
      ...(this.clusterId === null ? {} : { clusterId: this.clusterId }),
    };
  }

  /** Nodes heard from within the failure timeout, itself included, in join order. */
  aliveNodes(): readonly NodeInfo[] {
    // Asked on every client request (placement), changed only by joins and failures.
    if (!this.alive) {
      const alive = [this.config.self];
      for (const peer of this.peers.values()) if (peer.lastHeard !== null && peer.info) alive.push(peer.info);
      this.alive = alive.sort((a, b) => a.joined - b.joined || compareNodeIds(a.id, b.id));
    }
    return this.alive;
  }

  /** The ids of `aliveNodes()`, same order. */
  aliveIds(): readonly NodeId[] {
    this.aliveIdList ??= this.aliveNodes().map((node) => node.id);
    return this.aliveIdList;
  }

  private forgetAlive(): void {
    this.alive = null;
    this.aliveIdList = null;
  }

  /** The repair state each alive peer reported last. */
  peerRepairs(): Map<NodeId, RepairStatus | undefined> {
    const repairs = new Map<NodeId, RepairStatus | undefined>();
    for (const [id, peer] of this.peers) if (peer.lastHeard !== null) repairs.set(id, peer.repair);
    return repairs;
  }

  /** Every other node this one knows of, dropped ones included. */
  peerView(): PeerView[] {
    const known = [...this.peers].map(([id, peer]) => ({ id, lastHeard: peer.lastHeard, term: peer.term ?? null, departed: false }));
    return [...known, ...[...this.departed.keys()].map((id) => ({ id, lastHeard: null, term: null, departed: true }))];
  }

  /** Every node we are trying to reach: confirmed, not yet confirmed, or departed. */
  contacts(): NodeId[] {
    return [...this.peers.keys(), ...this.departed.keys()];
  }

  status(): { leader: NodeId | null; term: number; isLeader: boolean } {
    return { leader: this.leader, term: this.term, isLeader: this.leader === this.self };
  }

  /** Is our leader alive and ahead of `claimed` in the election order? */
  private keepsLeading(claimed: NodeId): boolean {
    const leader = this.leader;
    if (leader === null || leader === claimed || compareNodeIds(leader, claimed) > 0) return false;
    return leader === this.self || (this.peers.get(leader)?.lastHeard ?? null) !== null;
  }

  private forgiveSilence(now: number): void {
    for (const peer of this.peers.values()) {
      if (peer.lastHeard !== null) peer.lastHeard = now;
      peer.learned = now;
    }
  }

  private learn(id: NodeId, now: number): void {
    if (id === this.self || this.peers.has(id)) return;
    if (this.isFull(id)) return;
    this.peers.set(id, { info: null, lastHeard: null, learned: now });
    this.departed.delete(id);
  }

  private detectFailures(now: number): void {
    for (const [id, peer] of this.peers) {
      const silentSince = peer.lastHeard ?? peer.learned;
      if (now - silentSince > this.config.failureTimeoutMs) this.drop(id, peer, now);
    }
  }

  /**
   * A peer elected us after dropping nodes by its own clock: the ones it no
   * longer lists that we have not heard for two heartbeats are down for us
   * too, so that our first heartbeat as leader does not list a dead node our
   * own timer would drop a moment later.
   */
  private dropCorroborated(now: number, election: Gossip): void {
    const listed = new Set(election.nodes.map((node) => node.id));
    for (const [id, peer] of this.peers) {
      if (id === election.from.id || listed.has(id) || peer.lastHeard === null) continue;
      if (now - peer.lastHeard > 2 * this.config.heartbeatIntervalMs) this.drop(id, peer, now);
    }
  }

  private drop(id: NodeId, peer: Peer, now: number): void {
    this.peers.delete(id);
    this.departed.set(id, now);
    if (peer.lastHeard === null) return;
    this.forgetAlive();
    this.events.push({ type: 'node-down', node: id });
    this.breakLease();
  }

  /** However many ids gossip names, this node tracks a bounded number. */
  private isFull(id: NodeId): boolean {
    return this.peers.size + this.departed.size >= MAX_MEMBERS - 1 && !this.departed.has(id);
  }

  private expireDeparted(now: number): void {
    for (const [id, since] of this.departed) if (now - since > DEPARTED_TTL_MS) this.departed.delete(id);
  }

  private checkLeader(now: number): void {
    if (this.leader === this.self) return;
    if (this.leader !== null && this.peers.has(this.leader)) return;
    if (this.leader !== null) {
      this.elect(now);
      return;
    }
    // A node that restarted without a known leader waits for every node it
    // remembers to answer (none of them naming a leader: one named with a term
    // at least ours would have been adopted, and one named with a lower term
    // is adopted once that node has seen our gossip and caught up with our
    // term), or at most one failure timeout, before it holds an election.
    const allAnswered = !this.leaderNamed && [...this.peers.values()].every((peer) => peer.lastHeard !== null);
    if (allAnswered || now - this.leaderUnknownSince > this.config.failureTimeoutMs) this.elect(now);
  }

  private elect(now: number): void {
    const alive = this.aliveNodes().map((node) => node.id);
    this.setLeader(chooseLeader(alive), this.term + 1);
    this.leaderUnknownSince = now;
  }

  /** Terms only go up: a lower one would let a restarted leader's versions lose to older writes. */
  private raiseTerm(term: number): void {
    invariant(term >= this.term, () => `term would go down from ${this.term} to ${term}`);
    if (term > this.term) this.breakLease();
    this.term = term;
  }

  private setLeader(leader: NodeId, term: number): void {
    const previous = this.leader;
    this.raiseTerm(term);
    if (previous === leader) return;
    this.leader = leader;
    this.breakLease();
    this.events.push({ type: 'leader', leader, term, previous });
  }
}
