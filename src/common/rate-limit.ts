// Paces a stream of work: each batch waits until the batches before it would
// be done at the given rate. No burst allowance: repair work resumed after a
// quiet spell should not arrive at a node all at once.
import type { Timers } from './timers.js';

export class RateLimit {
  private nextFree = 0;

  /** `perSecond` units a second; Infinity for no limit. */
  constructor(
    private readonly perSecond: number,
    private readonly now: () => number,
    private readonly timers: Timers,
  ) {}

  /** Resolves when `units` more may go. */
  async take(units: number): Promise<void> {
    if (this.perSecond === Infinity) return;
    const now = this.now();
    const start = Math.max(now, this.nextFree);
    this.nextFree = start + (units * 1000) / this.perSecond;
    if (start > now) await new Promise<void>((resolve) => this.timers.after(start - now, resolve));
  }
}
