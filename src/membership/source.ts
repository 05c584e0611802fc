// The cluster view the rest of a node is built on, whichever way the cluster
// agrees on it: gossip between the nodes (the default) or etcd (the
// consistent mode). src/node/main.ts picks one; nothing else knows which.
import type { EventEmitter } from 'node:events';
import type { CoordinatorStatus, Gossip, GossipRejection, MembershipMode, NodeId, NodeInfo, RepairStatus } from '../protocol/schemas.js';
import type { MembershipEvent, PeerView, ReceiveResult } from './machine.js';

export interface LeaderStatus {
  leader: NodeId | null;
  term: number;
  /** True only while this node may serve documents as the leader. */
  isLeader: boolean;
}

/** The leader's read lease (Membership.readLease). */
export interface ReadLease {
  /** Changes whenever another leader could have come in between. */
  epoch: number;
  /** The term it is held in. */
  term: number;
}

export interface MembershipSource extends EventEmitter<{ event: [MembershipEvent]; rejected: [string] }> {
  readonly mode: MembershipMode;
  /** Announces this node; called once its HTTP server listens. */
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): LeaderStatus;
  /** The current term, once it is durable (on this node's disk, or in etcd): versions carry it. */
  durableTerm(): Promise<number>;
  /** Alive nodes, this one included, in join order. */
  aliveNodes(): readonly NodeInfo[];
  /** While this leader may answer a read from a copy it wrote itself; otherwise null (always in the consistent mode, whose reads repair). */
  readLease(): ReadLease | null;
  /** The ids of `aliveNodes()`, same order. */
  aliveIds(): readonly NodeId[];
  /** Every other node this one knows of, dropped ones included (the dashboard's node list). */
  peerView(): readonly PeerView[];
  /** The repair state each alive peer reported last. */
  peerRepairs(): ReadonlyMap<NodeId, RepairStatus | undefined>;
  /** Gossip that arrived on our HTTP port, answered with our own view. */
  receiveGossip(gossip: Gossip): Promise<{ result: ReceiveResult; answer: Gossip }>;
  /** The etcd endpoints' state; undefined in gossip mode. */
  coordinatorStatus(): CoordinatorStatus | undefined;
}

export type GossipReply = { status: 200; body: Gossip } | { status: 409; body: GossipRejection };

/**
 * What the gossip route answers, over HTTP or the simulator's network: our
 * own view, or a refusal saying why and how many nodes we count alive (the
 * sender stops only if it is the smaller side).
 */
export async function replyToGossip(source: Pick<MembershipSource, 'receiveGossip'>, gossip: Gossip): Promise<GossipReply> {
  const { result, answer } = await source.receiveGossip(gossip);
  return result.accepted ? { status: 200, body: answer } : { status: 409, body: { error: result.reason, alive: answer.nodes.length } };
}
