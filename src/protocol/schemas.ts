// Every payload that crosses a process boundary is declared once here: the
// server validates with these schemas, the client checks answers with them,
// and TypeScript derives its types from them.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

export const CLUSTER_NAME = 'Warehouse 13';

// Bounds on what a peer may send: no list, counter or number in a message can
// make a node loop, allocate or overflow without limit.
/** Nodes a cluster can have; every member list in a message is bounded by it. */
export const MAX_MEMBERS = 256;
/** Terms grow by one per election: 2^40 of them is more than any cluster holds, and far from 2^53. */
export const MAX_TERM = 2 ** 40;
/** Records in one replica write (the batcher's and the repair's batches stay below it). */
export const MAX_RECORDS_PER_REQUEST = 1000;
export const MAX_KEYS_PER_READ = 10_000;
/** Anti-entropy buckets (the first three hex digits of a key) and how many one key-list request may ask for. */
export const BUCKET_COUNT = 4096;
export const MAX_BUCKETS_PER_KEYS_REQUEST = 64;
const MAX_COUNTER = 2 ** 40;

/** A stored key: a UUID4, lower case. */
export const StoredKey = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' });

/** A cluster's identity, a random UUID chosen when it was founded. */
export const ClusterId = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' });

/** `HOST:PORT`, the node id used everywhere. */
export const NodeId = Type.String({ pattern: '^[^\\s:]+:[0-9]{1,5}$', maxLength: 300 });
export type NodeId = Static<typeof NodeId>;

export const NodeInfo = Type.Object({
  id: NodeId,
  /** Wall-clock ms when the node joined; lists are shown in join order. */
  joined: Type.Integer({ minimum: 0, maximum: 2 ** 50 }),
});
export type NodeInfo = Static<typeof NodeInfo>;

const RepairCounters = {
  /** Copies found missing or stale on an owner and not yet confirmed there. */
  underReplicated: Type.Integer({ minimum: 0, maximum: MAX_COUNTER }),
  /** Records being streamed to other nodes right now. */
  transfersInProgress: Type.Integer({ minimum: 0, maximum: MAX_COUNTER }),
  /** Writes kept for an unreachable owner, waiting for it to answer. */
  hintsPending: Type.Integer({ minimum: 0, maximum: MAX_COUNTER }),
};

export const RepairStatus = Type.Object({
  ...RepairCounters,
  /**
   * The alive nodes for which the last complete repair pass found nothing
   * left to do; when it equals the current alive set, this node is in sync.
   */
  syncedFor: Type.Array(NodeId, { maxItems: MAX_MEMBERS }),
  /** Repair passes that finished with nothing left to do since this node started. */
  cleanPasses: Type.Integer({ minimum: 0, maximum: MAX_COUNTER }),
});
export type RepairStatus = Static<typeof RepairStatus>;

/** What one node tells another on every heartbeat, in both directions. */
export const Gossip = Type.Object({
  cluster: Type.Literal(CLUSTER_NAME),
  from: NodeInfo,
  leader: Type.Union([Type.Null(), NodeId]),
  term: Type.Integer({ minimum: 0, maximum: MAX_TERM }),
  replicationFactor: Type.Integer({ minimum: 1, maximum: 64 }),
  /** Nodes the sender heard from directly within the failure timeout, itself included. */
  nodes: Type.Array(NodeInfo, { maxItems: MAX_MEMBERS }),
  repair: Type.Optional(RepairStatus),
  /** Stamped in the founder's data dir; a node from another cluster's data dir is refused. Absent on a fresh joiner. */
  clusterId: Type.Optional(ClusterId),
});
export type Gossip = Static<typeof Gossip>;

/** A refused gossip (409): why, and how many alive nodes the refusing node sees, so that only the smaller side stops. */
export const GossipRejection = Type.Object({
  error: Type.String(),
  alive: Type.Integer({ minimum: 1, maximum: MAX_MEMBERS }),
});
export type GossipRejection = Static<typeof GossipRejection>;

export const ClusterRepairStatus = Type.Object({
  ...RepairCounters,
  /** Every alive node finished a repair pass over the current membership with nothing left to do. */
  inSync: Type.Boolean(),
});
export type ClusterRepairStatus = Static<typeof ClusterRepairStatus>;

/** How a cluster agrees on its members and leader: gossip between the nodes, or etcd (the consistent mode). */
export const MembershipMode = Type.Union([Type.Literal('gossip'), Type.Literal('etcd')]);
export type MembershipMode = Static<typeof MembershipMode>;

/** The consistent mode's etcd, as one node sees it. */
export const CoordinatorStatus = Type.Object({
  clusterName: Type.String({ maxLength: 64 }),
  /** Each etcd member's client URL and whether its `/health` answered healthy at the last check. */
  endpoints: Type.Array(Type.Object({ url: Type.String({ maxLength: 300 }), healthy: Type.Boolean() }), { maxItems: 64 }),
  /** Whether this node's etcd lease is alive as far as it can tell; false: it serves no writes. */
  connected: Type.Boolean(),
});
export type CoordinatorStatus = Static<typeof CoordinatorStatus>;

