// The server side of peer streams: a member upgrades one HTTP connection,
// proving it holds the cluster secret, and then sends framed requests for the
// internal routes over it; each is validated against its route's schema and
// answered, in whatever order the answers are ready. One upgrade per peer
// instead of one HTTP exchange per batch: no headers to parse, no per-request
// signatures and hashes, and a single long-lived socket per peer pair.
import { randomBytes } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { AUTH_HEADER, NONCE_HEADER, checkRequestHeaders, signResponse, streamKeys, verifyRequest, type StreamKeys } from '../security/cluster-auth.js';
import { PEER_STREAM_PATH, PEER_STREAM_PROTOCOL } from '../protocol/paths.js';
import { StreamRequest, checker } from '../protocol/schemas.js';
import { FrameReader, FrameWriter, sendFrame } from '../transport/frames.js';
import { failureStatus, oneLine } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { InternalAnswer, InternalRoute } from './internal-routes.js';

export interface PeerStreamOptions {
  secret: string;
  /** Largest request body, as for the internal HTTP routes. */
  maxPayloadBytes: number;
  logger: Logger;
}

/** Room for a frame's envelope (id, path) around a body of the largest size. */
const ENVELOPE_BYTES = 1024;
const NONCE = /^[0-9a-f]{64}$/;
const isStreamRequest = checker(StreamRequest);

interface CompiledRoute {
  route: InternalRoute;
  check: ReturnType<typeof TypeCompiler.Compile>;
}

/** Refuses an upgrade with an ordinary HTTP answer and closes the socket. */
function refuse(socket: Duplex, status: number, error: string): null {
  const body = JSON.stringify({ error });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  return null;
}

/** Serves peer streams on `server`'s upgrades; `close` ends every open stream (a server's close waits for them). */
export function servePeerStreams(server: Server, routes: readonly InternalRoute[], options: PeerStreamOptions): { close(): void } {
  const table = new Map<string, CompiledRoute>(routes.map((route) => [route.path, { route, check: TypeCompiler.Compile(route.body) }]));
  const open = new Set<Duplex>();

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const keys = acceptUpgrade(request, socket, options.secret);
    if (!keys) return;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    // An HTTP server's upgraded connection is its TCP (or TLS) socket.
    serveFrames(socket as Socket, head, keys, table, options);
  });

  return {
    close: () => {
      for (const socket of open) socket.destroy();
      open.clear();
    },
  };
}

/** Answers the upgrade: the stream's keys when the peer proved it holds the secret, null when refused (and closed). */
function acceptUpgrade(request: IncomingMessage, socket: Duplex, secret: string): StreamKeys | null {
  if (request.url !== PEER_STREAM_PATH || request.headers.upgrade !== PEER_STREAM_PROTOCOL) return refuse(socket, 404, `No such endpoint: upgrade of ${request.url}`);
  const problem = checkRequestHeaders(request.headers);
  if (problem) return refuse(socket, 401, problem);
  const clientNonce = request.headers[NONCE_HEADER];
  if (typeof clientNonce !== 'string' || !NONCE.test(clientNonce)) return refuse(socket, 400, `${NONCE_HEADER} must be 64 hex digits`);
  const requestMac = verifyRequest(secret, 'GET', PEER_STREAM_PATH, request.headers, clientNonce);
  if (!requestMac) return refuse(socket, 403, "Request is not signed with this cluster's secret");
  const serverNonce = randomBytes(32).toString('hex');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: ${PEER_STREAM_PROTOCOL}\r\n` +
      `${NONCE_HEADER}: ${serverNonce}\r\n${AUTH_HEADER}: ${signResponse(secret, requestMac, 101, serverNonce)}\r\n\r\n`,
  );
  return streamKeys(secret, clientNonce, serverNonce);
}

/** Reads requests from an accepted stream and writes each answer when it is ready. */
function serveFrames(socket: Socket, head: Buffer, keys: StreamKeys, table: Map<string, CompiledRoute>, options: PeerStreamOptions): void {
  socket.setNoDelay(true);
  const reader = new FrameReader(keys.toServer, options.maxPayloadBytes + ENVELOPE_BYTES);
  const writer = new FrameWriter(keys.toClient);
  // Only a member sends signed frames: one that breaks the protocol is a bug on its side, and the stream is ended.
  const close = (why: string, err?: string) => {
    options.logger.warn({ peer: socket.remoteAddress, ...(err ? { err } : {}) }, `${why} on a peer stream: closing it`);
    socket.destroy();
  };
  const answer = async (payload: string) => {
    const message = parseJson(payload);
    if (!isStreamRequest(message)) return close('malformed frame');
    const reply = await dispatch(table, message, options.logger);
    if (!socket.destroyed) sendFrame(socket, writer.encode(JSON.stringify({ id: message.id, status: reply.status, body: reply.body })));
  };
  const receive = (chunk: Buffer) => {
    let payloads: string[];
    try {
      payloads = reader.push(chunk);
    } catch (error) {
      return close('bad frame', oneLine(error));
    }
    for (const payload of payloads) void answer(payload);
  };
  socket.on('data', receive);
  if (head.length > 0) receive(head);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

async function dispatch(table: Map<string, CompiledRoute>, request: StreamRequest, logger: Logger): Promise<InternalAnswer> {
  const entry = table.get(request.path);
  if (!entry) return { status: 404, body: { error: `No such endpoint: POST ${request.path}` } };
  if (!entry.check.Check(request.body)) {
    const problem = entry.check.Errors(request.body).First();
    return { status: 400, body: { error: `body${problem?.path ?? ''} ${problem?.message ?? 'is malformed'}` } };
  }
  try {
    return await entry.route.handle(request.body as never);
  } catch (error) {
    const status = failureStatus(error);
    if (status === 500) logger.error({ err: error, path: request.path }, 'peer stream request failed');
    return { status, body: { error: oneLine(error) } };
  }
}
