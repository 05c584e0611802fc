// The placement history (placement-history.ts) kept in etcd: the leader
// records every view before it serves a request in it, and settles the history
// to one view once every node of that view has finished a clean repair pass
// that began after the last request of an earlier view ended. Every node reads
// it, so a node keeps the copies it handed over while the history is unsettled.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../common/logger.js';
import { UnavailableError } from '../common/errors.js';
import { PlacementRecord, checker, type NodeId, type RepairStatus } from '../protocol/schemas.js';
import { MAX_VIEWS, normalizedView, sameView, settleProblem, withView, type PlacementHistory } from './placement-history.js';

const isPlacementRecord = checker(PlacementRecord);
const RECORD_ATTEMPTS = 3;
/** Clean passes each node must finish after the snapshot: the first may have begun before it. */
const PASSES_TO_SETTLE = 2;

/** The etcd side: one key, written only by a node whose own member key still stands. */
export interface PlacementStore {
  /** The stored text and its mod revision; null and 0 when there is none. */
  readPlacement(): Promise<{ value: string | null; revision: number }>;
  /** Writes when the key's mod revision is still `revision`; the new revision, or null when it was not. */
  writePlacement(value: string, revision: number): Promise<number | null>;
}

export interface PlacementLogContext {
  replicationFactor: number;
  /** Bound of one etcd call: the client's own retries could hold a request far longer. */
  requestTimeoutMs: number;
  logger: Logger;
  isLeader(): boolean;
  aliveIds(): readonly NodeId[];
  /** The last repair report of every alive node, this one included. */
  repairs(): ReadonlyMap<NodeId, RepairStatus | undefined>;
}

export interface PlacementTicket {
  history: PlacementHistory;
  /** Called when the request that holds the ticket has finished. */
  release(): void;
}

export class PlacementLog {
  private history: PlacementHistory | null = null;
  private revision = 0;
  /** Bumped at every change of the history this node makes or reads. */
  private generation = 0;
  private readonly inflight = new Map<number, number>();
  private snapshot: { generation: number; passes: Map<NodeId, number> } | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private lastProblem = '';
  private leading = false;

