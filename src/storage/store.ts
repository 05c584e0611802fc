// The node's disk: LMDB (memory-mapped B+tree, crash-safe, group-committed
// writes). Documents are kept as the exact text the client sent, next to the
// version that decides which copy wins.
import { mkdirSync, accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { KnownRequest, RecordRequest, ReplicaRecord, Version, WriteResultKind } from '../protocol/schemas.js';
import { compareVersions } from '../replication/version.js';
import { MAX_PENDING_HINTS, applyRecord, checkHintSlots, hintsWithin, type ApplyResult, type ChangeWatcher, type ReplicaStorage, type StoredRecord } from './replicas.js';
import { DataDirError, STORE_FILE, checkStoreFile, lockDataDir, refusePseudoFileSystem } from './data-dir.js';

/**
 * On disk: [term, clock, writer, value or null for a tombstone], then the
 * idempotency key and answer of the client request that wrote it, if any.
 */
type Stored = [number, number, string, string | null] | [number, number, string, string | null, string, WriteResultKind];

/** Request index entry: [key, term, clock, writer, answer, wall-clock ms when indexed]. */
type IndexedRequest = [string, number, number, string, WriteResultKind, number];

/**
 * The request index is what makes a client's retry idempotent: it must outlive
 * the client's whole retry window (its failover timeout, 25 s by default) by
 * far, and stays bounded whatever the write rate.
 */
export const REQUEST_INDEX_LIMITS = { maxEntries: 200_000, maxAgeMs: 60 * 60 * 1000 };

export interface StoreOptions {
  now?: () => number;
  requestIndex?: typeof REQUEST_INDEX_LIMITS;
  maxHints?: number;
}
/** Expired entries dropped per write batch: pruning keeps pace without stalling a commit. */
const PRUNE_PER_BATCH = 256;

export type { ApplyResult, StoredRecord };

const MAX_TERM_KEY = 'maxRecordTerm';

export class StorageError extends Error {}

const HINT_SEPARATOR = '|';

function hintKey(owner: string, key: string): string {
  return `${owner}${HINT_SEPARATOR}${key}`;
}

function versionOf(stored: Stored): Version {
  return [stored[0], stored[1], stored[2]];
}

function requestOf(stored: Stored): RecordRequest | undefined {
  return stored.length === 6 ? { id: stored[4], result: stored[5] } : undefined;
}

function toStored(record: ReplicaRecord): Stored {
  const [term, clock, writer] = record.version;
  return record.request ? [term, clock, writer, record.value, record.request.id, record.request.result] : [term, clock, writer, record.value];
}

/** Sorts by time in the age index: fixed-width milliseconds, then the id. */
function ageKey(at: number, id: string): string {
  return `${String(at).padStart(15, '0')}|${id}`;
}

/** Entries in a database, from LMDB's own statistics: counting keys would walk them all. */
function entryCount(db: Database<unknown, string>): number {
  return (db.getStats() as { entryCount: number }).entryCount;
}

export class ReplicaStore implements ReplicaStorage {
  private readonly watchers: ChangeWatcher[] = [];
  private maxTerm: number;
  private requestCount: number;

  private constructor(
    private readonly root: RootDatabase,
    private readonly records: Database<Stored, string>,
    private readonly meta: Database<unknown, string>,
    private readonly hints: Database<null, string>,
    private readonly requests: Database<IndexedRequest, string>,
    private readonly requestAges: Database<null, string>,
    private readonly now: () => number,
    private readonly limits: typeof REQUEST_INDEX_LIMITS,
    private readonly maxHints: number,
    private readonly unlock: () => void,
  ) {
    this.maxTerm = (meta.get(MAX_TERM_KEY) as number | undefined) ?? 0;
    this.requestCount = entryCount(requests);
  }

  /** Opens (or creates) the store in `dir`; a clear StorageError when the folder is not usable. */
  static open(dir: string, { now = Date.now, requestIndex = REQUEST_INDEX_LIMITS, maxHints = MAX_PENDING_HINTS }: StoreOptions = {}): ReplicaStore {
    refusePseudoFileSystem(dir);
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
    } catch (error) {
      throw new StorageError(`data dir ${dir} is not writable (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
    const unlock = lockDataDir(dir);
    try {
      checkStoreFile(dir);
      const root = open({ path: join(dir, STORE_FILE), maxDbs: 8, mapSize: 2 ** 34 });
      return new ReplicaStore(
        root,
        root.openDB<Stored, string>({ name: 'records' }),
        root.openDB<unknown, string>({ name: 'meta' }),
        root.openDB<null, string>({ name: 'hints' }),
        root.openDB<IndexedRequest, string>({ name: 'requests' }),
        root.openDB<null, string>({ name: 'request-ages' }),
        now,
        requestIndex,
        maxHints,
        unlock,
      );
    } catch (error) {
      unlock();
      if (error instanceof DataDirError) throw error;
      throw new StorageError(`cannot open the store in ${dir}: ${(error as Error).message}`);
    }
  }

  get(key: string): StoredRecord | undefined {
    const stored = this.records.get(key);
    return stored && { version: versionOf(stored), value: stored[3] };
  }

  /** The record as replicas exchange it, with the request that wrote it. */
  record(key: string): ReplicaRecord | null {
    const stored = this.records.get(key);
    if (!stored) return null;
    const request = requestOf(stored);
    return { key, version: versionOf(stored), value: stored[3], ...(request ? { request } : {}) };
  }

  /** A client request this replica applied (for any key), while the index keeps it. */
  knownRequest(id: string): KnownRequest | null {
    const entry = this.requests.get(id);
    if (!entry || this.now() - entry[5] > this.limits.maxAgeMs) return null;
    return { key: entry[0], version: [entry[1], entry[2], entry[3]], result: entry[4] };
  }

  /**
   * The highest term of any record ever applied here: a node must never lead
   * at a lower term than data it holds. Kept as metadata, never scanned.
   */
  highestTerm(): number {
    return this.maxTerm;
  }

  /** From the database's own statistics: counting keys would walk every record on each metrics scrape. */
  count(): number {
    return entryCount(this.records);
  }

  /** Bytes of the data file in use (LMDB's pages up to the last one written), for metrics. */
  sizeBytes(): number {
    const { pageSize, lastPageNumber } = this.root.getStats() as { pageSize: number; lastPageNumber: number };
    return (lastPageNumber + 1) * pageSize;
  }

  /**
   * Applies each record only if it is newer than the stored copy, so replays and
   * out-of-order deliveries are harmless. Resolves once the batch is on disk
   * (fsynced): an acknowledged write survives SIGKILL and power loss.
   * `hintFor[i]` names the owner that record i stands in for (hinted handoff).
   * Returns, per record, whether it is now held here and the version held:
   * a record refused as not newer tells the writer what beat it.
   */
  async apply(records: readonly ReplicaRecord[], hintSlots?: readonly (string | null)[]): Promise<ApplyResult[]> {
    checkHintSlots(records, hintSlots);
    const hintFor = hintsWithin(hintSlots, () => this.hintCount(), this.maxHints);
    const now = this.now();
    const results = await this.reporting(() => {
      const applied = records.map((record, i): ApplyResult => {
        const stored = this.records.get(record.key);
        const before = stored && versionOf(stored);
        const decision = applyRecord(before, record.version);
        if (decision.store) {
          this.records.putSync(record.key, toStored(record));
          this.report(record.key, before, record.version);
          if (record.request) this.indexRequest(record, now);
          if (record.version[0] > this.maxTerm) this.raiseMaxTerm(record.version[0]);
        }
        const owner = hintFor?.[i];
        if (owner) this.hints.putSync(hintKey(owner, record.key), null);
        return decision.result;
      });
      this.pruneRequests(now);
      return applied;
    });
    await this.root.flushed;
    return results;
  }

  private indexRequest(record: ReplicaRecord, now: number): void {
    const { id, result } = record.request!;
    if (this.requests.get(id) === undefined) this.requestCount++;
    this.requests.putSync(id, [record.key, record.version[0], record.version[1], record.version[2], result, now]);
    this.requestAges.putSync(ageKey(now, id), null);
  }

  /** Drops the oldest index entries beyond the count limit or older than the age limit. */
  private pruneRequests(now: number): void {
    let budget = PRUNE_PER_BATCH;
    for (const age of this.requestAges.getKeys({ limit: PRUNE_PER_BATCH })) {
      const at = Number(age.slice(0, 15));
      if (budget-- <= 0 || (this.requestCount <= this.limits.maxEntries && now - at <= this.limits.maxAgeMs)) break;
      const id = age.slice(16);
      this.requestAges.removeSync(age);
      const entry = this.requests.get(id);
      // A re-indexed id has a newer age entry; only its latest one removes it.
      if (entry && entry[5] === at) {
        this.requests.removeSync(id);
        this.requestCount--;
      }
    }
  }

  private raiseMaxTerm(term: number): void {
    this.maxTerm = term;
    this.meta.putSync(MAX_TERM_KEY, term);
  }

  watch(watcher: ChangeWatcher): void {
    this.watchers.push(watcher);
  }

  /** A transaction callback runs in LMDB's order of writes, on this thread, so a read in one sees every write reported before it. */
  inOrder<T>(read: () => T): Promise<T> {
    return this.records.transaction(read);
  }

  private report(key: string, before: Version | undefined, after: Version | undefined): void {
    for (const watcher of this.watchers) watcher.changed(key, before, after);
  }

  /** Runs `write` in a transaction; changes reported by a transaction that fails to commit are declared lost. */
  private async reporting<T>(write: () => T): Promise<T> {
    try {
      return await this.records.transaction(write);
    } catch (error) {
      for (const watcher of this.watchers) watcher.lost();
      throw error;
    }
  }

  /**
   * Removes a record only if it still has `version`: a copy handed to its
   * owners, or an expired tombstone, must not take a newer write with it.
   */
  async removeIfUnchanged(entries: readonly { key: string; version: Version }[]): Promise<number> {
    const removed = await this.reporting(() =>
      entries.filter(({ key, version }) => {
        const current = this.records.get(key);
        if (!current || compareVersions(versionOf(current), version) !== 0) return false;
        this.records.removeSync(key);
        this.report(key, version, undefined);
        return true;
      }),
    );
    await this.root.flushed;
    return removed.length;
  }

  /** Hinted writes still to deliver, as (owner, key) pairs. */
  *pendingHints(): Generator<{ owner: string; key: string }> {
    for (const id of this.hints.getKeys({ snapshot: true })) {
      const split = id.indexOf(HINT_SEPARATOR);
      yield { owner: id.slice(0, split), key: id.slice(split + 1) };
    }
  }

  /** Asked with every gossip message, so read from the statistics, not counted. */
  hintCount(): number {
    return entryCount(this.hints);
  }

  async dropHints(hints: readonly { owner: string; key: string }[]): Promise<void> {
    await this.hints.transaction(() => {
      for (const { owner, key } of hints) this.hints.removeSync(hintKey(owner, key));
    });
  }

  /** Every record in key order; the scan reads a consistent snapshot lazily. */
  *entries(start?: string, end?: string): Generator<ReplicaRecord> {
    for (const { key, value } of this.records.getRange({ start, end, snapshot: true })) {
      const request = requestOf(value);
      yield { key, version: versionOf(value), value: value[3], ...(request ? { request } : {}) };
    }
  }

  getMeta<T>(name: string): T | undefined {
    return this.meta.get(name) as T | undefined;
  }

  async putMeta(name: string, value: unknown): Promise<void> {
    await this.meta.put(name, value);
    await this.root.flushed;
  }

  async close(): Promise<void> {
    await this.root.close();
    this.unlock();
  }
}
