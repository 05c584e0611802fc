// The anti-entropy digests of one node, kept up to date incrementally: a
// write marks its key's bucket dirty, and a refresh re-hashes only the dirty
// buckets. A full scan happens only when the membership changes (every
// key's owners may change) or when the caller asks for one. Scanning a
// million records on every round would keep a core busy on an idle cluster.
import { createHash, type Hash } from 'node:crypto';
import type { BucketDigest, KeyVersion, NodeId, ReplicaRecord } from '../protocol/schemas.js';
import { owners } from '../placement/rendezvous.js';
import type { ReplicaStorage } from '../storage/replicas.js';
import { bucketOf, bucketRange } from './digest.js';
import { Slices } from '../common/slices.js';

export class DigestIndex {
  private membersKey: string | null = null;
  /** Per co-owner, per bucket: the hash of the (key, version) pairs both should hold. */
  private readonly digests = new Map<NodeId, Map<number, string>>();
  /** Per bucket: copies this node holds but does not own (to hand off). */
  private readonly foreign = new Map<number, Map<string, KeyVersion>>();
  private dirty = new Set<number>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ReplicaStorage,
    private readonly self: NodeId,
    private readonly replicationFactor: number,
  ) {}

  /** A key changed in the store: its bucket needs hashing again. */
  touch(key: string): void {
    this.dirty.add(bucketOf(key));
  }

  /**
   * Brings the digests up to date for `members`. With `everyRecord`, or when
   * the members changed, every record is scanned (and shown to it).
   * Refreshes run one at a time.
   */
  refresh(members: readonly NodeId[], everyRecord?: (record: ReplicaRecord) => void): Promise<void> {
    const run = this.queue.then(() => this.update([...members].sort(), everyRecord));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Bucket digests over the keys this node and `peer` should both hold. */
  digestsFor(peer: NodeId): BucketDigest[] {
    return [...(this.digests.get(peer) ?? [])].map(([bucket, hash]) => ({ bucket, hash }));
  }

  /** Copies held here that the placement puts elsewhere. */
  foreignCopies(): KeyVersion[] {
    return [...this.foreign.values()].flatMap((bucket) => [...bucket.values()]);
  }

  private async update(members: NodeId[], everyRecord?: (record: ReplicaRecord) => void): Promise<void> {
    const membersKey = members.join(',');
    const full = everyRecord !== undefined || membersKey !== this.membersKey;
    const buckets = full ? null : this.dirty;
    this.dirty = new Set();
    // One count for the whole refresh: buckets hold a few hundred records
    // each even at a million, so a count per bucket would never reach a slice.
    const slices = new Slices();
    if (full) {
      this.digests.clear();
      this.foreign.clear();
      this.membersKey = membersKey;
      await this.hash(members, this.store.entries(), slices, everyRecord);
      return;
    }
    for (const bucket of buckets!) {
      const { start, end } = bucketRange(bucket);
      for (const perBucket of this.digests.values()) perBucket.delete(bucket);
      this.foreign.delete(bucket);
      await this.hash(members, this.store.entries(start, end), slices);
    }
  }

  /** Hashes records that come in key order, so bucket by bucket. */
  private async hash(members: readonly NodeId[], records: Iterable<ReplicaRecord>, slices: Slices, everyRecord?: (record: ReplicaRecord) => void): Promise<void> {
    let bucket = -1;
    let hashes = new Map<NodeId, Hash>();
    const close = () => {
      for (const [peer, hash] of hashes) {
        let perBucket = this.digests.get(peer);
        if (!perBucket) this.digests.set(peer, (perBucket = new Map<number, string>()));
        perBucket.set(bucket, hash.digest('base64'));
      }
      hashes = new Map();
    };
    for (const record of records) {
      everyRecord?.(record);
      const recordBucket = bucketOf(record.key);
      if (recordBucket !== bucket) {
        close();
        bucket = recordBucket;
      }
      const own = owners(record.key, members, this.replicationFactor);
      if (!own.includes(this.self)) {
        let perBucket = this.foreign.get(bucket);
        if (!perBucket) this.foreign.set(bucket, (perBucket = new Map<string, KeyVersion>()));
        perBucket.set(record.key, { key: record.key, version: record.version });
      } else {
        for (const peer of own) {
          if (peer === this.self) continue;
          let hash = hashes.get(peer);
          if (!hash) hashes.set(peer, (hash = createHash('sha1')));
          hash.update(`${record.key}@${record.version[0]}.${record.version[1]}.${record.version[2]};`);
        }
      }
      await slices.step();
    }
    close();
  }
}
