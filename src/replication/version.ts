import type { Version } from '../protocol/schemas.js';

/** Orders versions: term, then clock, then writer id. Positive when a is newer. */
export function compareVersions(a: Version, b: Version): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  if (a[1] !== b[1]) return a[1] - b[1];
  return a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0;
}

export function isNewer(candidate: Version, current: Version | undefined): boolean {
  return current === undefined || compareVersions(candidate, current) > 0;
}

// Wall-clock milliseconds scaled by 2^10 leave room for 1024 writes per ms
// before the logical part borrows from the next millisecond, and stay below
// 2^53 until the year 2255.
const LOGICAL_BITS = 1024;

/**
 * A hybrid logical clock: close to wall time so versions from different
 * leaders of one term compare sensibly, and strictly increasing even when the
 * wall clock stalls or steps back.
 */
export class HybridClock {
  private last = 0;

  constructor(private readonly now: () => number = Date.now) {}

  next(): number {
    this.last = Math.max(this.now() * LOGICAL_BITS, this.last + 1);
    return this.last;
  }

  /** Moves the clock past a timestamp seen in a stored record. */
  observe(timestamp: number): void {
    if (timestamp > this.last) this.last = timestamp;
  }
}

/**
 * The text form clients see (`x-warehouse-version`, `If-Match`, `GET -v`):
 * `TERM.CLOCK.WRITER`, e.g. `3.1812345678901234.127.0.0.1:8001`. Term and
 * clock are decimal integers; the writer (a node id) is everything after the
 * second dot.
 */
export function formatVersion(version: Version): string {
  return version.join('.');
}

const VERSION_TEXT = /^(\d{1,15})\.(\d{1,16})\.(\S{1,300})$/;

/** The version written by `formatVersion`, or null for anything else. */
export function parseVersion(text: string): Version | null {
  const match = VERSION_TEXT.exec(text.trim());
  if (!match) return null;
  const term = Number(match[1]);
  const clock = Number(match[2]);
  if (!Number.isSafeInteger(term) || !Number.isSafeInteger(clock)) return null;
  return [term, clock, match[3]!];
}
