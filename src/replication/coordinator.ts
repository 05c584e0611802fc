// The leader's side of every document request: placement picks the owners,
// the leader asks them what they hold, decides (decide.ts, pure) and writes
// to them in parallel; reads repair owners that are behind. Versions come
// from here, so replicas never need to agree on anything but "the newer
// version wins". Writes to one key are serialized on the leader, so a check
// (a condition, created or updated) and the write that follows are atomic.
import type { KnownRequest, NodeId, ReplicaRecord, Version, WriteResultKind } from '../protocol/schemas.js';
import { preferenceList } from '../placement/rendezvous.js';
import type { ApplyResult, ReplicaStorage, StoredRecord } from '../storage/replicas.js';
import type { Logger } from '../common/logger.js';
import type { ReplicaBatcher } from './batcher.js';
import { type Condition, type Copy, type Survey, decideRead, decideWrite, judgeFanout, newest, ownersSettle } from './decide.js';
import { HybridClock, compareVersions } from './version.js';
import { strictFanoutProblem, strictSurveyProblem } from './strict.js';
import type { Fence } from '../coordination/fence.js';
import type { ReadLease } from '../membership/source.js';
import type { PlacementHistory } from '../coordination/placement-history.js';
import type { PlacementTicket } from '../coordination/placement-log.js';
import { UnavailableError } from '../common/errors.js';
import { invariant } from '../common/assert.js';

export interface ClusterView {
  self: NodeId;
  replicationFactor: number;
  /** The current term, persisted before it is returned: a version never carries a term a restart could forget. */
  term(): Promise<number>;
  /** Alive node ids, the leader included. */
  aliveNodes(): readonly NodeId[];
  /** The leader's read lease, null without one (MembershipSource.readLease). */
  readLease(): ReadLease | null;
}

export interface WriteRequest {
  /** The document, or null to delete. */
  value: string | null;
  /** The client's idempotency key: a retry of an applied request gets the first answer. */
  requestId?: string;
  condition?: Condition;
}

export type WriteOutcome =
  | { kind: 'written'; result: WriteResultKind; replicas: number; version: Version }
  | { kind: 'not-found' }
  | { kind: 'version-mismatch'; current: Version | null }
  | { kind: 'exists'; current: Version };

export type ReadOutcome = { found: true; value: string; version: Version } | { found: false };

/**
 * The consistent mode: every owner must answer and hold each write (no
 * stand-ins), reads repair before they answer, and every replica write
 * carries the leader's term as a fencing token.
 */
export interface StrictMode {
  /** This node's own replica fence: its local writes are checked like remote ones. */
  fence: Fence;
  /** Records each view in etcd's placement history before a request is served in it. */
  placement: { enter(view: readonly NodeId[]): Promise<PlacementTicket> };
  /** The alive nodes keys are placed on: those the leader has not reached for the failure timeout are left out. */
  placed(): readonly NodeId[];
}

/** The alive nodes one attempt is placed on, and in the consistent mode the placement history it is checked against. */
interface View {
  nodes: readonly NodeId[];
  history: PlacementHistory;
  release(): void;
}

/** A write refused by a replica holding a newer version is re-versioned above it this many times, then 503. */
const MAX_WRITE_ATTEMPTS = 3;
/** Keys whose last version this leader remembers (for answering with a silent owner); oldest forgotten first. */
const ISSUED_MEMORY = 100_000;
/** Background read repairs in flight at most; beyond it a read repairs nothing and anti-entropy catches up. */
const MAX_READ_REPAIRS = 256;

/** A read lease as this coordinator saw it first, and whether its own copies can still answer under it. */
interface LeaseSeen extends ReadLease {
  /** The clock when this coordinator first saw the lease: every version it issues from then on is above it. */
  floor: number;
  /** False once one of its own writes did not land in its own store in this lease. */
  intact: boolean;
}

