// Node-to-node authentication with the cluster secret: every internal request
// carries an HMAC-SHA256 over its method, path, timestamp and body hash, and
// every answer to an authenticated request carries one over the request's MAC,
// its status and its body. A node without the secret can neither ask nor
// answer: a forged gossip answer (a fake 409, a fake peer) is as useless as a
// forged request.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const TIME_HEADER = 'x-warehouse-time';
export const AUTH_HEADER = 'x-warehouse-auth';
/** A peer stream's upgrade carries each end's nonce in it: the client's is signed as the request's body, the server's as the answer's. */
export const NONCE_HEADER = 'x-warehouse-nonce';
/** How far a request's timestamp may be from the receiver's clock. */
export const MAX_CLOCK_SKEW_MS = 30_000;
export const MIN_SECRET_LENGTH = 16;

export type AuthHeaders = Record<typeof TIME_HEADER | typeof AUTH_HEADER, string>;

function bodyHash(body: string | Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

function mac(secret: string, ...parts: string[]): string {
  return createHmac('sha256', secret).update(parts.join('\n')).digest('hex');
}

function sameMac(expected: string, given: string | undefined): boolean {
  if (typeof given !== 'string' || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(expected), Buffer.from(given));
}

export function signRequest(secret: string, method: string, path: string, body: string | Buffer, now = Date.now()): AuthHeaders {
  const time = String(now);
  return { [TIME_HEADER]: time, [AUTH_HEADER]: mac(secret, 'request', method, path, time, bodyHash(body)) };
}

/** Cheap checks before the body is read: the headers are there and the timestamp is fresh. */
export function checkRequestHeaders(headers: Record<string, unknown>, now = Date.now()): string | null {
  const time = headers[TIME_HEADER];
  const auth = headers[AUTH_HEADER];
  if (typeof time !== 'string' || typeof auth !== 'string') return 'Internal routes need the cluster secret';
  const sent = /^\d{1,15}$/.test(time) ? Number(time) : NaN;
  if (!(Math.abs(now - sent) <= MAX_CLOCK_SKEW_MS)) return `Request timestamp is more than ${MAX_CLOCK_SKEW_MS / 1000} s from this node's clock`;
  return null;
}

/** Returns the request's MAC when it is authentic, null otherwise. */
export function verifyRequest(secret: string, method: string, path: string, headers: Record<string, unknown>, body: string | Buffer): string | null {
  const given = headers[AUTH_HEADER];
  const time = headers[TIME_HEADER];
  if (typeof given !== 'string' || typeof time !== 'string') return null;
  return sameMac(mac(secret, 'request', method, path, time, bodyHash(body)), given) ? given : null;
}

export function signResponse(secret: string, requestMac: string, status: number, body: string | Buffer): string {
  return mac(secret, 'response', requestMac, String(status), bodyHash(body));
}

export function verifyResponse(secret: string, requestMac: string, status: number, body: string | Buffer, given: unknown): boolean {
  return typeof given === 'string' && sameMac(signResponse(secret, requestMac, status, body), given);
}

/**
 * A peer stream's two frame keys, one per direction, from the secret and
 * both ends' fresh nonces: a recorded upgrade replayed to a node yields a
 * connection whose frames the replaying side cannot sign.
 */
export interface StreamKeys {
  toServer: Buffer;
  toClient: Buffer;
}

export function streamKeys(secret: string, clientNonce: string, serverNonce: string): StreamKeys {
  const key = (direction: string) => createHmac('sha256', secret).update(['stream', direction, clientNonce, serverNonce].join('\n')).digest();
  return { toServer: key('to-server'), toClient: key('to-client') };
}
