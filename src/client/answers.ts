import { ErrorBody, checker } from '../protocol/schemas.js';
import type { Answer } from './transport.js';

const isErrorBody = checker(ErrorBody);

/** What the client should do with a node's answer to a document request. */
export type Verdict =
  | { kind: 'ok' }
  | { kind: 'not-found' }
  | { kind: 'redirect'; leader: string }
  | { kind: 'retry'; reason: string }
  | { kind: 'invalid'; message: string }
  /** The token was refused: none or unknown (401), or too weak a role (403). */
  | { kind: 'denied'; status: 401 | 403; message: string }
  /** A condition failed (HTTP 412 If-Match, 409 If-None-Match); `current` is the version now, null if absent. */
  | { kind: 'conflict'; status: 409 | 412; message: string; current: string | null }
  | { kind: 'unexpected'; message: string };

export function judgeAnswer({ status, text, version }: Answer): Verdict {
  const body = errorBody(text);
  if (status === 200 || status === 201) return { kind: 'ok' };
  if (status === 404) return { kind: 'not-found' };
  if (status === 409 || status === 412) {
    const fallback = status === 412 ? `Version mismatch (current: ${version ?? 'absent'})` : `Key exists (current: ${version ?? 'unknown'})`;
    return { kind: 'conflict', status, message: body?.error ?? fallback, current: version ?? null };
  }
  if (status === 307 || status === 308) {
    // A redirect that names nobody is as good as "no leader yet": wait and ask around.
    return body?.leader ? { kind: 'redirect', leader: body.leader } : { kind: 'retry', reason: describe(status, body) };
  }
  if (status === 401 || status === 403) return { kind: 'denied', status, message: body?.error ?? (status === 401 ? 'Unauthorized' : 'Forbidden') };
  if (status === 502 || status === 503 || status === 504) return { kind: 'retry', reason: describe(status, body) };
  if (status === 400 || status === 413 || status === 415) {
    return { kind: 'invalid', message: body?.error ?? `The request was rejected (HTTP ${status})` };
  }
  return { kind: 'unexpected', message: `Unexpected answer: ${describe(status, body)}` };
}

function errorBody(text: string): ErrorBody | null {
  try {
    const parsed: unknown = JSON.parse(text);
    return isErrorBody(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

function describe(status: number, body: ErrorBody | null): string {
  return body ? `HTTP ${status} ${body.error}` : `HTTP ${status}`;
}