interface Placement {
  owners: NodeId[];
  /** The other alive nodes in preference order: stand-ins for silent owners. */
  rest: NodeId[];
}

export class Coordinator {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly issued = new Map<string, Version>();
  private lease: LeaseSeen | null = null;
  private readRepairs = 0;
  /** Reads answered from this leader's own copy (ownCopy), for the metrics. */
  ownCopyReads = 0;
  private announcement: { term: number; done: Promise<void> } | null = null;

  constructor(
    private readonly cluster: ClusterView,
    private readonly store: ReplicaStorage,
    private readonly remote: ReplicaBatcher,
    private readonly logger: Logger,
    private readonly strict: StrictMode | null = null,
    /** Versions' clock; the simulator's runs on virtual time. */
    private readonly clock = new HybridClock(),
  ) {}

  /**
   * Stores a document, or a tombstone, on every owner. An owner that does not
   * answer is stood in for by the next node in the key's preference list,
   * which keeps a hint and hands the write over later; at least one owner
   * must hold the write before it is acknowledged.
   */
  write(key: string, request: WriteRequest): Promise<WriteOutcome> {
    return this.serialized(key, () => this.writeNow(key, request));
  }

  async read(key: string): Promise<ReadOutcome> {
    const own = this.ownCopy(key);
    if (own) return own;
    const view = await this.view();
    try {
      return await this.readIn(view, key);
    } finally {
      view.release();
    }
  }

  private async readIn(view: View, key: string): Promise<ReadOutcome> {
    const placement = this.place(key, view.nodes);
    // The consistent mode asks every node at once: after two membership changes
    // in a row the newest copy may sit only on former owners, while a returning
    // owner still holds an older one that would settle the read by itself.
    const survey = await this.survey(key, placement, null, this.strict !== null);
    const decision = decideRead(survey);
    if (decision.kind === 'unavailable') throw new UnavailableError(decision.reason);
    const missing = this.strictProblem(key, view, placement, survey);
    if (missing) throw new UnavailableError(missing);
    const found = decision.kind === 'found' ? decision.record : decision.newest;
    if (found) {
      this.clock.observe(found.version[1]);
      // Answering before every owner holds what we answer could let a later
      // read, after the one owner holding it fails, go back in time.
      if (this.strict) await this.repairNow(placement.owners, survey, found);
      else this.repair(placement.owners, survey.owners, found);
    }
    if (decision.kind === 'not-found') return { found: false };
    return { found: true, value: decision.record.value, version: decision.record.version };
  }

  /**
   * A read answered without asking anyone. Every acknowledged write goes
   * through a leader, and while this leader holds its read lease no other
   * can serve any node it counts alive (Membership.readLease). So a copy in
   * its own store that it wrote itself under the lease it still holds, after
   * surveying every alive node, is the newest any owner holds, as long as
   * each of its later writes landed in its own store too (`intact`) and no
   * write of the key is in flight (a read must not go back from a version
   * the survey of a concurrent read may already have returned). Versions
   * carry the term and the issuing clock, so "written under this lease" is
   * read from the record itself: no per-key memory, at any data size. Only
   * the gossip mode holds such a lease; the consistent mode's reads always
   * repair every owner.
   */
  private ownCopy(key: string): ReadOutcome | undefined {
    if (this.queues.has(key)) return undefined;
    const lease = this.currentLease();
    const record = lease?.intact ? this.ownRecordUnder(lease, key) : null;
    if (!record) return undefined;
    this.ownCopyReads++;
    return record.value === null ? { found: false } : { found: true, value: record.value, version: record.version };
  }

  /** Our own store's copy of `key`, when it is a version this leader issued under `lease`. */
  private ownRecordUnder(lease: LeaseSeen, key: string): StoredRecord | null {
    const record = this.store.get(key);
    if (!record) return null;
    const [term, issuedAt, writer] = record.version;
    return writer === this.cluster.self && term === lease.term && issuedAt > lease.floor ? record : null;
  }

