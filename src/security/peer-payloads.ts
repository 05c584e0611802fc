// The checks a schema cannot express on what peers send: values are JSON
// within the size limit, versions are not from the far future, and sync
// requests come from a member of the membership they name. A message that
// fails any of them is refused whole (400): a member never sends one.
import { Buffer } from 'node:buffer';
import type { NodeId, ReplicaRecord, ReplicaWriteRequest, SyncDigestRequest } from '../protocol/schemas.js';
import { isJson } from '../common/values.js';

/** How far ahead of this node's wall clock a version's clock may be (clock skew between leaders). */
export const MAX_CLOCK_AHEAD_MS = 60 * 60_000;
/** How far beyond the term this node knows a version's term may be (elections it has not heard of yet). */
export const MAX_TERM_STEP = 1_000_000;
// Versions' clocks are wall-clock milliseconds times 2^10 (see HybridClock).
const CLOCK_UNITS_PER_MS = 1024;

export class BadPeerRequest extends Error {
  readonly statusCode = 400;
}

export interface PeerLimits {
  maxValueBytes: number;
  /** The term this node knows now. */
  term: number;
  now: number;
}

export function recordProblem(record: ReplicaRecord, limits: PeerLimits): string | null {
  const [term, clock] = record.version;
  if (term > limits.term + MAX_TERM_STEP) return `version term ${term} is too far beyond this node's term ${limits.term}`;
  if (clock > (limits.now + MAX_CLOCK_AHEAD_MS) * CLOCK_UNITS_PER_MS) return `version clock ${clock} is too far in the future`;
  if (record.value !== null) {
    if (Buffer.byteLength(record.value) > limits.maxValueBytes) return `value of ${record.key} is larger than the limit of ${limits.maxValueBytes} bytes`;
    if (!isJson(record.value)) return `value of ${record.key} is not valid JSON`;
  }
  return null;
}

/** Throws BadPeerRequest unless every record of the write is acceptable. */
export function checkReplicaWrite(request: ReplicaWriteRequest, limits: PeerLimits): void {
  if (request.hintFor && request.hintFor.length !== request.records.length) throw new BadPeerRequest('hintFor must have one entry per record');
  for (const record of request.records) {
    const problem = recordProblem(record, limits);
    if (problem) throw new BadPeerRequest(problem);
  }
}

/** A digest or key-list request must come from a member of the membership it names, which includes us. */
export function checkSyncRequest(request: Pick<SyncDigestRequest, 'from' | 'members'>, self: NodeId): void {
  if (!request.members.includes(request.from)) throw new BadPeerRequest('the sender is not among the members it names');
  if (!request.members.includes(self)) throw new BadPeerRequest('this node is not among the members named');
}