/** What a node keeps under its lease in etcd in the consistent mode. */
export const EtcdMemberRecord = Type.Object({
  node: NodeInfo,
  repair: Type.Optional(RepairStatus),
});
export type EtcdMemberRecord = Static<typeof EtcdMemberRecord>;

export const PLACEMENT_MAX_VIEWS = 32;

/** The consistent mode's placement history in etcd (src/coordination/placement-history.ts): the settled view first. */
export const PlacementRecord = Type.Object({
  views: Type.Array(Type.Array(NodeId, { maxItems: MAX_MEMBERS }), { minItems: 1, maxItems: PLACEMENT_MAX_VIEWS }),
});
export type PlacementRecord = Static<typeof PlacementRecord>;

/** The public heartbeat, answered by every node to clients. */
export const Heartbeat = Type.Object({
  cluster: Type.Literal(CLUSTER_NAME),
  node: NodeId,
  leader: Type.Union([Type.Null(), NodeId]),
  term: Type.Integer({ minimum: 0 }),
  replicationFactor: Type.Integer({ minimum: 1 }),
  heartbeatIntervalMs: Type.Integer({ minimum: 1 }),
  failureTimeoutMs: Type.Integer({ minimum: 1 }),
  nodes: Type.Array(Type.Object({ id: NodeId, joined: Type.Integer(), state: Type.Literal('alive') })),
  warnings: Type.Array(Type.String()),
  /** The whole cluster's repair state, summed over the alive nodes. */
  repair: Type.Optional(ClusterRepairStatus),
  mode: Type.Optional(MembershipMode),
  /** Set in the etcd mode only. */
  coordinator: Type.Optional(CoordinatorStatus),
});
export type Heartbeat = Static<typeof Heartbeat>;

/** `GET /v1/stats`: what one node holds and uses. */
export const NodeStats = Type.Object({
  node: NodeId,
  records: Type.Integer({ minimum: 0 }),
  heapUsedBytes: Type.Integer({ minimum: 0 }),
  rssBytes: Type.Integer({ minimum: 0 }),
});
export type NodeStats = Static<typeof NodeStats>;

/** The body of an internal request that asks a question without parameters. */
export const EmptyRequest = Type.Object({}, { additionalProperties: false });
export type EmptyRequest = Static<typeof EmptyRequest>;

export const ErrorBody = Type.Object({
  error: Type.String(),
  /** Set on redirects and on 503s where a leader is known. */
  leader: Type.Optional(Type.Union([Type.Null(), NodeId])),
});
export type ErrorBody = Static<typeof ErrorBody>;

export const WriteResultKind = Type.Union([Type.Literal('created'), Type.Literal('updated'), Type.Literal('deleted')]);
export type WriteResultKind = Static<typeof WriteResultKind>;

export const WriteResult = Type.Object({
  result: WriteResultKind,
  replicas: Type.Integer({ minimum: 0 }),
});
export type WriteResult = Static<typeof WriteResult>;

/** A client's idempotency key (HTTP `Idempotency-Key`): any UUID, chosen once per logical operation. */
export const RequestId = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
export type RequestId = Static<typeof RequestId>;

/** The write that produced a record, so a retry of it finds its outcome on any owner. */
export const RecordRequest = Type.Object({ id: RequestId, result: WriteResultKind });
export type RecordRequest = Static<typeof RecordRequest>;

/**
 * A record version: the leader's term first, so a newer leader's writes beat a
 * deposed one's, then a hybrid logical clock, then the writer's id as the
 * last tie-break. Encoded as a tuple to keep messages small.
 */
export const Version = Type.Tuple([Type.Integer({ minimum: 0, maximum: MAX_TERM }), Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), NodeId]);
export type Version = Static<typeof Version>;

/** A stored record: the document text exactly as written, or a tombstone. */
export const ReplicaRecord = Type.Object({
  key: StoredKey,
  version: Version,
  /** null marks a tombstone. */
  value: Type.Union([Type.Null(), Type.String()]),
  /** Set on records written for a client request that carried an idempotency key. */
  request: Type.Optional(RecordRequest),
});
export type ReplicaRecord = Static<typeof ReplicaRecord>;