  private currentLease(): LeaseSeen | null {
    const lease = this.cluster.readLease();
    if (!lease) return null;
    if (this.lease?.epoch !== lease.epoch || this.lease.term !== lease.term) this.lease = { ...lease, floor: this.clock.next(), intact: true };
    return this.lease;
  }

  private async writeNow(key: string, request: WriteRequest): Promise<WriteOutcome> {
    for (let attempt = 1; ; attempt++) {
      const view = await this.view();
      try {
        const outcome = await this.writeIn(view, key, request, attempt);
        if (outcome) return outcome;
      } finally {
        view.release();
      }
    }
  }

  /** One attempt; null when a replica held a newer version and the write is to be re-versioned above it. */
  private async writeIn(view: View, key: string, { value, requestId, condition }: WriteRequest, attempt: number): Promise<WriteOutcome | null> {
    const placement = this.place(key, view.nodes);
    const survey = await this.survey(key, placement, requestId ?? null, true);
    const decision = decideWrite(survey, key, value, condition);
    const missing = decision.kind !== 'unavailable' ? this.strictProblem(key, view, placement, survey) : null;
    if (missing) throw new UnavailableError(missing);
    switch (decision.kind) {
      case 'unavailable':
        throw new UnavailableError(decision.reason);
      case 'not-found':
      case 'version-mismatch':
      case 'exists':
        return decision;
      case 'replay':
        return this.replay(placement, survey, decision.result, decision.version);
    }
    if (decision.above && decision.above[0] > survey.term) {
      // Only a second leader (a partition) or a term not yet caught up writes above our term.
      throw new UnavailableError(`A newer term (${decision.above[0]}) holds this key; the cluster is electing`);
    }
    if (decision.above) this.clock.observe(decision.above[1]);
    const lease = this.currentLease();
    const record: ReplicaRecord = {
      key,
      version: [survey.term, this.clock.next(), this.cluster.self],
      value,
      ...(requestId ? { request: { id: requestId, result: decision.result } } : {}),
    };
    this.remember(key, record.version);
    const fanout = await this.fanOut(record, placement, survey.term);
    const ownVersion = lease && this.ownRecordUnder(lease, key)?.version;
    if (ownVersion && compareVersions(ownVersion, record.version) !== 0) {
      // Our store kept an older version of ours (its write failed, or it stood in for an owner before): it must not answer.
      lease.intact = false;
    }
    if (fanout.beatenBy) {
      this.logger.warn({ key, mine: record.version, newer: fanout.beatenBy, attempt }, 'a replica holds a newer version: re-versioning');
      this.clock.observe(fanout.beatenBy[1]);
      if (attempt < MAX_WRITE_ATTEMPTS) return null;
      throw new UnavailableError('Failed to write an entry: replicas kept holding newer versions');
    }
    if (fanout.ownersHolding === 0) throw new UnavailableError('Failed to write an entry');
    const short = this.strict ? strictFanoutProblem(fanout, placement.owners.length) : null;
    if (short) throw new UnavailableError(short);
    return { kind: 'written', result: decision.result, replicas: fanout.ownersHolding + fanout.standInsHolding, version: record.version };
  }

  /**
   * A retried request some node already applied: the owners that lack its
   * record (or a newer one) get it now, and the first answer is given again.
   */
  private async replay(placement: Placement, survey: Survey, result: WriteResultKind, version: Version): Promise<WriteOutcome> {
    // The index can outlive the copy (handed off and dropped): then only the owners' copies count.
    const found = newest([...survey.owners, ...survey.others]);
    const holds = (copy: Copy) => copy !== undefined && copy !== null && compareVersions(copy.version, version) >= 0;
    const repaired = await Promise.allSettled(
      placement.owners.map((node, i) =>
        !found || !holds(found) || holds(survey.owners[i]) || survey.owners[i] === undefined ? Promise.resolve(null) : this.writeReplica(node, found, null, survey.term),
      ),
    );
    const replicas = repaired.filter((outcome, i) => holds(survey.owners[i]) || (outcome.status === 'fulfilled' && outcome.value?.applied)).length;
    if (replicas === 0) throw new UnavailableError('Failed to write an entry');
    if (this.strict && replicas < placement.owners.length) throw new UnavailableError(`Failed to write an entry: ${placement.owners.length - replicas} of ${placement.owners.length} owners do not hold it`);
    return { kind: 'written', result, replicas, version };
  }

