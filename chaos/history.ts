// The run's history, Jepsen style: every client operation is an `invoke`
// event followed by exactly one completion (`ok`, `fail` or `info`), and the
// nemesis records when each fault starts and ends, all on one clock
// (milliseconds since the run began). One event per line in history.jsonl.
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { performance } from 'node:perf_hooks';

export type OpKind = 'get' | 'set' | 'delete';
/** ok: happened; fail: definitely did not happen; info: unknown (timed out, unavailable, connection lost). */
export type Outcome = 'ok' | 'fail' | 'info';
/** `etcd`: SIGSTOP one or two of the consistent mode's three etcd members. */
export type FaultKind = 'kill' | 'pause' | 'partition' | 'etcd';

/** The process number of the final reads, after the faults and the workload stopped. */
export const FINAL_PROCESS = -1;

export interface InvokeEvent {
  type: 'invoke';
  id: number;
  process: number;
  f: OpKind;
  key: string;
  /** SET: the value written; GET and DELETE: null. */
  value: string | null;
  time: number;
}

export interface CompleteEvent {
  type: Outcome;
  id: number;
  process: number;
  f: OpKind;
  key: string;
  /** SET: the value written; GET (ok): the value read, null for "not found"; DELETE: null. */
  value: string | null;
  time: number;
  /** The store's answer: created / updated / deleted / not-found / found. */
  result?: string;
  /** Why a fail or info op ended that way. */
  error?: string;
  /** The leader the client followed when the op completed (where it was served, for ok ops). */
  node?: string;
}

export interface NemesisEvent {
  type: 'nemesis';
  /** One id per fault, shared by its start and end events. */
  fault: number;
  phase: 'start' | 'end' | 'error';
  kind: FaultKind;
  /** Nodes killed or paused; for a partition, every node of the smaller side; etcd members paused. */
  nodes: string[];
  /** Partitions: the two sides. */
  groups?: string[][];
  time: number;
  detail?: string;
}

/** A marker for the run's phases (workload start/stop, heal, convergence, final reads). */
export interface PhaseEvent {
  type: 'phase';
  name: string;
  time: number;
  detail?: string;
}

export type HistoryEvent = InvokeEvent | CompleteEvent | NemesisEvent | PhaseEvent;

/** An operation with its invocation and completion paired. */
export interface Op {
  id: number;
  process: number;
  f: OpKind;
  key: string;
  value: string | null;
  outcome: Outcome;
  invoke: number;
  /** When the completion was recorded (for an info op: when the client gave up). */
  complete: number;
  result?: string;
  error?: string;
  node?: string;
}

/** The latest moment an op may take effect: never for a fail, any time after its invocation for an info. */
export function effectiveEnd(op: Op): number {
  return op.outcome === 'info' ? Infinity : op.complete;
}

export function isWrite(op: Op): boolean {
  return op.f === 'set' || op.f === 'delete';
}

export class History {
  readonly events: HistoryEvent[] = [];
  private readonly origin = performance.now();
  private readonly out: WriteStream | null;
  private nextId = 0;

  /** Wall-clock ms at time 0 of the history. */
  readonly startedAt = Date.now();

  constructor(file: string | null) {
    this.out = file ? createWriteStream(file, { flags: 'w' }) : null;
  }

  /** Milliseconds since the run began, microsecond resolution. */
  now(): number {
    return Math.round((performance.now() - this.origin) * 1000) / 1000;
  }

  newOpId(): number {
    return this.nextId++;
  }

  record<E extends HistoryEvent>(event: E): E {
    this.events.push(event);
    this.out?.write(`${JSON.stringify(event)}\n`);
    return event;
  }

  phase(name: string, detail?: string): void {
    this.record({ type: 'phase', name, time: this.now(), ...(detail === undefined ? {} : { detail }) });
  }

  async close(): Promise<void> {
    const out = this.out;
    if (!out) return;
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  }
}

/** Pairs invocations with completions; an invocation never completed counts as info, ending at `endTime`. */
export function pairOps(events: readonly HistoryEvent[], endTime?: number): Op[] {
  const open = new Map<number, InvokeEvent>();
  const ops: Op[] = [];
  let last = 0;
  for (const event of events) {
    last = Math.max(last, event.time);
    if (event.type === 'invoke') {
      open.set(event.id, event);
    } else if (event.type === 'ok' || event.type === 'fail' || event.type === 'info') {
      const invoke = open.get(event.id);
      if (!invoke) throw new Error(`completion of op ${event.id} without an invocation`);
      open.delete(event.id);
      ops.push({
        id: event.id,
        process: invoke.process,
        f: invoke.f,
        key: invoke.key,
        value: event.type === 'ok' || invoke.f !== 'get' ? event.value : null,
        outcome: event.type,
        invoke: invoke.time,
        complete: event.time,
        ...(event.result === undefined ? {} : { result: event.result }),
        ...(event.error === undefined ? {} : { error: event.error }),
        ...(event.node === undefined ? {} : { node: event.node }),
      });
    }
  }
  for (const invoke of open.values()) {
    ops.push({ id: invoke.id, process: invoke.process, f: invoke.f, key: invoke.key, value: invoke.value, outcome: 'info', invoke: invoke.time, complete: endTime ?? last, error: 'never completed' });
  }
  return ops.sort((a, b) => a.invoke - b.invoke || a.id - b.id);
}

export function readHistory(file: string): HistoryEvent[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as HistoryEvent);
}

/** A one-line description of an op, for verdict messages. */
export function describeOp(op: Op): string {
  const end = op.outcome === 'info' ? `info@${op.complete.toFixed(1)}` : `${op.outcome}@${op.complete.toFixed(1)}`;
  const value = op.f === 'get' ? (op.outcome === 'ok' ? ` -> ${op.value ?? 'not found'}` : '') : op.f === 'set' ? ` ${op.value}` : '';
  return `#${op.id} p${op.process === FINAL_PROCESS ? 'final' : op.process} ${op.f.toUpperCase()} ${op.key.slice(0, 8)}${value} [${op.invoke.toFixed(1)} .. ${end}]`;
}
