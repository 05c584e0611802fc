// Virtual time. Every timer of a simulated run is an event in one queue,
// ordered by time and then by scheduling order; the run jumps from event to
// event. Between two events the real event loop is drained of the work the
// last one started (promise chains, setImmediate hops of the batcher and the
// repair scans), so that work takes no virtual time. Nothing else runs in the
// process meanwhile, so one seed gives one interleaving.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Timers } from '../src/common/timers.js';

interface Event {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** Turns of the event loop after which a run counts as livelocked. */
const MAX_TURNS_PER_STEP = 100_000;

export class Scheduler implements Timers {
  private heap: Event[] = [];
  private seq = 0;
  private time = 0;
  /** Events run so far. */
  steps = 0;

  constructor(readonly epochMs: number) {}

  /** Virtual wall-clock milliseconds, whole as Date.now's (versions' clocks must be integers). */
  now(): number {
    return this.epochMs + Math.floor(this.time);
  }

  /** Milliseconds since the run started. */
  elapsed(): number {
    return this.time;
  }

  after(ms: number, fn: () => void): () => void {
    const event: Event = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.push(event);
    return () => {
      event.cancelled = true;
    };
  }

  every(ms: number, fn: () => void): () => void {
    let stopped = false;
    let cancel = () => {};
    const tick = () => {
      if (stopped) return;
      cancel = this.after(ms, tick);
      fn();
    };
    cancel = this.after(ms, tick);
    return () => {
      stopped = true;
      cancel();
    };
  }

  /** A promise resolved `ms` later. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  /** Runs events up to `until` (ms since start), or until `done()` holds after an event. */
  async runUntil(until: number, done: () => boolean = () => false): Promise<void> {
    await settle();
    while (this.heap.length > 0 && this.heap[0]!.at <= until && !done()) {
      const event = this.pop();
      if (event.cancelled) continue;
      this.time = event.at;
      this.steps++;
      event.fn();
      await settle();
    }
    if (!done()) this.time = Math.max(this.time, until);
  }

  private push(event: Event): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!earlier(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): Event {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let least = i;
        if (left < heap.length && earlier(heap[left]!, heap[least]!)) least = left;
        if (right < heap.length && earlier(heap[right]!, heap[least]!)) least = right;
        if (least === i) break;
        [heap[i], heap[least]] = [heap[least]!, heap[i]!];
        i = least;
      }
    }
    return top;
  }
}

function earlier(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function pendingImmediates(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Immediate').length;
}

/** Lets every promise chain and setImmediate hop started so far run to its next wait on virtual time. */
async function settle(): Promise<void> {
  for (let turns = 0; ; turns++) {
    await nextTurn();
    if (pendingImmediates() === 0) return;
    if (turns > MAX_TURNS_PER_STEP) throw new Error('the simulated cluster never settles between two events (livelock)');
  }
}
