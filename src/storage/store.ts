// The node's disk: LMDB (memory-mapped B+tree, crash-safe, group-committed
// writes). Documents are kept as the exact text the client sent, next to the
// version that decides which copy wins.
import { mkdirSync, accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { ReplicaRecord, Version } from '../protocol/schemas.js';
import { compareVersions, isNewer } from '../replication/version.js';
import { DataDirError, STORE_FILE, checkStoreFile, lockDataDir, refusePseudoFileSystem } from './data-dir.js';

/** On disk: [term, clock, writer, value or null for a tombstone]. */
type Stored = [number, number, string, string | null];

export interface StoredRecord {
  version: Version;
  value: string | null;
}

export class StorageError extends Error {}

const HINT_SEPARATOR = '|';

function hintKey(owner: string, key: string): string {
  return `${owner}${HINT_SEPARATOR}${key}`;
}

function versionOf(stored: Stored): Version {
  return [stored[0], stored[1], stored[2]];
}

export class ReplicaStore {
  private readonly watchers: ((keys: readonly string[]) => void)[] = [];

  private constructor(
    private readonly root: RootDatabase,
    private readonly records: Database<Stored, string>,
    private readonly meta: Database<unknown, string>,
    private readonly hints: Database<null, string>,
    private readonly unlock: () => void,
  ) {}

  /** Opens (or creates) the store in `dir`; a clear StorageError when the folder is not usable. */
  static open(dir: string): ReplicaStore {
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

  count(): number {
    return this.records.getKeysCount();
  }

  /**
   * Applies each record only if it is newer than the stored copy, so replays and
   * out-of-order deliveries are harmless. Resolves once the batch is on disk
   * (fsynced): an acknowledged write survives SIGKILL and power loss.
   * `hintFor[i]` names the owner that record i stands in for (hinted handoff).
   * Returns, per record, whether a live value was stored before.
   */
  async apply(records: readonly ReplicaRecord[], hintFor?: readonly (string | null)[]): Promise<boolean[]> {
    const hadValue = await this.records.transaction(() =>
      records.map((record, i) => {
        const current = this.records.get(record.key);
        if (isNewer(record.version, current && versionOf(current))) {
          this.records.put(record.key, [record.version[0], record.version[1], record.version[2], record.value]);
        }
        const owner = hintFor?.[i];
        if (owner) this.hints.put(hintKey(owner, record.key), null);
        return current !== undefined && current[3] !== null;
      }),
    );
    await this.root.flushed;
    this.changed(records.map((record) => record.key));
    return hadValue;
  }

  /** Calls `watcher` with the keys of every committed change. */
  watch(watcher: (keys: readonly string[]) => void): void {
    this.watchers.push(watcher);
  }

  private changed(keys: readonly string[]): void {
    for (const watcher of this.watchers) watcher(keys);
  }

  /**
   * Removes a record only if it still has `version`: a copy handed to its
   * owners, or an expired tombstone, must not take a newer write with it.
   */
  async removeIfUnchanged(entries: readonly { key: string; version: Version }[]): Promise<number> {
    const removed = await this.records.transaction(() =>
      entries.filter(({ key, version }) => {
        const current = this.records.get(key);
        if (!current || compareVersions(versionOf(current), version) !== 0) return false;
        this.records.removeSync(key);
        return true;
      }),
    );
    await this.root.flushed;
    this.changed(removed.map((entry) => entry.key));
    return removed.length;
  }

  /** Hinted writes still to deliver, as (owner, key) pairs. */
  *pendingHints(): Generator<{ owner: string; key: string }> {
    for (const id of this.hints.getKeys({ snapshot: true })) {
      const split = id.indexOf(HINT_SEPARATOR);
      yield { owner: id.slice(0, split), key: id.slice(split + 1) };
    }
  }

  hintCount(): number {
    return this.hints.getKeysCount();
  }

  async dropHints(hints: readonly { owner: string; key: string }[]): Promise<void> {
    await this.hints.transaction(() => {
      for (const { owner, key } of hints) this.hints.removeSync(hintKey(owner, key));
    });
  }

  /** Every record in key order; the scan reads a consistent snapshot lazily. */
  *entries(start?: string, end?: string): Generator<ReplicaRecord> {
    for (const { key, value } of this.records.getRange({ start, end, snapshot: true })) {
      yield { key, version: versionOf(value), value: value[3] };
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
