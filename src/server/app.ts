// The HTTP face of a node: the public API (heartbeat, documents) and the
// internal node-to-node routes, each validated against its schema.
import Fastify, { type FastifyError, type FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  ErrorBody,
  type Gossip,
  Heartbeat,
  NodeStats,
  WriteResult,
  type NodeId,
} from '../protocol/schemas.js';
import { KEY_ERROR, normalizeKey } from '../common/uuid.js';
import { VALUE_ERROR, isJson, tooLargeError } from '../common/values.js';
import type { Logger } from '../common/logger.js';
import type { ReceiveResult } from '../membership/machine.js';
import type { ReadOutcome, WriteOutcome, WriteRequest } from '../replication/coordinator.js';
import { UnavailableError, failureStatus, oneLine } from '../common/errors.js';
import type { ReplicaEndpoints } from '../replication/endpoints.js';
import { formatVersion } from '../replication/version.js';
import { VERSION_HEADER, versionMismatch, keyExists, parseWriteHeaders } from './conditions.js';
import { Traffic } from '../protocol/dashboard.js';
import {
  DOCUMENT_ROUTE,
  HEARTBEAT_PATH,
  STATS_PATH,
} from '../protocol/paths.js';
import { guardInternalRoutes } from '../security/internal-guard.js';
import { internalRoutes } from './internal-routes.js';
import { servePeerStreams } from './peer-streams.js';
import { guardPublicRoutes } from '../security/access-guard.js';
import type { NodeTls } from '../security/tls.js';
import type { TokenTable } from '../security/tokens.js';

export interface NodeServices {
  heartbeat(): Heartbeat;
  stats(): NodeStats;
  /** The document requests this node answered lately (the dashboard's charts). */
  traffic(): Traffic;
  leader(): { isLeader: boolean; leader: NodeId | null };
  receiveGossip(gossip: Gossip): Promise<{ result: ReceiveResult; answer: Gossip }>;
  documents: {
    read(key: string): Promise<ReadOutcome>;
    write(key: string, request: WriteRequest): Promise<WriteOutcome>;
  };
  replicas: ReplicaEndpoints['replicas'];
  sync: ReplicaEndpoints['sync'];
}

export interface ServerOptions {
  logger: Logger;
  maxValueBytes: number;
  /** Repair streams and hint deliveries send large batches between nodes. */
  maxInternalBytes: number;
  /** Shared by every member; signs and checks every internal request and answer. */
  clusterSecret: string;
  /** Serve HTTPS with this certificate; null for plain HTTP. */
  tls: NodeTls | null;
  /** Require a token of a sufficient role on every public route; null for an open API. */
  tokens: (() => TokenTable) | null;
}

const KeyParams = Type.Object({ key: Type.String() });
const Errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 412: ErrorBody, 413: ErrorBody, 503: ErrorBody };

// Typed loosely on purpose: every route, whatever its response schema, sends errors the same way.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyReply = FastifyReply<any, any, any, any, any, any, any, any>;

function sendError(reply: AnyReply, status: number, error: string, leader?: NodeId | null): void {
  void reply.code(status).send(leader === undefined ? { error } : { error, leader });
}