export const ReplicaWriteRequest = Type.Object({
  records: Type.Array(ReplicaRecord, { maxItems: MAX_RECORDS_PER_REQUEST }),
  /**
   * Per record, the owner this copy stands in for when that owner was
   * unreachable (hinted handoff); null or absent for an owner's own copy.
   */
  hintFor: Type.Optional(Type.Array(Type.Union([Type.Null(), NodeId]), { maxItems: MAX_RECORDS_PER_REQUEST })),
  /**
   * The consistent mode's fencing token: the term of the leader that sends
   * these records. A replica that has seen a higher term refuses them (409);
   * no records with a token only announces a new leader's term.
   */
  fence: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type ReplicaWriteRequest = Static<typeof ReplicaWriteRequest>;

export const ReplicaWriteResponse = Type.Object({
  /** One entry per record, in order: did this replica store it (or hold exactly it already)? */
  applied: Type.Array(Type.Boolean()),
  /** One entry per record, in order: the version the replica holds now, newer than the record's when it was refused. */
  current: Type.Array(Version),
});
export type ReplicaWriteResponse = Static<typeof ReplicaWriteResponse>;

export const ReplicaReadRequest = Type.Object({
  keys: Type.Array(StoredKey, { maxItems: MAX_KEYS_PER_READ }),
  /** Per key, an idempotency key to look up in the replica's request index (null: none). */
  requests: Type.Optional(Type.Array(Type.Union([Type.Null(), RequestId]), { maxItems: MAX_KEYS_PER_READ })),
});
export type ReplicaReadRequest = Static<typeof ReplicaReadRequest>;

/** What a replica remembers of a client request it applied: for which key, which version, what answer. */
export const KnownRequest = Type.Object({ key: Type.String({ maxLength: 64 }), version: Version, result: WriteResultKind });
export type KnownRequest = Static<typeof KnownRequest>;

export const ReplicaReadResponse = Type.Object({
  /** One entry per key, in order; null where the replica holds nothing. */
  records: Type.Array(Type.Union([Type.Null(), ReplicaRecord])),
  /** Present when requests were asked for: per key, the request found in the index, or null. */
  known: Type.Optional(Type.Array(Type.Union([Type.Null(), KnownRequest]))),
});
export type ReplicaReadResponse = Static<typeof ReplicaReadResponse>;

/** Compiled checkers for payloads received from the network outside fastify. */
export function checker<T extends TSchema>(schema: T): (value: unknown) => value is Static<T> {
  const compiled = TypeCompiler.Compile(schema);
  return (value: unknown): value is Static<T> => compiled.Check(value);
}

/** Anti-entropy: one digest per key bucket over the keys both nodes should hold. */
export const BucketDigest = Type.Object({
  bucket: Type.Integer({ minimum: 0, maximum: BUCKET_COUNT - 1 }),
  hash: Type.String({ maxLength: 64 }),
});
export type BucketDigest = Static<typeof BucketDigest>;

export const SyncDigestRequest = Type.Object({
  from: NodeId,
  /** The alive nodes the sender places keys over; the receiver uses the same list. */
  members: Type.Array(NodeId, { minItems: 1, maxItems: MAX_MEMBERS, uniqueItems: true }),
  buckets: Type.Array(BucketDigest, { maxItems: BUCKET_COUNT }),
});
export type SyncDigestRequest = Static<typeof SyncDigestRequest>;

export const SyncDigestResponse = Type.Object({
  /** Buckets whose digest differs on the receiver. */
  mismatched: Type.Array(Type.Integer({ minimum: 0, maximum: BUCKET_COUNT - 1 }), { maxItems: BUCKET_COUNT }),
});
export type SyncDigestResponse = Static<typeof SyncDigestResponse>;

export const SyncKeysRequest = Type.Object({
  from: NodeId,
  members: Type.Array(NodeId, { minItems: 1, maxItems: MAX_MEMBERS, uniqueItems: true }),
  buckets: Type.Array(Type.Integer({ minimum: 0, maximum: BUCKET_COUNT - 1 }), { maxItems: MAX_BUCKETS_PER_KEYS_REQUEST, uniqueItems: true }),
});
export type SyncKeysRequest = Static<typeof SyncKeysRequest>;

export const KeyVersion = Type.Object({ key: StoredKey, version: Version });
export type KeyVersion = Static<typeof KeyVersion>;

export const SyncKeysResponse = Type.Object({
  entries: Type.Array(KeyVersion),
});
export type SyncKeysResponse = Static<typeof SyncKeysResponse>;

/** A request on a peer stream: an internal route's path and its body, numbered by the sender. */
export const StreamRequest = Type.Object({
  id: Type.Integer({ minimum: 0 }),
  path: Type.String({ maxLength: 100 }),
  body: Type.Unknown(),
});
export type StreamRequest = Static<typeof StreamRequest>;

/** The answer to the stream request with the same id: the route's HTTP status and answer body. */
export const StreamResponse = Type.Object({
  id: Type.Integer({ minimum: 0 }),
  status: Type.Integer({ minimum: 100, maximum: 599 }),
  body: Type.Unknown(),
});
export type StreamResponse = Static<typeof StreamResponse>;
