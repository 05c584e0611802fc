// The gossip mode's start: the peers this node remembers or learns from its
// join target, then the membership machine and its driver.
import type { NodeId, NodeInfo, RepairStatus } from '../protocol/schemas.js';
import type { Logger } from '../common/logger.js';
import type { Clock, Timers } from '../common/timers.js';
import type { PeerClient } from '../transport/peer-client.js';
import { Membership } from './machine.js';
import { MembershipDriver, type GossipTransport, type PersistedMembership } from './driver.js';
import { discoverCluster, type ClusterView } from './join.js';

export const MEMBERSHIP_KEY = 'membership';
const JOIN_ATTEMPTS = 10;

export interface MetaStore {
  getMeta<T>(key: string): T | undefined;
  putMeta(key: string, value: unknown): Promise<void>;
  /** The highest term of any record held. */
  highestTerm(): number;
}

export interface GossipMembershipOptions {
  self: NodeInfo;
  /** The member to learn the cluster from, and the client to ask it with; null to start from what the store remembers. */
  join: { target: NodeId; peers: PeerClient } | null;
  replicationFactor: number;
  heartbeatIntervalMs: number;
  failureTimeoutMs: number;
  requestTimeoutMs: number;
  store: MetaStore;
  gossip: GossipTransport;
  clock: Clock;
  timers: Timers;
  logger: Logger;
  repairStatus: () => RepairStatus;
  /** The cluster this data dir belongs to; null until it joins one. */
  clusterId: string | null;
}

/** Throws a JoinError when the join target cannot be reached or runs another replication factor. */
export async function openGossipMembership(options: GossipMembershipOptions): Promise<MembershipDriver> {
  const { self, store } = options;
  const remembered = store.getMeta<PersistedMembership>(MEMBERSHIP_KEY);
  let view: ClusterView = { leader: null, term: remembered?.term ?? 0, peers: remembered?.peers ?? [] };
  if (options.join) {
    view = await discoverCluster({ ...options.join, replicationFactor: options.replicationFactor, attempts: JOIN_ATTEMPTS, retryDelayMs: 500 });
  }
  // Records may carry a term the membership record never saw persisted (an
  // older release, a crash between the two): never lead below them.
  view = { ...view, term: Math.max(view.term, store.highestTerm()) };
  // Remembered at once: a joiner that crashes before its first membership
  // event must rejoin these peers on restart, not found a cluster of its own.
  await store.putMeta(MEMBERSHIP_KEY, { term: view.term, peers: view.peers.filter((id) => id !== self.id) });
  const machine = new Membership(
    {
      self,
      replicationFactor: options.replicationFactor,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      failureTimeoutMs: options.failureTimeoutMs,
      clusterId: options.clusterId,
    },
    { now: options.clock.now(), term: view.term, leader: view.leader, peers: view.peers.filter((id) => id !== self.id) },
  );
  return new MembershipDriver(machine, options.gossip, {
    tickMs: Math.min(100, Math.ceil(options.heartbeatIntervalMs / 2)),
    clock: options.clock,
    timers: options.timers,
    logger: options.logger,
    persist: (state) => store.putMeta(MEMBERSHIP_KEY, state),
    persistedTerm: view.term,
    repairStatus: options.repairStatus,
  });
}
