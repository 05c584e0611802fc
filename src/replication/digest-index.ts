// The anti-entropy digests of one node, kept current as the store changes.
// A bucket's digest for a co-owner is the XOR of a hash of every (key,
// version) pair both should hold, so a write updates it in constant time:
// out with the version it replaced, in with the new one. Re-hashing a whole
// bucket for every write it took cost, at a million records, a scan of every
// record a node holds after each busy interval, and that scan competed with
// the clients for the cores. Buckets are scanned only when the membership
// changes (every key's owners may change) or the store lost track of a write.
import { hash } from 'node:crypto';
import { BUCKET_COUNT, type BucketDigest, type KeyVersion, type NodeId, type Version } from '../protocol/schemas.js';
import { owners } from '../placement/rendezvous.js';
import type { ReplicaStorage } from '../storage/replicas.js';
import { bucketOf, bucketRange } from './digest.js';
import { STEPS_PER_SLICE } from '../common/slices.js';

const SHA1_BYTES = 20;

/** Hash of one (key, version) pair; XOR makes the order of adding and removing pairs irrelevant. */
function pairHash(key: string, version: Version): Buffer {
  return hash('sha1', `${key}@${version[0]}.${version[1]}.${version[2]}`, 'buffer');
}

function xorInto(target: Buffer, source: Buffer): void {
  for (let i = 0; i < target.length; i++) target[i]! ^= source[i]!;
}

function isZero(digest: Buffer): boolean {
  return digest.every((byte) => byte === 0);
}

export class DigestIndex {
  /** The membership the digests are for, sorted; null before the first refresh. */
  private members: NodeId[] | null = null;
  /** Per co-owner, per bucket: XOR of the hashes of the pairs both should hold. */
  private readonly digests = new Map<NodeId, Map<number, Buffer>>();
  /** Per bucket: copies this node holds but does not own (to hand off). */
  private readonly foreign = new Map<number, Map<string, KeyVersion>>();
  /**
   * Buckets are scanned in order; those from this one on wait for their scan,
   * and changes to them are left to it.
   */
  private scannedUpTo = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ReplicaStorage,
    private readonly self: NodeId,
    private readonly replicationFactor: number,
  ) {
    store.watch({
      changed: (key, before, after) => this.changed(key, before, after),
      lost: () => this.rescanAll(this.members),
    });
  }

  /**
   * Brings the digests up to date for `members`: a new membership scans every
   * bucket again. Refreshes run one at a time.
   */
  refresh(members: readonly NodeId[]): Promise<void> {
    const run = this.queue.then(() => this.update([...members].sort()));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Bucket digests over the keys this node and `peer` should both hold, by bucket (empty buckets left out). */
  digestsFor(peer: NodeId): BucketDigest[] {
    const digests: BucketDigest[] = [];
    for (const [bucket, digest] of this.digests.get(peer) ?? []) {
      if (!isZero(digest)) digests.push({ bucket, hash: digest.toString('base64') });
    }
    return digests.sort((a, b) => a.bucket - b.bucket);
  }

  /** Copies held here that the placement puts elsewhere. */
  foreignCopies(): KeyVersion[] {
    return [...this.foreign.values()].flatMap((bucket) => [...bucket.values()]);
  }

  private rescanAll(members: NodeId[] | null): void {
    this.members = members;
    this.digests.clear();
    this.foreign.clear();
    this.scannedUpTo = 0;
  }

  private async update(members: NodeId[]): Promise<void> {
    if (members.join(',') !== this.members?.join(',')) this.rescanAll(members);
    // A slice of buckets per turn, each slice read in the store's order of
    // writes: it sees exactly the changes reported before it, and the later
    // ones update its buckets as they come.
    while (this.scannedUpTo < BUCKET_COUNT) await this.store.inOrder(() => this.scanSlice(members));
  }

  /** Scans whole buckets, in key order, until a slice's worth of records. */
  private scanSlice(members: readonly NodeId[]): void {
    let steps = 0;
    let current = this.scannedUpTo;
    for (const record of this.store.entries(bucketRange(this.scannedUpTo).start)) {
      const bucket = bucketOf(record.key);
      if (bucket !== current && steps >= STEPS_PER_SLICE) {
        this.scannedUpTo = bucket;
        return;
      }
      current = bucket;
      this.replacePair(bucket, record.key, members, undefined, record.version);
      steps++;
    }
    this.scannedUpTo = BUCKET_COUNT;
  }

  private changed(key: string, before: Version | undefined, after: Version | undefined): void {
    const bucket = bucketOf(key);
    if (this.members && bucket < this.scannedUpTo) this.replacePair(bucket, key, this.members, before, after);
  }

  /** Replaces the pair (key, before) with (key, after) in the bucket's digests; undefined is no pair. */
  private replacePair(bucket: number, key: string, members: readonly NodeId[], before: Version | undefined, after: Version | undefined): void {
    const own = owners(key, members, this.replicationFactor);
    if (!own.includes(this.self)) {
      let held = this.foreign.get(bucket);
      if (!held) this.foreign.set(bucket, (held = new Map<string, KeyVersion>()));
      if (after) held.set(key, { key, version: after });
      else held.delete(key);
      return;
    }
    for (const peer of own) {
      if (peer === this.self) continue;
      let perBucket = this.digests.get(peer);
      if (!perBucket) this.digests.set(peer, (perBucket = new Map<number, Buffer>()));
      let digest = perBucket.get(bucket);
      if (!digest) perBucket.set(bucket, (digest = Buffer.alloc(SHA1_BYTES)));
      if (before) xorInto(digest, pairHash(key, before));
      if (after) xorInto(digest, pairHash(key, after));
    }
  }
}
