// Self-healing: every node keeps the copies it holds where the placement says
// they belong. One pass
//   - hands copies this node no longer owns to their owners, then drops them
//     (only after every owner confirmed: never fewer copies than before);
//   - compares bucket digests with every co-owner and streams the records the
//     co-owner lacks or holds older (anti-entropy, both sides do it);
//   - purges tombstones older than the grace period in a tenth of the buckets.
// The digests are kept current write by write (DigestIndex), so a pass reads
// the store only where digests differ, for the tombstones, and in full only
// after a membership change.
// Passes run after every membership change and on an interval; hinted writes
// are delivered on a shorter one.
import {
  BUCKET_COUNT,
  MAX_BUCKETS_PER_KEYS_REQUEST,
  ReplicaWriteResponse,
  SyncDigestResponse,
  SyncKeysResponse,
  checker,
  type KeyVersion,
  type NodeId,
  type RepairStatus,
  type ReplicaRecord,
  type SyncDigestRequest,
  type SyncKeysRequest,
  type Version,
} from '../protocol/schemas.js';
import { owners } from '../placement/rendezvous.js';
import type { ReplicaStorage } from '../storage/replicas.js';
import type { PeerTransport } from '../transport/peer-client.js';
import { realClock, realTimers, type Clock, type Timers } from '../common/timers.js';
import type { Logger } from '../common/logger.js';
import { REPLICA_WRITE_PATH, SYNC_DIGEST_PATH, SYNC_KEYS_PATH } from '../protocol/paths.js';
import { bucketRange, mismatchedBuckets } from './digest.js';
import { DigestIndex } from './digest-index.js';
import { compareVersions } from './version.js';
import { Slices } from '../common/slices.js';
import { RateLimit } from '../common/rate-limit.js';

const isWriteResponse = checker(ReplicaWriteResponse);
const isDigestResponse = checker(SyncDigestResponse);
const isKeysResponse = checker(SyncKeysResponse);

/**
 * Each pass looks for expired tombstones in one of this many shares of the
 * buckets, so every record is looked at once every this many passes and no
 * pass reads the whole store.
 */
const PURGE_SHARES = 10;

export interface RepairOptions {
  intervalMs: number;
  hintIntervalMs: number;
  tombstoneGraceMs: number;
  /** Most records in one transfer. */
  batchSize: number;
  /**
   * Records a second this node sends for repair (anti-entropy, hand-off and
   * hints together), Infinity for no limit: a repair after a node loss moves a
   * third of the data, and unpaced it crowds out the clients' requests.
   */
  ratePerSecond: number;
}

export interface RepairContext {
  self: NodeId;
  replicationFactor: number;
  aliveNodes(): readonly NodeId[];
  store: ReplicaStorage;
  peers: PeerTransport;
  logger: Logger;
  /** The wall clock ages tombstones; the monotonic one paces and times the passes. */
  clock?: Clock;
  timers?: Timers;
  /**
   * True while copies this node no longer owns must stay after they are handed
   * over: the consistent mode's placement is unsettled, and the leader may
   * still count this node as an owner of an earlier view.
   */
  keepHandedOffCopies?: () => boolean;
}

/** Does the key belong on both nodes under this membership? */
function shared(key: string, members: readonly NodeId[], rf: number, a: NodeId, b: NodeId): boolean {
  const own = owners(key, members, rf);
  return own.includes(a) && own.includes(b);
}

/** Running totals since start, read by the metrics. */
export interface RepairTotals {
  /** Repair passes completed (anti-entropy rounds). */
  rounds: number;
  /** Records pushed to a co-owner that lacked them or held them older. */
  antiEntropyKeys: number;
  /** Copies handed to their new owners and dropped here. */
  handedOffKeys: number;
  /** Hinted writes delivered to the owner they stood in for. */
  hintsDelivered: number;
}

export class RepairService {
  readonly totals: RepairTotals = { rounds: 0, antiEntropyKeys: 0, handedOffKeys: 0, hintsDelivered: 0 };
  private stopTimers: (() => void)[] = [];
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private underReplicated = 0;
  private transfers = 0;
  private syncedFor: NodeId[] = [];
  private deliveringHints = false;
  private retry: (() => void) | undefined;
  private retryDelay = 0;

  private readonly index: DigestIndex;
  private readonly rate: RateLimit;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private passes = 0;
  private cleanPasses = 0;

  constructor(
    private readonly context: RepairContext,
    private readonly options: RepairOptions,
  ) {
    this.index = new DigestIndex(context.store, context.self, context.replicationFactor);
    this.clock = context.clock ?? realClock;
    this.timers = context.timers ?? realTimers;
    this.rate = new RateLimit(options.ratePerSecond, () => this.clock.now(), this.timers);
  }

