// A replica store in memory, for the simulator: the same answers as the LMDB
// store (the write rule is the shared `applyRecord`), with its durability made
// explicit. A batch is visible as soon as it is applied, as an LMDB commit is,
// and answered only once `durable()` resolves, as LMDB's fsync is awaited;
// `crash` rolls back batches that were not durable yet, newest first.
import type { KnownRequest, ReplicaRecord, Version, WriteResultKind } from '../protocol/schemas.js';
import { compareVersions } from '../replication/version.js';
import { REQUEST_INDEX_LIMITS } from './store.js';
import { MAX_PENDING_HINTS, applyRecord, checkHintSlots, hintsWithin, type ApplyResult, type ChangeWatcher, type ReplicaStorage, type StoredRecord } from './replicas.js';

interface IndexedRequest {
  key: string;
  version: Version;
  result: WriteResultKind;
  at: number;
}

export interface MemoryStoreOptions {
  now: () => number;
  /** Resolves when what was applied so far is on (simulated) disk. */
  durable: () => Promise<void>;
  maxHints?: number;
}

const HINT_SEPARATOR = '|';

/** Index of the first key not below `bound` in sorted `keys`. */
function firstAtLeast(keys: readonly string[], bound: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (keys[middle]! < bound) low = middle + 1;
    else high = middle;
  }
  return low;
}

export class MemoryStore implements ReplicaStorage {
  private readonly records = new Map<string, ReplicaRecord>();
  private readonly hints = new Set<string>();
  private readonly requests = new Map<string, IndexedRequest>();
  private readonly meta = new Map<string, unknown>();
  private maxTerm = 0;
  private watchers: ChangeWatcher[] = [];
  /** The keys in order, kept as they come and go: the digests read the store one small range at a time. */
  private readonly sortedKeys: string[] = [];
  /** Undo steps of each batch not yet durable, oldest batch first. */
  private volatile: (() => void)[][] = [];

  constructor(private readonly options: MemoryStoreOptions) {}

  get(key: string): StoredRecord | undefined {
    const record = this.records.get(key);
    return record && { version: record.version, value: record.value };
  }

  record(key: string): ReplicaRecord | null {
    return this.records.get(key) ?? null;
  }

  knownRequest(id: string): KnownRequest | null {
    const entry = this.requests.get(id);
    if (!entry || this.options.now() - entry.at > REQUEST_INDEX_LIMITS.maxAgeMs) return null;
    return { key: entry.key, version: entry.version, result: entry.result };
  }

  async apply(records: readonly ReplicaRecord[], hintSlots?: readonly (string | null)[]): Promise<ApplyResult[]> {
    checkHintSlots(records, hintSlots);
    const hintFor = hintsWithin(hintSlots, () => this.hintCount(), this.options.maxHints ?? MAX_PENDING_HINTS);
    const undo = this.begin();
    const results = records.map((record, i) => {
      const decision = applyRecord(this.records.get(record.key)?.version, record.version);
      if (decision.store) {
        this.setRecord(undo, record.key, record);
        if (record.version[0] > this.maxTerm) this.raiseMaxTerm(undo, record.version[0]);
        if (record.request) this.setRequest(undo, record.request.id, { key: record.key, version: record.version, result: record.request.result, at: this.options.now() });
      }
      const owner = hintFor?.[i];
      if (owner) this.addHint(undo, `${owner}${HINT_SEPARATOR}${record.key}`);
      return decision.result;
    });
    await this.commit(undo);
    return results;
  }

  async removeIfUnchanged(entries: readonly { key: string; version: Version }[]): Promise<number> {
    const undo = this.begin();
    const removed = entries.filter(({ key, version }) => {
      const current = this.records.get(key);
      if (!current || compareVersions(current.version, version) !== 0) return false;
      this.setRecord(undo, key, undefined);
      return true;
    });
    await this.commit(undo);
    return removed.length;
  }

  watch(watcher: ChangeWatcher): void {
    this.watchers.push(watcher);
  }

  /** Writes are applied synchronously here, so any read is in order. */
  inOrder<T>(read: () => T): Promise<T> {
    return new Promise((resolve) => resolve(read()));
  }

