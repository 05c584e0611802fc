// The leader's decisions, as pure functions of what the replicas answered:
// which copy is the newest, whether the answers are complete enough to act
// on, what a write or a read must answer, and whether a fan-out succeeded.
// The coordinator does the I/O around them; tests drive them directly.
import type { KnownRequest, ReplicaRecord, Version, WriteResultKind } from '../protocol/schemas.js';
import { compareVersions } from './version.js';

/** One node's answer: its copy, null when it holds nothing, undefined when it did not answer. */
export type Copy = ReplicaRecord | null | undefined;

/** What the leader learned by asking the nodes about one key before acting. */
export interface Survey {
  /** One answer per owner of the key. */
  owners: readonly Copy[];
  /** Answers of other alive nodes (stand-ins, former owners); asked only when the owners cannot settle it. */
  others: readonly Copy[];
  /** The client request being retried, as some node remembers having applied it; null if none does. */
  known: KnownRequest | null;
  /** The leader's current term. */
  term: number;
  /** The last version this leader gave the key in its current term, if it still remembers. */
  lastIssued: Version | undefined;
}

/** A write's precondition: the current version must be this one, or the key must be absent. */
export type Condition = { ifVersion: Version } | { ifAbsent: true };

export type WriteDecision =
  /** The request was applied before (a retry): answer what the first attempt answered. */
  | { kind: 'replay'; result: WriteResultKind; version: Version }
  | { kind: 'unavailable'; reason: string }
  /** If-Match failed: the current version (null when the key is absent). */
  | { kind: 'version-mismatch'; current: Version | null }
  /** If-None-Match: * failed: the key exists with this version. */
  | { kind: 'exists'; current: Version }
  /** A DELETE of a key that is absent: nothing to write. */
  | { kind: 'not-found' }
  /** Write, with a version above `above` (the newest copy found), and answer `result`. */
  | { kind: 'write'; result: WriteResultKind; above: Version | null };

export type ReadDecision =
  | { kind: 'unavailable'; reason: string }
  | { kind: 'found'; record: ReplicaRecord & { value: string } }
  | { kind: 'not-found'; newest: ReplicaRecord | null };

export const OWNER_SILENT = 'An owner of the key did not answer';

export function newest(copies: readonly Copy[]): ReplicaRecord | null {
  let best: ReplicaRecord | null = null;
  for (const copy of copies) if (copy && (!best || compareVersions(copy.version, best.version) > 0)) best = copy;
  return best;
}

/** Do the owners' answers leave no doubt, so that `others` need not be asked? */
export function ownersSettle(owners: readonly Copy[]): boolean {
  return owners.every((copy) => copy !== undefined) && owners.some((copy) => copy !== null);
}

/**
 * The newest copy, and whether it is certainly the newest. It is when every
 * owner answered; with a silent owner only when the newest copy is the last
 * version this leader itself gave the key in its term (nothing newer can exist
 * then, short of a second leader in a partition). Otherwise the silent owner
 * may hold the only or the newest copy.
 */
export function settle(survey: Survey): { newest: ReplicaRecord | null; certain: boolean } {
  const found = newest([...survey.owners, ...survey.others]);
  if (survey.owners.every((copy) => copy !== undefined)) return { newest: found, certain: true };
  const issued = survey.lastIssued;
  const mine = found !== null && issued !== undefined && found.version[0] === survey.term && compareVersions(found.version, issued) === 0;
  return { newest: found, certain: mine };
}

export function decideRead(survey: Survey): ReadDecision {
  if (survey.owners.length > 0 && survey.owners.every((copy) => copy === undefined)) return { kind: 'unavailable', reason: 'Failed to read an entry' };
  const { newest: found, certain } = settle(survey);
  if (!certain) return { kind: 'unavailable', reason: OWNER_SILENT };
  if (found === null || found.value === null) return { kind: 'not-found', newest: found };
  return { kind: 'found', record: found as ReplicaRecord & { value: string } };
}

/** `value` null is a DELETE. */
export function decideWrite(survey: Survey, key: string, value: string | null, condition?: Condition): WriteDecision {
  if (survey.known && survey.known.key === key) return { kind: 'replay', result: survey.known.result, version: survey.known.version };
  if (survey.owners.length > 0 && survey.owners.every((copy) => copy === undefined)) return { kind: 'unavailable', reason: 'Failed to write an entry' };
  const { newest: found, certain } = settle(survey);
  if (!certain) return { kind: 'unavailable', reason: OWNER_SILENT };
  const live = found !== null && found.value !== null;
  const above = found?.version ?? null;
  if (condition && 'ifAbsent' in condition) {
    if (live) return { kind: 'exists', current: found.version };
  } else if (condition) {
    if (!live || compareVersions(found.version, condition.ifVersion) !== 0) return { kind: 'version-mismatch', current: live ? found.version : null };
  }
  if (value === null) return live ? { kind: 'write', result: 'deleted', above } : { kind: 'not-found' };
  return { kind: 'write', result: live ? 'updated' : 'created', above };
}

/** How a fan-out went: owners and stand-ins that hold the write, and the newest version that refused it. */
export interface FanoutResult {
  ownersHolding: number;
  standInsHolding: number;
  /** A version newer than the write's that some replica holds (it refused the write); null if none. */
  beatenBy: Version | null;
}

/**
 * Per replica: the version it holds after the write, or undefined when it did not answer.
 * Equal to `mine`: it holds the write; newer: the write lost there.
 */
export function judgeFanout(mine: Version, owners: readonly (Version | undefined)[], standIns: readonly (Version | undefined)[]): FanoutResult {
  let beatenBy: Version | null = null;
  const holding = (versions: readonly (Version | undefined)[]) =>
    versions.filter((version) => {
      if (version === undefined) return false;
      const order = compareVersions(version, mine);
      if (order > 0 && (beatenBy === null || compareVersions(version, beatenBy) > 0)) beatenBy = version;
      return order === 0;
    }).length;
  return { ownersHolding: holding(owners), standInsHolding: holding(standIns), beatenBy };
}