  private async fanOut(record: ReplicaRecord, { owners, rest }: Placement, term: number) {
    const standIns = this.strict ? [] : [...rest];
    const results = await Promise.allSettled(owners.map((node) => this.writeReplica(node, record, null, term)));
    const ownerVersions: (Version | undefined)[] = [];
    const standInVersions: Version[] = [];
    for (const [i, result] of results.entries()) {
      if (result.status === 'fulfilled') {
        ownerVersions.push(result.value.current);
        continue;
      }
      ownerVersions.push(undefined);
      this.logger.warn({ node: owners[i], key: record.key, err: (result.reason as Error).message }, 'replica write failed');
      for (let standIn = standIns.shift(); standIn !== undefined; standIn = standIns.shift()) {
        try {
          standInVersions.push((await this.writeReplica(standIn, record, owners[i]!, term)).current);
          break;
        } catch (error) {
          this.logger.warn({ node: standIn, key: record.key, err: (error as Error).message }, 'hinted write failed');
        }
      }
    }
    return judgeFanout(record.version, ownerVersions, standInVersions);
  }

  /**
   * Asks the owners what they hold, and every other alive node when the
   * owners cannot settle it: hinted copies sit on stand-ins, and after a
   * membership change the only copies may still sit on former owners that
   * repair has not drained yet. Writes ask everyone at once (`eager`): most
   * writes create keys, which no owner holds, and one round costs less than two.
   */
  private async survey(key: string, { owners, rest }: Placement, requestId: string | null, eager: boolean): Promise<Survey> {
    const term = await this.cluster.term();
    if (this.strict) await this.announce(term);
    const [ownerAnswers, eagerAnswers] = await Promise.all([
      this.readReplicas(owners, key, requestId),
      eager ? this.readReplicas(rest, key, requestId) : Promise.resolve(null),
    ]);
    const ownerCopies = ownerAnswers.map((answer) => answer?.record);
    const otherAnswers = eagerAnswers ?? (ownersSettle(ownerCopies) ? [] : await this.readReplicas(rest, key, requestId));
    const known = [...ownerAnswers, ...otherAnswers].find((answer) => answer?.known)?.known ?? null;
    return {
      owners: ownerCopies,
      others: otherAnswers.map((answer) => answer?.record),
      known,
      term,
      lastIssued: this.issued.get(key),
    };
  }

  private async view(): Promise<View> {
    if (!this.strict) return { nodes: this.cluster.aliveNodes(), history: [], release: () => {} };
    const nodes = this.strict.placed();
    return { nodes, ...(await this.strict.placement.enter(nodes)) };
  }

  private strictProblem(key: string, view: View, placement: Placement, survey: Survey): string | null {
    return this.strict ? strictSurveyProblem(key, survey, placement, view.history, this.cluster.replicationFactor) : null;
  }

  private place(key: string, nodes: readonly NodeId[]): Placement {
    const { replicationFactor } = this.cluster;
    const ranked = preferenceList(key, nodes);
    const owners = ranked.slice(0, replicationFactor);
    // The slice bounds the owners by the replication factor; a duplicate
    // (a node listed twice in the view) would count one acknowledgement twice.
    invariant(new Set(owners).size === owners.length, () => `placement of ${key} names an owner twice: ${owners.join(', ')}`);
    return { owners, rest: ranked.slice(replicationFactor) };
  }