export function buildServer(services: NodeServices, options: ServerOptions) {
  const app = Fastify({
    // Requests are not logged one by one (that would halve throughput); errors are, below.
    logger: false,
    bodyLimit: options.maxInternalBytes,
    return503OnClosing: true,
    // Coercion would turn a tombstone's null into "" and accept malformed messages.
    ajv: { customOptions: { coerceTypes: false } },
    // Errors fastify raises before routing (a malformed URL) get the same one-line body as ours.
    frameworkErrors: (error, _request, reply) => sendError(reply, error.statusCode ?? 400, oneLine(error, 'Bad request')),
    // Typed as the plain HTTP server either way: the routes cannot tell.
    ...((options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {}) as object),
  }).withTypeProvider<TypeBoxTypeProvider>();
  const scheme = options.tls ? 'https' : 'http';
  if (options.tokens) guardPublicRoutes(app, options.tokens);

  app.setErrorHandler((error: FastifyError, _request, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, 413, tooLargeError(options.maxValueBytes));
    const status = failureStatus(error);
    if (status === 500) options.logger.error({ err: error }, 'request failed');
    return sendError(reply, status, oneLine(error));
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, 404, `No such endpoint: ${request.method} ${request.url}`));

  app.get(HEARTBEAT_PATH, { schema: { response: { 200: Heartbeat } } }, () => services.heartbeat());
  app.get(STATS_PATH, { schema: { response: { 200: NodeStats } } }, () => services.stats());

  void app.register((plugin, _options, registered) => {
    const documents = plugin.withTypeProvider<TypeBoxTypeProvider>();
    // Documents are kept as the exact text the client sent, so the body is
    // read as a string whatever its content type and checked as JSON here.
    documents.removeAllContentTypeParsers();
    documents.addContentTypeParser('*', { parseAs: 'string', bodyLimit: options.maxValueBytes }, (_request, body, done) =>
      done(null, body),
    );

    // A callback hook, not an async one: it runs on every document request.
    documents.addHook('preHandler', (request, reply, done) => {
      const { isLeader, leader } = services.leader();
      if (isLeader) return done();
      if (leader === null) return sendError(reply, 503, 'No leader elected yet', null);
      void reply.header('location', `${scheme}://${leader}${request.url}`);
      sendError(reply, 307, 'Not the leader', leader);
    });

    documents.get(DOCUMENT_ROUTE, { schema: { params: KeyParams } }, async (request, reply) => {
      const key = normalizeKey(request.params.key);
      if (!key) return sendError(reply, 400, KEY_ERROR);
      const outcome = await services.documents.read(key);
      if (!outcome.found) return sendError(reply, 404, 'Not found');
      return reply
        .header('content-type', 'application/json; charset=utf-8')
        .header(VERSION_HEADER, formatVersion(outcome.version))
        .send(outcome.value);
    });

    /** The answers a write can get besides success, each with the current version where there is one. */
    const refused = (reply: AnyReply, outcome: Exclude<WriteOutcome, { kind: 'written' }>): void => {
      if (outcome.kind === 'not-found') return sendError(reply, 404, 'Not found');
      if (outcome.current) void reply.header(VERSION_HEADER, formatVersion(outcome.current));
      if (outcome.kind === 'exists') return sendError(reply, 409, keyExists(outcome.current));
      sendError(reply, 412, versionMismatch(outcome.current));
    };

    documents.put(
      DOCUMENT_ROUTE,
      { schema: { params: KeyParams, response: { ...Errors, 200: WriteResult, 201: WriteResult } } },
      async (request, reply) => {
        const key = normalizeKey(request.params.key);
        if (!key) return sendError(reply, 400, KEY_ERROR);
        const value = typeof request.body === 'string' ? request.body : '';
        if (!isJson(value)) return sendError(reply, 400, VALUE_ERROR);
        const headers = parseWriteHeaders(request.headers, 'PUT');
        if ('error' in headers) return sendError(reply, 400, headers.error);
        const outcome = await services.documents.write(key, { value, ...headers });
        if (outcome.kind !== 'written') return refused(reply, outcome);
        return reply
          .code(outcome.result === 'created' ? 201 : 200)
          .header(VERSION_HEADER, formatVersion(outcome.version))
          .send({ result: outcome.result, replicas: outcome.replicas });
      },
    );

    documents.delete(
      DOCUMENT_ROUTE,
      { schema: { params: KeyParams, response: { ...Errors, 200: WriteResult } } },
      async (request, reply) => {
        const key = normalizeKey(request.params.key);
        if (!key) return sendError(reply, 400, KEY_ERROR);
        const headers = parseWriteHeaders(request.headers, 'DELETE');
        if ('error' in headers) return sendError(reply, 400, headers.error);
        const outcome = await services.documents.write(key, { value: null, ...headers });
        if (outcome.kind !== 'written') return refused(reply, outcome);
        return reply.header(VERSION_HEADER, formatVersion(outcome.version)).send({ result: 'deleted', replicas: outcome.replicas });
      },
    );

    documents.setErrorHandler((error: FastifyError, _request, reply) => {
      if (error instanceof UnavailableError) return sendError(reply, 503, error.message, services.leader().leader);
      if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, 413, tooLargeError(options.maxValueBytes));
      throw error;
    });
    registered();
  });

  // The node-to-node routes share the port but answer only members holding the cluster secret.
  const routes = internalRoutes(services);
  void app.register((plugin, _options, registered) => {
    guardInternalRoutes(plugin, options.clusterSecret);
    for (const internal of routes) {
      plugin.post(internal.path, { schema: { body: internal.body, response: internal.responses } }, async (request, reply) => {
        const answer = await internal.handle(request.body as never);
        return reply.code(answer.status).send(answer.body);
      });
    }
    registered();
  });
  const streams = servePeerStreams(app.server, routes, { secret: options.clusterSecret, maxPayloadBytes: options.maxInternalBytes, logger: options.logger });
  app.addHook('preClose', (done) => {
    streams.close();
    done();
  });

  return app;
}