  constructor(
    private readonly store: PlacementStore,
    private readonly context: PlacementLogContext,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.tick(), intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** True unless the history is known and holds only its settled view. */
  unsettled(): boolean {
    return this.history === null || this.history.length > 1;
  }

  /** The history with `view` recorded in it, held until `release`: settling waits for every ticket of an earlier history. */
  async enter(view: readonly NodeId[]): Promise<PlacementTicket> {
    const history = await this.serialized(() => {
      this.fresh();
      return this.include(view);
    });
    const generation = this.generation;
    this.inflight.set(generation, (this.inflight.get(generation) ?? 0) + 1);
    let released = false;
    return {
      history,
      release: () => {
        if (released) return;
        released = true;
        const left = this.inflight.get(generation)! - 1;
        if (left === 0) this.inflight.delete(generation);
        else this.inflight.set(generation, left);
      },
    };
  }

  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async include(view: readonly NodeId[]): Promise<PlacementHistory> {
    for (let attempt = 1; attempt <= RECORD_ATTEMPTS; attempt++) {
      if (this.history === null && !(await this.refresh())) break;
      const current = this.history;
      if (current !== null) {
        const next = withView(current, view);
        if (next === current) return current;
        if (next.length > MAX_VIEWS) throw new UnavailableError(`The membership changed ${MAX_VIEWS} times without settling; the consistent mode answers once repair catches up`);
        if (await this.write(next)) {
          this.context.logger.info({ view: next.at(-1), views: next.length }, 'recorded a new placement view in etcd');
          return next;
        }
      }
      // Another leader wrote it, or it could not be read: read it again.
      this.history = null;
    }
    throw new UnavailableError('Cannot record the current membership in etcd; the consistent mode answers once etcd does');
  }

  private bounded<T>(call: Promise<T>): Promise<T> {
    const timer = new AbortController();
    return Promise.race([
      call.finally(() => timer.abort()),
      sleep(this.context.requestTimeoutMs, undefined, { signal: timer.signal }).then(() => {
        throw new Error(`etcd did not answer within ${this.context.requestTimeoutMs} ms`);
      }),
    ]);
  }

  private async write(history: PlacementHistory): Promise<boolean> {
    const record: PlacementRecord = { views: history.map((view) => [...view]) };
    const revision = await this.bounded(this.store.writePlacement(JSON.stringify(record), this.revision)).catch(() => null);
    if (revision === null) return false;
    this.set(history, revision);
    return true;
  }

  private set(history: PlacementHistory | null, revision: number): void {
    const changed = history === null || this.history === null || history.length !== this.history.length || !history.every((view, i) => sameView(view, this.history![i]!));
    this.history = history;
    this.revision = revision;
    if (changed) this.generation++;
  }

  /** Reads the history from etcd; false when it cannot. */
  private async refresh(): Promise<boolean> {
    try {
      const { value, revision } = await this.bounded(this.store.readPlacement());
      // A read that left etcd before our own last write landed must not undo it.
      if (revision < this.revision && this.history !== null) return true;
      if (value === null) {
        this.set([], revision);
        return true;
      }
      const record: unknown = JSON.parse(value);
      if (!isPlacementRecord(record)) throw new Error('not a placement record');
      this.set(record.views.map(normalizedView), revision);
      return true;
    } catch (error) {
      // What we knew stays: only a leader changes the history, and a new leader reads it afresh (see `fresh`).
      this.context.logger.debug({ err: (error as Error).message }, 'cannot read the placement history from etcd');
      return false;
    }
  }

  /** A node that has just become the leader must not act on a history read before its predecessor's last change. */
  private fresh(): void {
    const leading = this.context.isLeader();
    if (leading && !this.leading) this.history = null;
    this.leading = leading;
  }

  private async tick(): Promise<void> {
    try {
      // Read outside the queue: requests recording their view must not wait behind it.
      await this.refresh();
      if (this.context.isLeader()) {
        await this.serialized(async () => {
          this.fresh();
          await this.settle();
        });
      }
    } catch (error) {
      this.context.logger.debug({ err: (error as Error).message }, 'placement check failed');
    }
  }

  /** Called with the queue held: nothing records a view meanwhile. */
  private async settle(): Promise<void> {
    const view = normalizedView(this.context.aliveIds());
    if (this.history === null || (this.history.length === 1 && sameView(this.history[0]!, view))) return;
    const history = await this.include(view);
    const problem = settleProblem(history, view, this.context.replicationFactor);
    if (problem) {
      if (problem !== this.lastProblem) this.context.logger.warn({ view, problem }, 'placement cannot settle: copies of some keys may be only on nodes that are gone');
      this.lastProblem = problem;
      return;
    }
    for (const generation of this.inflight.keys()) if (generation < this.generation) return;
    const repairs = this.context.repairs();
    const passes = new Map(view.map((node) => [node, repairs.get(node)?.cleanPasses ?? -1]));
    const before = this.snapshot;
    // A node whose count went down restarted: its passes count from now.
    if (!before || before.generation !== this.generation || view.some((node) => passes.get(node)! < before.passes.get(node)!)) {
      this.snapshot = { generation: this.generation, passes };
      return;
    }
    const repaired = view.every((node) => {
      const report = repairs.get(node);
      return report !== undefined && sameView(normalizedView(report.syncedFor), view) && report.cleanPasses >= before.passes.get(node)! + PASSES_TO_SETTLE;
    });
    if (!repaired || !(await this.write([view]))) return;
    this.snapshot = null;
    this.lastProblem = '';
    this.context.logger.info({ view, after: history.length }, 'placement settled: every owner holds its keys');
  }
}
