// Long loops over the store (anti-entropy hashing, key lists, hint delivery,
// hand-off) run on the node's only thread: left alone, one over a million
// records holds every client request for seconds. They count their steps and
// give the event loop a turn every slice. A count, not a clock, so the
// simulator's runs stay the same from a seed.
import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Steps between two turns: one step is a record read, placed and hashed or
 * listed, a few microseconds, so a slice holds the loop for about a millisecond.
 */
export const STEPS_PER_SLICE = 256;

export class Slices {
  private steps = 0;

  constructor(private readonly size = STEPS_PER_SLICE) {}

  /** Counts one step; every `size` steps, resolves after the event loop has had a turn. */
  step(): Promise<void> | null {
    return ++this.steps % this.size === 0 ? nextTurn() : null;
  }
}
