// What replication needs of a node's store, as a type: the LMDB store
// (store.ts) and the simulator's in-memory one (memory-store.ts) both provide
// it, and both decide what a replica write does with `applyRecord`.
import type { KnownRequest, ReplicaRecord, Version } from '../protocol/schemas.js';
import { compareVersions, isNewer } from '../replication/version.js';
import { invariant } from '../common/assert.js';

/** Per record of a batch: stored (or already held exactly), and the version held now. */
export interface ApplyResult {
  applied: boolean;
  current: Version;
}

export interface StoredRecord {
  version: Version;
  value: string | null;
}

/**
 * What a store reports of its writes. Changes are reported as each write is
 * made, in the order the store makes them, before they are durable: a reader
 * that keeps something derived from them (the anti-entropy digests) stays in
 * step with `inOrder` reads, and is told when a reported write did not commit.
 */
export interface ChangeWatcher {
  /** `key` went from `before` to `after` (undefined: no record). */
  changed(key: string, before: Version | undefined, after: Version | undefined): void;
  /** A reported write did not commit: whatever was derived from the reports must be rebuilt. */
  lost(): void;
}

export interface ReplicaStorage {
  get(key: string): StoredRecord | undefined;
  record(key: string): ReplicaRecord | null;
  knownRequest(id: string): KnownRequest | null;
  /** Resolves once the batch is durable; see ReplicaStore.apply. */
  apply(records: readonly ReplicaRecord[], hintFor?: readonly (string | null)[]): Promise<ApplyResult[]>;
  watch(watcher: ChangeWatcher): void;
  /** Runs `read` in the store's order of writes: it sees exactly the changes reported before it. */
  inOrder<T>(read: () => T): Promise<T>;
  removeIfUnchanged(entries: readonly { key: string; version: Version }[]): Promise<number>;
  pendingHints(): Generator<{ owner: string; key: string }>;
  hintCount(): number;
  dropHints(hints: readonly { owner: string; key: string }[]): Promise<void>;
  /** Records in key order, from a snapshot taken when the scan starts. */
  entries(start?: string, end?: string): Generator<ReplicaRecord>;
  getMeta<T>(name: string): T | undefined;
  putMeta(name: string, value: unknown): Promise<void>;
}

/** `hintFor`, when given, has one slot per record: a shorter one would leave hints unrecorded and a record's owner silently unrepaired. */
export function checkHintSlots(records: readonly ReplicaRecord[], hintFor: readonly (string | null)[] | undefined): void {
  invariant(hintFor === undefined || hintFor.length === records.length, () => `${records.length} records but ${hintFor?.length} hint slots`);
}

/**
 * Pending hints a node keeps at most. Beyond it a stand-in still stores the
 * copy but records no hint: the copy is then one the node holds for a key it
 * does not own, and repair hands it to the owners once they are back, as it
 * does after any membership change; hints only make that delivery sooner.
 */
export const MAX_PENDING_HINTS = 1_000_000;

/**
 * `hintFor` with the slots that would go past `limit` pending hints cleared
 * (about: concurrent batches may overshoot by one batch). `pending` is asked
 * only for a batch that carries a hint, not for every replica write: counting
 * them reads the database's statistics, which costs as much as a small write.
 */
export function hintsWithin(hintFor: readonly (string | null)[] | undefined, pending: () => number, limit: number): readonly (string | null)[] | undefined {
  if (!hintFor?.some((owner) => owner !== null)) return hintFor;
  let room = limit - pending();
  return hintFor.map((owner) => (owner !== null && room-- > 0 ? owner : null));
}

/**
 * The one rule of a replica write: a record is stored only if it is newer
 * than the copy held, so replays and out-of-order deliveries are harmless; a
 * record refused as not newer tells the writer what beat it.
 */
export function applyRecord(current: Version | undefined, incoming: Version): { store: boolean; result: ApplyResult } {
  const store = isNewer(incoming, current);
  if (store || !current) return { store, result: { applied: true, current: incoming } };
  return { store, result: { applied: compareVersions(current, incoming) === 0, current } };
}
