// Every payload that crosses a process boundary is declared once here: the
// server validates with these schemas, the client checks answers with them,
// and TypeScript derives its types from them.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

export const CLUSTER_NAME = 'Warehouse 13';

/** `HOST:PORT`, the node id used everywhere. */
export const NodeId = Type.String({ pattern: '^[^\\s:]+:[0-9]{1,5}$', maxLength: 300 });
export type NodeId = Static<typeof NodeId>;

export const NodeInfo = Type.Object({
  id: NodeId,
  /** Wall-clock ms when the node joined; lists are shown in join order. */
  joined: Type.Integer({ minimum: 0 }),
});
export type NodeInfo = Static<typeof NodeInfo>;

/** What one node tells another on every heartbeat, in both directions. */
export const Gossip = Type.Object({
  cluster: Type.Literal(CLUSTER_NAME),
  from: NodeInfo,
  leader: Type.Union([Type.Null(), NodeId]),
  term: Type.Integer({ minimum: 0 }),
  replicationFactor: Type.Integer({ minimum: 1, maximum: 64 }),
  /** Nodes the sender heard from directly within the failure timeout, itself included. */
  nodes: Type.Array(NodeInfo, { maxItems: 1024 }),
});
export type Gossip = Static<typeof Gossip>;

export const RepairStatus = Type.Object({
  underReplicated: Type.Integer({ minimum: 0 }),
  transfersInProgress: Type.Integer({ minimum: 0 }),
  hintsPending: Type.Integer({ minimum: 0 }),
});
export type RepairStatus = Static<typeof RepairStatus>;

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
  repair: Type.Optional(RepairStatus),
});
export type Heartbeat = Static<typeof Heartbeat>;

export const ErrorBody = Type.Object({
  error: Type.String(),
  /** Set on redirects and on 503s where a leader is known. */
  leader: Type.Optional(Type.Union([Type.Null(), NodeId])),
});
export type ErrorBody = Static<typeof ErrorBody>;

export const WriteResult = Type.Object({
  result: Type.Union([Type.Literal('created'), Type.Literal('updated'), Type.Literal('deleted')]),
  replicas: Type.Integer({ minimum: 0 }),
});
export type WriteResult = Static<typeof WriteResult>;

/**
 * A record version: the leader's term first, so a newer leader's writes beat a
 * deposed one's, then a hybrid logical clock, then the writer's id as the
 * last tie-break. Encoded as a tuple to keep messages small.
 */
export const Version = Type.Tuple([Type.Integer({ minimum: 0 }), Type.Integer({ minimum: 0 }), Type.String({ maxLength: 300 })]);
export type Version = Static<typeof Version>;

/** A stored record: the document text exactly as written, or a tombstone. */
export const ReplicaRecord = Type.Object({
  key: Type.String({ maxLength: 64 }),
  version: Version,
  /** null marks a tombstone. */
  value: Type.Union([Type.Null(), Type.String()]),
});
export type ReplicaRecord = Static<typeof ReplicaRecord>;

export const ReplicaWriteRequest = Type.Object({
  records: Type.Array(ReplicaRecord, { maxItems: 100_000 }),
  /** Set when the writer stores records for another owner that was unreachable. */
  hintFor: Type.Optional(NodeId),
});
export type ReplicaWriteRequest = Static<typeof ReplicaWriteRequest>;

export const ReplicaWriteResponse = Type.Object({
  /** One entry per record, in order: did this replica hold a live value before? */
  hadValue: Type.Array(Type.Boolean()),
});
export type ReplicaWriteResponse = Static<typeof ReplicaWriteResponse>;

export const ReplicaReadRequest = Type.Object({
  keys: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100_000 }),
});
export type ReplicaReadRequest = Static<typeof ReplicaReadRequest>;

export const ReplicaReadResponse = Type.Object({
  /** One entry per key, in order; null where the replica holds nothing. */
  records: Type.Array(Type.Union([Type.Null(), ReplicaRecord])),
});
export type ReplicaReadResponse = Static<typeof ReplicaReadResponse>;

/** Compiled checkers for payloads received from the network outside fastify. */
export function checker<T extends TSchema>(schema: T): (value: unknown) => value is Static<T> {
  const compiled = TypeCompiler.Compile(schema);
  return (value: unknown): value is Static<T> => compiled.Check(value);
}
