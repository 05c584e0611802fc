// One peer stream, the client's side: an HTTP upgrade that both ends sign
// with the cluster secret, then numbered requests in signed frames, answered
// in any order. Requests sent before the upgrade completes wait for it. Any
// failure (refused, reset, a frame that is not the peer's) ends the stream and
// fails every request on it; the caller opens a new one for the next request.
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { NodeId } from '../protocol/schemas.js';
import { StreamResponse, checker } from '../protocol/schemas.js';
import { PEER_STREAM_PATH, PEER_STREAM_PROTOCOL } from '../protocol/paths.js';
import { AUTH_HEADER, NONCE_HEADER, signRequest, streamKeys, verifyResponse, type StreamKeys } from '../security/cluster-auth.js';
import { parseAddress } from '../common/address.js';
import { FrameReader, FrameWriter, sendFrame } from './frames.js';

export interface PeerConnectionOptions {
  secret: string;
  tls: { ca?: Buffer } | null;
  localAddress?: string;
  /** Largest answer accepted (a repair's key list can be large). */
  maxPayloadBytes: number;
}

/** The peer refused the upgrade or answered it without this cluster's signature: it answers, but is not one of us. */
export class StreamRefused extends Error {}

export interface StreamAnswer {
  status: number;
  body: unknown;
}

const isStreamResponse = checker(StreamResponse);

interface Pending {
  resolve(answer: StreamAnswer): void;
  reject(error: Error): void;
}

export class PeerConnection {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  /** Frames asked for before the upgrade completed. */
  private waiting: string[] = [];
  private socket: Socket | null = null;
  private writer: FrameWriter | null = null;
  private readonly upgrade: ClientRequest;
  private failure: Error | null = null;

  constructor(
    peer: NodeId,
    private readonly options: PeerConnectionOptions,
    /** Told once, when the stream has ended, so the owner can drop it. */
    private readonly ended: (connection: PeerConnection) => void,
  ) {
    const { host, port } = parseAddress(peer);
    const nonce = randomBytes(32).toString('hex');
    const auth = signRequest(options.secret, 'GET', PEER_STREAM_PATH, nonce);
    this.upgrade = (options.tls ? httpsRequest : httpRequest)({
      host,
      port,
      method: 'GET',
      path: PEER_STREAM_PATH,
      agent: false,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      ...(options.tls?.ca ? { ca: options.tls.ca } : {}),
      headers: { connection: 'Upgrade', upgrade: PEER_STREAM_PROTOCOL, [NONCE_HEADER]: nonce, ...auth },
    });
    this.upgrade.on('upgrade', (response: IncomingMessage, socket: Socket, head: Buffer) => {
      const serverNonce = response.headers[NONCE_HEADER];
      if (typeof serverNonce !== 'string' || !verifyResponse(options.secret, auth[AUTH_HEADER], 101, serverNonce, response.headers[AUTH_HEADER])) {
        socket.destroy();
        return this.fail(new StreamRefused("HTTP 101 not signed with this cluster's secret"));
      }
      this.open(socket, head, streamKeys(options.secret, nonce, serverNonce));
    });
    this.upgrade.on('response', (response: IncomingMessage) => {
      response.resume();
      this.fail(new StreamRefused(`HTTP ${response.statusCode} not signed with this cluster's secret`));
    });
    this.upgrade.on('error', (error) => this.fail(error));
    this.upgrade.end();
  }

  /** Sends one request; `cancel` forgets it, so that a late answer is dropped. */
  request(path: string, body: unknown): { answer: Promise<StreamAnswer>; cancel: () => void } {
    const id = this.nextId++;
    const answer = new Promise<StreamAnswer>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.pending.set(id, { resolve, reject });
      const payload = JSON.stringify({ id, path, body });
      if (this.writer) sendFrame(this.socket!, this.writer.encode(payload));
      else this.waiting.push(payload);
    });
    return { answer, cancel: () => this.pending.delete(id) };
  }

  /** Ends the stream; every request still on it fails with `error`. */
  fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.waiting = [];
    this.upgrade.destroy();
    this.socket?.destroy();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const request of pending) request.reject(error);
    this.ended(this);
  }

  private open(socket: Socket, head: Buffer, keys: StreamKeys): void {
    if (this.failure) {
      socket.destroy();
      return;
    }
    this.socket = socket;
    socket.setNoDelay(true);
    const reader = new FrameReader(keys.toClient, this.options.maxPayloadBytes);
    const receive = (chunk: Buffer) => {
      try {
        for (const payload of reader.push(chunk)) {
          const message: unknown = JSON.parse(payload);
          if (!isStreamResponse(message)) throw new Error('malformed frame');
          const request = this.pending.get(message.id);
          this.pending.delete(message.id);
          request?.resolve({ status: message.status, body: message.body });
        }
      } catch (error) {
        this.fail(new Error(`the peer's stream broke: ${(error as Error).message}`));
      }
    };
    socket.on('data', receive);
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('the peer closed the connection')));
    this.writer = new FrameWriter(keys.toServer);
    for (const payload of this.waiting) sendFrame(socket, this.writer.encode(payload));
    this.waiting = [];
    if (head.length > 0) receive(head);
  }
}
