// Timers and clocks as dependencies: a node uses Node's, the simulator its virtual clock.
import { performance } from 'node:perf_hooks';

export interface Timers {
  /** Calls `fn` every `ms`; the function returned stops it. */
  every(ms: number, fn: () => void): () => void;
  /** Calls `fn` once after `ms`; the function returned cancels it. */
  after(ms: number, fn: () => void): () => void;
}

export const realTimers: Timers = {
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    return () => clearInterval(timer);
  },
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

export interface Clock {
  /** Monotonic milliseconds: durations and timeouts, immune to the wall clock being set. */
  now(): number;
  /** Wall-clock milliseconds since the epoch: what people read. */
  wall(): number;
}

export const realClock: Clock = {
  now: () => performance.now(),
  wall: () => Date.now(),
};
