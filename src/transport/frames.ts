// The framing of node-to-node streams: after an authenticated HTTP upgrade,
// each side sends length-prefixed frames, each carrying an HMAC over its
// sequence number and payload under a key only this connection's two ends
// know. A frame cannot be forged, replayed, reordered or moved to another
// connection without the cluster secret, as with the signed HTTP requests.
// Encoding and decoding are pure; the sockets are the caller's.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Writable } from 'node:stream';

/** Length prefix (4 bytes) and MAC (32 bytes) before each payload. */
const LENGTH_BYTES = 4;
const MAC_BYTES = 32;

export class FrameError extends Error {}

function frameMac(key: Buffer, seq: number, payload: Buffer): Buffer {
  const counter = Buffer.allocUnsafe(8);
  counter.writeBigUInt64BE(BigInt(seq));
  return createHmac('sha256', key).update(counter).update(payload).digest();
}

/** Seals the payloads one side sends, numbering them in order. */
export class FrameWriter {
  private seq = 0;

  constructor(private readonly key: Buffer) {}

  encode(payload: string): Buffer {
    const body = Buffer.from(payload, 'utf8');
    const frame = Buffer.allocUnsafe(LENGTH_BYTES + MAC_BYTES + body.length);
    frame.writeUInt32BE(MAC_BYTES + body.length, 0);
    frameMac(this.key, this.seq++, body).copy(frame, LENGTH_BYTES);
    body.copy(frame, LENGTH_BYTES + MAC_BYTES);
    return frame;
  }
}

/**
 * Cuts the bytes one side receives into payloads, checking each frame's MAC
 * against the next expected sequence number. Throws FrameError on a frame
 * above `maxPayloadBytes` (before buffering it) or with a wrong MAC: the
 * connection is then to be closed, since nothing after it can be trusted.
 */
export class FrameReader {
  private seq = 0;
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(
    private readonly key: Buffer,
    private readonly maxPayloadBytes: number,
  ) {}

  /** The payloads completed by `chunk`, in order. */
  push(chunk: Buffer): string[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const payloads: string[] = [];
    for (;;) {
      const length = this.peekLength();
      if (length === null || this.buffered < LENGTH_BYTES + length) break;
      const frame = this.take(LENGTH_BYTES + length);
      const mac = frame.subarray(LENGTH_BYTES, LENGTH_BYTES + MAC_BYTES);
      const body = frame.subarray(LENGTH_BYTES + MAC_BYTES);
      if (!timingSafeEqual(mac, frameMac(this.key, this.seq++, body))) throw new FrameError('frame not signed for this connection');
      payloads.push(body.toString('utf8'));
    }
    return payloads;
  }

  private peekLength(): number | null {
    if (this.buffered < LENGTH_BYTES) return null;
    const head = this.chunks[0]!.length >= LENGTH_BYTES ? this.chunks[0]! : this.take(this.buffered, false);
    const length = head.readUInt32BE(0);
    if (length < MAC_BYTES) throw new FrameError(`frame of ${length} bytes is shorter than its MAC`);
    if (length - MAC_BYTES > this.maxPayloadBytes) throw new FrameError(`frame of ${length - MAC_BYTES} bytes is above the limit of ${this.maxPayloadBytes}`);
    return length;
  }

  /** The first `bytes` buffered bytes as one buffer, removed unless `consume` is false. */
  private take(bytes: number, consume = true): Buffer {
    const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    const taken = joined.subarray(0, bytes);
    const rest = joined.subarray(bytes);
    this.chunks = consume ? (rest.length > 0 ? [rest] : []) : [joined];
    if (consume) this.buffered -= bytes;
    return taken;
  }
}

/**
 * Writes a frame; the frames written to one socket in the same tick (the
 * batcher's reads and writes to a peer, the answers a group commit releases)
 * leave in one write: on loopback each write costs about as much as waking
 * the receiver.
 */
export function sendFrame(socket: Writable, frame: Buffer): void {
  if (!socket.writableCorked) {
    socket.cork();
    process.nextTick(() => socket.uncork());
  }
  socket.write(frame);
}