  /** Forgets the watchers of a process that crashed: its successor registers its own. */
  unwatchAll(): void {
    this.watchers = [];
  }

  *pendingHints(): Generator<{ owner: string; key: string }> {
    for (const id of [...this.hints].sort()) {
      const split = id.indexOf(HINT_SEPARATOR);
      yield { owner: id.slice(0, split), key: id.slice(split + 1) };
    }
  }

  hintCount(): number {
    return this.hints.size;
  }

  async dropHints(hints: readonly { owner: string; key: string }[]): Promise<void> {
    const undo = this.begin();
    for (const { owner, key } of hints) {
      const id = `${owner}${HINT_SEPARATOR}${key}`;
      if (this.hints.delete(id)) undo.push(() => this.hints.add(id));
    }
    await this.commit(undo);
  }

  *entries(start?: string, end?: string): Generator<ReplicaRecord> {
    const keys = this.sortedKeys;
    const from = start === undefined ? 0 : firstAtLeast(keys, start);
    const to = end === undefined ? keys.length : firstAtLeast(keys, end);
    const snapshot = keys.slice(from, to).map((key) => this.records.get(key)!);
    yield* snapshot;
  }

  getMeta<T>(name: string): T | undefined {
    return this.meta.get(name) as T | undefined;
  }

  async putMeta(name: string, value: unknown): Promise<void> {
    const undo = this.begin();
    const before = this.meta.get(name);
    const had = this.meta.has(name);
    this.meta.set(name, value);
    undo.push(() => (had ? this.meta.set(name, before) : this.meta.delete(name)));
    await this.commit(undo);
  }

  /** The highest term of any record ever stored, as the LMDB store keeps it: removals do not lower it. */
  highestTerm(): number {
    return this.maxTerm;
  }

  /** Every record held, in key order. */
  all(): ReplicaRecord[] {
    return [...this.entries()];
  }

  /**
   * The process died: of the batches not yet durable, the oldest `keep` made
   * it to disk and the others are rolled back. Their callers never hear back.
   */
  crash(keep: number): void {
    for (const undo of this.volatile.slice(keep).reverse()) for (const step of undo.reverse()) step();
    this.volatile = [];
    this.unwatchAll();
  }

  /** Batches applied but not durable yet. */
  volatileBatches(): number {
    return this.volatile.length;
  }

  private begin(): (() => void)[] {
    const undo: (() => void)[] = [];
    this.volatile.push(undo);
    return undo;
  }

  private async commit(undo: (() => void)[]): Promise<void> {
    await this.options.durable();
    // Durable in order, as one log: every batch before this one is durable too.
    const at = this.volatile.indexOf(undo);
    if (at >= 0) this.volatile.splice(0, at + 1);
  }

  private setRecord(undo: (() => void)[], key: string, record: ReplicaRecord | undefined): void {
    const before = this.records.get(key);
    if (record) this.records.set(key, record);
    else this.records.delete(key);
    this.keyPresent(key, record !== undefined);
    undo.push(() => {
      if (before) this.records.set(key, before);
      else this.records.delete(key);
      this.keyPresent(key, before !== undefined);
    });
    for (const watcher of this.watchers) watcher.changed(key, before?.version, record?.version);
  }

  private keyPresent(key: string, present: boolean): void {
    const at = firstAtLeast(this.sortedKeys, key);
    const there = this.sortedKeys[at] === key;
    if (present && !there) this.sortedKeys.splice(at, 0, key);
    if (!present && there) this.sortedKeys.splice(at, 1);
  }

  private setRequest(undo: (() => void)[], id: string, entry: IndexedRequest): void {
    const before = this.requests.get(id);
    this.requests.set(id, entry);
    undo.push(() => (before ? this.requests.set(id, before) : this.requests.delete(id)));
  }

  private raiseMaxTerm(undo: (() => void)[], term: number): void {
    const before = this.maxTerm;
    this.maxTerm = term;
    undo.push(() => (this.maxTerm = before));
  }

  private addHint(undo: (() => void)[], id: string): void {
    if (this.hints.has(id)) return;
    this.hints.add(id);
    undo.push(() => this.hints.delete(id));
  }
}