  start(): void {
    this.stopTimers.push(this.timers.every(this.options.intervalMs, () => this.trigger()));
    this.stopTimers.push(this.timers.every(this.options.hintIntervalMs, () => void this.deliverHints()));
    this.trigger();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const stop of this.stopTimers) stop();
    this.retry?.();
    await this.running;
  }

  /** Asks for a pass now; a pass already running is followed by one more. */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((error: Error) => this.context.logger.error({ err: error.message }, 'repair pass failed'))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.trigger();
        }
      });
  }

  private retryLater(): void {
    if (this.retry || this.stopped) return;
    this.retryDelay = Math.min(this.retryDelay * 2 || this.options.hintIntervalMs, this.options.intervalMs);
    this.retry = this.timers.after(this.retryDelay, () => {
      this.retry = undefined;
      this.trigger();
    });
  }

  /**
   * Copies that arrive for keys this node does not own (a co-owner's repair
   * under another membership view, a hinted write) must move on: ask for a pass.
   */
  noteArrivals(records: readonly ReplicaRecord[]): void {
    const members = this.context.aliveNodes();
    const { self, replicationFactor } = this.context;
    if (records.some((record) => !owners(record.key, members, replicationFactor).includes(self))) this.trigger();
  }

  status(): RepairStatus {
    return {
      underReplicated: this.underReplicated,
      transfersInProgress: this.transfers,
      hintsPending: this.context.store.hintCount(),
      // Only a node with no pass running or due can claim to be in sync.
      syncedFor: this.running || this.retry ? [] : this.syncedFor,
      cleanPasses: this.cleanPasses,
    };
  }

  /** A co-owner's digests: answer with the buckets that differ here. */
  async compareDigests(request: SyncDigestRequest): Promise<SyncDigestResponse> {
    await this.index.refresh(request.members);
    return { mismatched: mismatchedBuckets(this.index.digestsFor(request.from), request.buckets) };
  }

  /** A co-owner's key-list request for mismatched buckets. */
  async listKeys(request: SyncKeysRequest): Promise<SyncKeysResponse> {
    return { entries: await this.sharedEntries(request.buckets, request.members, request.from) };
  }

  private async sharedEntries(buckets: readonly number[], members: readonly NodeId[], peer: NodeId): Promise<KeyVersion[]> {
    const entries: KeyVersion[] = [];
    const slices = new Slices();
    for (const bucket of buckets) {
      const { start, end } = bucketRange(bucket);
      for (const record of this.context.store.entries(start, end)) {
        if (shared(record.key, members, this.context.replicationFactor, peer, this.context.self)) {
          entries.push({ key: record.key, version: record.version });
        }
        await slices.step();
      }
    }
    return entries;
  }

  private async pass(): Promise<void> {
    const { self, logger } = this.context;
    const members = [...this.context.aliveNodes()].sort();
    const started = this.clock.now();
    const expired = await this.expiredTombstones(this.passes++ % PURGE_SHARES);
    await this.index.refresh(members);
    const handoff = this.index.foreignCopies();
    const peers = members.filter((node) => node !== self);

    this.underReplicated = handoff.length;
    let clean = true;
    if (expired.length > 0) {
      const purged = await this.context.store.removeIfUnchanged(expired);
      logger.info({ purged }, 'purged tombstones past the grace period');
    }
    if (handoff.length > 0) {
      logger.info({ keys: handoff.length }, 'handing off copies this node no longer owns');
      clean = (await this.handOff(handoff, members)) && clean;
    }
    for (const peer of peers) {
      if (this.stopped) return;
      clean = (await this.syncWith(peer, members)) && clean;
    }
    this.syncedFor = clean ? members : [];
    if (clean) this.cleanPasses++;
    this.totals.rounds++;
    if (clean) this.retryDelay = 0;
    // A pass that could not finish (a peer was slow, starting or gone) is
    // retried soon rather than at the next anti-entropy interval.
    if (!clean) this.retryLater();
    const ms = this.clock.now() - started;
    if (handoff.length > 0 || !clean || ms > 1000) {
      logger.info({ members, clean, ms, underReplicated: this.underReplicated }, 'repair pass done');
    }
  }

  /** Tombstones older than the grace period in one share of the buckets. */
  private async expiredTombstones(share: number): Promise<KeyVersion[]> {
    const wall = this.clock.wall();
    const first = Math.floor((share * BUCKET_COUNT) / PURGE_SHARES);
    const last = Math.floor(((share + 1) * BUCKET_COUNT) / PURGE_SHARES) - 1;
    const expired: KeyVersion[] = [];
    const slices = new Slices();
    for (const record of this.context.store.entries(bucketRange(first).start, bucketRange(last).end)) {
      if (record.value === null && wall - record.version[1] / 1024 > this.options.tombstoneGraceMs) {
        expired.push({ key: record.key, version: record.version });
      }
      await slices.step();
    }
    return expired;
  }

  /** Streams records to a node in batches paced by the repair rate; the acknowledged keys come back. */
  private async push(peer: NodeId, keys: readonly string[]): Promise<Set<string>> {
    const acked = new Set<string>();
    // Smaller batches at low rates: one large batch is one long stall of the receiver's event loop.
    const batchSize = Math.max(1, Math.min(this.options.batchSize, Math.ceil(this.options.ratePerSecond / 20)));
    for (let start = 0; start < keys.length && !this.stopped; start += batchSize) {
      const batch = keys.slice(start, start + batchSize);
      // Read after the wait: the copies sent are the newest held when they go.
      await this.rate.take(batch.length);
      const records: ReplicaRecord[] = [];
      for (const key of batch) {
        const record = this.context.store.record(key);
        if (record) records.push(record);
      }
      this.transfers += records.length;
      try {
        await this.context.peers.post(peer, REPLICA_WRITE_PATH, { records }, isWriteResponse);
        for (const record of records) acked.add(record.key);
      } catch (error) {
        this.context.logger.warn({ peer, err: (error as Error).message }, 'repair transfer failed');
        break;
      } finally {
        this.transfers -= records.length;
      }
    }
    return acked;
  }

  /** Gives copies to their owners; drops each only once every owner has it. */
  private async handOff(entries: readonly KeyVersion[], members: readonly NodeId[]): Promise<boolean> {
    const byOwner = new Map<NodeId, string[]>();
    const needed = new Map<string, number>();
    const slices = new Slices();
    for (const { key } of entries) {
      const keyOwners = owners(key, members, this.context.replicationFactor);
      needed.set(key, keyOwners.length);
      for (const owner of keyOwners) {
        let list = byOwner.get(owner);
        if (!list) byOwner.set(owner, (list = []));
        list.push(key);
      }
      await slices.step();
    }
    const confirmations = new Map<string, number>();
    for (const [owner, list] of byOwner) {
      for (const key of await this.push(owner, list)) confirmations.set(key, (confirmations.get(key) ?? 0) + 1);
    }
    const done = entries.filter(({ key }) => confirmations.get(key) === needed.get(key));
    if (!this.context.keepHandedOffCopies?.()) {
      await this.context.store.removeIfUnchanged(done);
      this.totals.handedOffKeys += done.length;
    }
    this.underReplicated -= done.length;
    return done.length === entries.length;
  }

  /** Anti-entropy with one co-owner: push what it lacks or holds older. */
  private async syncWith(peer: NodeId, members: NodeId[]): Promise<boolean> {
    const { self, peers } = this.context;
    try {
      const { mismatched } = await peers.post(
        peer,
        SYNC_DIGEST_PATH,
        { from: self, members, buckets: this.index.digestsFor(peer) },
        isDigestResponse,
      );
      for (let start = 0; start < mismatched.length; start += MAX_BUCKETS_PER_KEYS_REQUEST) {
        const buckets = mismatched.slice(start, start + MAX_BUCKETS_PER_KEYS_REQUEST);
        const { entries } = await peers.post(peer, SYNC_KEYS_PATH, { from: self, members, buckets }, isKeysResponse);
        const theirs = new Map<string, Version>(entries.map((entry) => [entry.key, entry.version]));
        const behind = (await this.sharedEntries(buckets, members, peer)).filter((mine) => {
          const version = theirs.get(mine.key);
          return version === undefined || compareVersions(mine.version, version) > 0;
        });
        if (behind.length === 0) continue;
        this.underReplicated += behind.length;
        const acked = await this.push(
          peer,
          behind.map((entry) => entry.key),
        );
        this.underReplicated -= acked.size;
        this.totals.antiEntropyKeys += acked.size;
        if (acked.size < behind.length) return false;
        this.context.logger.info({ peer, records: behind.length }, 'anti-entropy repaired a co-owner');
      }
      return true;
    } catch (error) {
      this.context.logger.debug({ peer, err: (error as Error).message }, 'anti-entropy round failed');
      return false;
    }
  }

  /** Delivers writes held for owners that were unreachable, once they answer again. */
  private async deliverHints(): Promise<void> {
    if (this.deliveringHints || this.stopped || this.context.store.hintCount() === 0) return;
    this.deliveringHints = true;
    try {
      const alive = new Set(this.context.aliveNodes());
      const byOwner = new Map<NodeId, { owner: NodeId; key: string }[]>();
      const dropped: { owner: NodeId; key: string }[] = [];
      const slices = new Slices();
      for (const hint of this.context.store.pendingHints()) {
        await slices.step();
        if (!alive.has(hint.owner)) {
          // The owner was dropped: placement no longer counts on it, and
          // the repair passes bring the copies to the new owners.
          dropped.push(hint);
          continue;
        }
        let list = byOwner.get(hint.owner);
        if (!list) byOwner.set(hint.owner, (list = []));
        list.push(hint);
      }
      await this.context.store.dropHints(dropped);
      for (const [owner, hints] of byOwner) {
        const acked = await this.push(
          owner,
          hints.map((hint) => hint.key),
        );
        const delivered = hints.filter(({ key }) => acked.has(key) || !this.context.store.get(key));
        await this.context.store.dropHints(delivered);
        this.totals.hintsDelivered += delivered.length;
        if (delivered.length > 0) {
          this.context.logger.info({ owner, records: delivered.length }, 'delivered hinted writes');
          this.trigger();
        }
      }
    } finally {
      this.deliveringHints = false;
    }
  }
}