  private remember(key: string, version: Version): void {
    this.issued.delete(key);
    this.issued.set(key, version);
    if (this.issued.size > ISSUED_MEMORY) this.issued.delete(this.issued.keys().next().value!);
  }

  /** Runs `task` after every earlier task for the same key has settled; the key counts as written until the last one has. */
  private serialized<T>(key: string, task: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(key) ?? Promise.resolve()).then(task, task);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(key, tail);
    // Settled only once the key is out of the queue: a read right after the answer may use the own copy.
    return run.finally(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
  }

  /** `term`, the fencing token, is required in the consistent mode. */
  private async writeReplica(node: NodeId, record: ReplicaRecord, hintFor: NodeId | null, term?: number): Promise<ApplyResult> {
    const fence = this.strict ? term : undefined;
    if (node !== this.cluster.self) return this.remote.write(node, record, hintFor, fence);
    await this.strict?.fence.admit(fence);
    return (await this.store.apply([record], [hintFor]))[0]!;
  }

  /**
   * A new term is announced to every alive node before the first request in
   * it: from then on they refuse the writes of every earlier leader, even
   * for keys this leader never writes. Our own replica learns it first, and
   * refuses us if a later leader already announced itself here.
   */
  private announce(term: number): Promise<void> {
    if (this.announcement?.term === term) return this.announcement.done;
    const done = (async () => {
      await this.strict!.fence.admit(term);
      const others = this.cluster.aliveNodes().filter((node) => node !== this.cluster.self);
      const results = await Promise.allSettled(others.map((node) => this.remote.announce(node, term)));
      results.forEach((result, i) => {
        if (result.status === 'rejected') this.logger.warn({ node: others[i], term, err: (result.reason as Error).message }, 'could not announce the term');
      });
    })();
    this.announcement = { term, done };
    // A failed announcement (our own replica knows a later term) is tried again by the next request.
    done.catch(() => {
      if (this.announcement?.done === done) this.announcement = null;
    });
    return done;
  }

  /** Read repair before answering: every owner that is behind gets `found`, or the read fails. */
  private async repairNow(owners: readonly NodeId[], survey: Survey, found: ReplicaRecord): Promise<void> {
    const behind = owners.filter((_, i) => {
      const copy = survey.owners[i];
      return !copy || compareVersions(copy.version, found.version) < 0;
    });
    const results = await Promise.allSettled(behind.map((node) => this.writeReplica(node, found, null, survey.term)));
    const failed = results.filter((result) => result.status === 'rejected' || compareVersions(result.value.current, found.version) < 0).length;
    if (failed > 0) throw new UnavailableError(`Failed to read an entry: ${failed} of ${owners.length} owners could not be brought up to date`);
  }

  /** One answer per node, undefined for a node that did not answer. */
  private async readReplicas(
    nodes: readonly NodeId[],
    key: string,
    requestId: string | null,
  ): Promise<({ record: ReplicaRecord | null; known: KnownRequest | null } | undefined)[]> {
    const results = await Promise.allSettled(
      nodes.map(async (node) => {
        if (node !== this.cluster.self) return this.remote.read(node, key, requestId);
        return { record: this.store.record(key), known: requestId ? this.store.knownRequest(requestId) : null };
      }),
    );
    return results.map((result) => (result.status === 'fulfilled' ? result.value : undefined));
  }

  /** Read repair: owners that answered with an older copy, or none, get the newest. */
  private repair(owners: readonly NodeId[], answers: readonly Copy[], found: ReplicaRecord): void {
    owners.forEach((node, i) => {
      const answer = answers[i];
      if (answer === undefined || (answer && compareVersions(answer.version, found.version) >= 0)) return;
      if (this.readRepairs >= MAX_READ_REPAIRS) return;
      this.readRepairs++;
      this.writeReplica(node, found, null)
        .catch((error: Error) => this.logger.debug({ node, key: found.key, err: error.message }, 'read repair failed'))
        .finally(() => this.readRepairs--);
    });
  }
}
