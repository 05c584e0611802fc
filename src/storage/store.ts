// The node's disk: LMDB (memory-mapped B+tree, crash-safe, group-committed
// writes). Documents are kept as the exact text the client sent, next to the
// version that decides which copy wins.
import { mkdirSync, accessSync, constants } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { ReplicaRecord, Version } from '../protocol/schemas.js';
import { isNewer } from '../replication/version.js';

/** On disk: [term, clock, writer, value or null for a tombstone]. */
type Stored = [number, number, string, string | null];

export interface StoredRecord {
  version: Version;
  value: string | null;
}

export class StorageError extends Error {}

export class ReplicaStore {
  private constructor(
    private readonly root: RootDatabase,
    private readonly records: Database<Stored, string>,
    private readonly meta: Database<unknown, string>,
  ) {}

  /** Opens (or creates) the store in `dir`; a clear StorageError when the folder is not usable. */
  static open(dir: string): ReplicaStore {
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
    } catch (error) {
      throw new StorageError(`data dir ${dir} is not writable (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
    try {
      const root = open({ path: dir, maxDbs: 8, mapSize: 2 ** 34 });
      return new ReplicaStore(
        root,
        root.openDB<Stored, string>({ name: 'records' }),
        root.openDB<unknown, string>({ name: 'meta' }),
      );
    } catch (error) {
      throw new StorageError(`cannot open the store in ${dir}: ${(error as Error).message}`);
    }
  }

  get(key: string): StoredRecord | undefined {
    const stored = this.records.get(key);
    return stored && { version: [stored[0], stored[1], stored[2]], value: stored[3] };
  }

  /**
   * Applies each record only if it is newer than the stored copy, so replays and
   * out-of-order deliveries are harmless. Resolves once the batch is on disk
   * (fsynced): an acknowledged write survives SIGKILL and power loss.
   * Returns, per record, whether a live value was stored before.
   */
  async apply(records: readonly ReplicaRecord[]): Promise<boolean[]> {
    const hadValue = await this.records.transaction(() =>
      records.map((record) => {
        const current = this.records.get(record.key);
        const currentVersion: Version | undefined = current && [current[0], current[1], current[2]];
        if (isNewer(record.version, currentVersion)) {
          this.records.put(record.key, [record.version[0], record.version[1], record.version[2], record.value]);
        }
        return current !== undefined && current[3] !== null;
      }),
    );
    await this.root.flushed;
    return hadValue;
  }

  /** Every record in key order; the scan reads a consistent snapshot lazily. */
  *entries(start?: string, end?: string): Generator<ReplicaRecord> {
    for (const { key, value } of this.records.getRange({ start, end, snapshot: true })) {
      yield { key, version: [value[0], value[1], value[2]], value: value[3] };
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
  }
}
