// Anti-entropy buckets. Keys are UUIDs, so their first three hex digits split
// them into 4096 buckets of even size that are also contiguous ranges in the
// store's key order: a bucket is hashed in one ordered scan, and two nodes
// that hold the same (key, version) pairs in a bucket get the same hash.
import { BUCKET_COUNT, type BucketDigest } from '../protocol/schemas.js';

export function bucketOf(key: string): number {
  return parseInt(key.slice(0, 3), 16);
}

/** The store key range [start, end) that holds a bucket's keys. */
export function bucketRange(bucket: number): { start: string; end: string } {
  const start = bucket.toString(16).padStart(3, '0');
  const end = bucket + 1 < BUCKET_COUNT ? (bucket + 1).toString(16).padStart(3, '0') : 'g';
  return { start, end };
}

/** Buckets present on one side only, or hashed differently. */
export function mismatchedBuckets(mine: readonly BucketDigest[], theirs: readonly BucketDigest[]): number[] {
  const other = new Map(theirs.map((digest) => [digest.bucket, digest.hash]));
  const mismatched = new Set<number>();
  for (const { bucket, hash } of mine) {
    if (other.get(bucket) !== hash) mismatched.add(bucket);
    other.delete(bucket);
  }
  for (const bucket of other.keys()) mismatched.add(bucket);
  return [...mismatched].sort((a, b) => a - b);
}
