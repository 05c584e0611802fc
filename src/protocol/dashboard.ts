// What the dashboard at /ui reads: the cluster snapshot streamed as
// server-sent events, a node's recent traffic, and where one key lives.
import { Type, type Static } from '@sinclair/typebox';
import { ClusterRepairStatus, NodeId, Version } from './schemas.js';

export const NodeState = Type.Union([
  /** Heard from within a couple of heartbeats. */
  Type.Literal('alive'),
  /** Silent for longer, but not yet for the failure timeout: still counted as a member. */
  Type.Literal('unreachable'),
  /** Dropped after the failure timeout. */
  Type.Literal('down'),
]);
export type NodeState = Static<typeof NodeState>;

export const NodeView = Type.Object({
  id: NodeId,
  role: Type.Union([Type.Literal('leader'), Type.Literal('follower')]),
  state: NodeState,
  /** The term the node claimed last; null when never heard. */
  term: Type.Union([Type.Null(), Type.Integer({ minimum: 0 })]),
  /** Milliseconds since this node last heard from it; null when never heard. */
  lastHeardMsAgo: Type.Union([Type.Null(), Type.Integer({ minimum: 0 })]),
});
export type NodeView = Static<typeof NodeView>;

/** `GET /v1/traffic`: the document requests a node answered over the last window. */
export const Traffic = Type.Object({
  node: NodeId,
  windowSeconds: Type.Number({ minimum: 0 }),
  requestsPerSecond: Type.Number({ minimum: 0 }),
  /** Estimated from the latency histogram's buckets; null when no request was answered. */
  p99Seconds: Type.Union([Type.Null(), Type.Number({ minimum: 0 })]),
});
export type Traffic = Static<typeof Traffic>;

/** One event of `GET /v1/events`: the cluster as the serving node sees it. */
export const ClusterSnapshot = Type.Object({
  node: NodeId,
  /** Wall-clock ms when it was taken. */
  at: Type.Integer({ minimum: 0 }),
  leader: Type.Union([Type.Null(), NodeId]),
  term: Type.Integer({ minimum: 0 }),
  replicationFactor: Type.Integer({ minimum: 1 }),
  heartbeatIntervalMs: Type.Integer({ minimum: 1 }),
  failureTimeoutMs: Type.Integer({ minimum: 1 }),
  nodes: Type.Array(NodeView),
  warnings: Type.Array(Type.String()),
  repair: ClusterRepairStatus,
  /** The leader's traffic (it answers every document request); null while it cannot be asked. */
  traffic: Type.Union([Type.Null(), Traffic]),
});
export type ClusterSnapshot = Static<typeof ClusterSnapshot>;

export const LocateParams = Type.Object({ key: Type.String({ maxLength: 100 }) });

export const KeyCopy = Type.Object({
  node: NodeId,
  /** Placement puts the key here under the current membership. */
  owner: Type.Boolean(),
  copy: Type.Union([Type.Literal('document'), Type.Literal('tombstone'), Type.Literal('none'), Type.Literal('unreachable')]),
  version: Type.Union([Type.Null(), Version]),
});
export type KeyCopy = Static<typeof KeyCopy>;

/** `GET /v1/locate/:key`: which nodes own a key and which version each holds. */
export const KeyLocation = Type.Object({
  key: Type.String(),
  replicationFactor: Type.Integer({ minimum: 1 }),
  /** Every alive node, owners first in placement order, then the others holding a copy or not. */
  copies: Type.Array(KeyCopy),
});
export type KeyLocation = Static<typeof KeyLocation>;
