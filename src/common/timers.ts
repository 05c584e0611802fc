// Timers as a dependency: a node uses Node's, the simulator its virtual clock.

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
