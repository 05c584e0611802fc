// The node-to-node routes, declared once: each path's request schema, its
// answers' schemas and its handler. The HTTP server registers them as signed
// POST routes (for tools and tests that inspect a node), and the peer streams
// dispatch frames to the same handlers after the same validation.
import type { TSchema } from '@sinclair/typebox';
import {
  EmptyRequest,
  Gossip,
  GossipRejection,
  Heartbeat,
  ReplicaReadRequest,
  ReplicaReadResponse,
  ReplicaWriteRequest,
  ReplicaWriteResponse,
  SyncDigestRequest,
  SyncDigestResponse,
  SyncKeysRequest,
  SyncKeysResponse,
} from '../protocol/schemas.js';
import { Traffic } from '../protocol/dashboard.js';
import {
  GOSSIP_PATH,
  INTERNAL_HEARTBEAT_PATH,
  INTERNAL_TRAFFIC_PATH,
  REPLICA_READ_PATH,
  REPLICA_WRITE_PATH,
  SYNC_DIGEST_PATH,
  SYNC_KEYS_PATH,
} from '../protocol/paths.js';
import { replyToGossip } from '../membership/source.js';
import type { NodeServices } from './app.js';

export interface InternalAnswer {
  status: number;
  body: unknown;
}

export interface InternalRoute {
  path: string;
  body: TSchema;
  /** Schemas of the answers by status. */
  responses: Record<number, TSchema>;
  /** Called with a body that passed `body`'s schema. */
  handle(body: never): Promise<InternalAnswer> | InternalAnswer;
}

function route<S extends TSchema>(path: string, body: S, responses: Record<number, TSchema>, handle: (body: S['static']) => Promise<InternalAnswer> | InternalAnswer): InternalRoute {
  return { path, body, responses, handle: handle as (body: never) => Promise<InternalAnswer> };
}

const ok = async (answer: unknown): Promise<InternalAnswer> => ({ status: 200, body: await answer });

export function internalRoutes(services: NodeServices): InternalRoute[] {
  return [
    route(GOSSIP_PATH, Gossip, { 200: Gossip, 409: GossipRejection }, (gossip) => replyToGossip(services, gossip)),
    route(INTERNAL_HEARTBEAT_PATH, EmptyRequest, { 200: Heartbeat }, () => ok(services.heartbeat())),
    route(INTERNAL_TRAFFIC_PATH, EmptyRequest, { 200: Traffic }, () => ok(services.traffic())),
    route(REPLICA_WRITE_PATH, ReplicaWriteRequest, { 200: ReplicaWriteResponse }, (request) => ok(services.replicas.write(request))),
    route(REPLICA_READ_PATH, ReplicaReadRequest, { 200: ReplicaReadResponse }, (request) => ok(services.replicas.read(request))),
    route(SYNC_DIGEST_PATH, SyncDigestRequest, { 200: SyncDigestResponse }, (request) => ok(services.sync.compareDigests(request))),
    route(SYNC_KEYS_PATH, SyncKeysRequest, { 200: SyncKeysResponse }, (request) => ok(services.sync.listKeys(request))),
  ];
}
