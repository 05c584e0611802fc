// The HTTP headers of conditional and idempotent writes, parsed into what the
// coordinator understands, with one-line errors for anything malformed.
import type { IncomingHttpHeaders } from 'node:http';
import type { Version } from '../protocol/schemas.js';
import type { WriteRequest } from '../replication/coordinator.js';
import { formatVersion, parseVersion } from '../replication/version.js';

export const VERSION_HEADER = 'x-warehouse-version';
export const IDEMPOTENCY_HEADER = 'idempotency-key';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function versionMismatch(current: Version | null): string {
  return `Version mismatch (current: ${current ? formatVersion(current) : 'absent'})`;
}

export function keyExists(current: Version): string {
  return `Key exists (current: ${formatVersion(current)})`;
}

/** A header sent once; repeated headers are ambiguous and refused. */
function single(headers: IncomingHttpHeaders, name: string): string | undefined | null {
  const value = headers[name];
  if (Array.isArray(value)) return null;
  return value;
}

/** `If-Match`, `If-None-Match: *` and `Idempotency-Key` of a PUT or DELETE. */
export function parseWriteHeaders(headers: IncomingHttpHeaders, method: 'PUT' | 'DELETE'): Omit<WriteRequest, 'value'> | { error: string } {
  const request: Omit<WriteRequest, 'value'> = {};
  const key = single(headers, IDEMPOTENCY_HEADER);
  if (key === null || (key !== undefined && !UUID.test(key))) return { error: 'Idempotency-Key must be one UUID' };
  if (key !== undefined) request.requestId = key.toLowerCase();
  const ifMatch = single(headers, 'if-match');
  const ifNoneMatch = single(headers, 'if-none-match');
  if (ifMatch !== undefined && ifNoneMatch !== undefined) return { error: 'If-Match and If-None-Match cannot be combined' };
  if (ifMatch !== undefined) {
    // An ETag-style quoted version is accepted too.
    const version = ifMatch === null ? null : parseVersion(ifMatch.replace(/^"(.*)"$/, '$1'));
    if (!version) return { error: 'If-Match must be one version as in x-warehouse-version (TERM.CLOCK.WRITER)' };
    request.condition = { ifVersion: version };
  }
  if (ifNoneMatch !== undefined) {
    if (method !== 'PUT') return { error: 'If-None-Match applies to PUT only' };
    if (ifNoneMatch?.trim() !== '*') return { error: 'If-None-Match accepts only *' };
    request.condition = { ifAbsent: true };
  }
  return request;
}
