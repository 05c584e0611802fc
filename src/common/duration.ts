const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** Node's timers hold a signed 32-bit count of ms; a longer one fires at once, every time. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Parses `500ms`, `2s`, `1.5m`, `1h` or a bare number of milliseconds; zero only when `allowZero`. */
export function parseDuration(text: string, { allowZero = false } = {}): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!match) throw new Error(`"${text}" is not a duration (use e.g. 500ms, 2s, 1m)`);
  const ms = Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']!);
  if (ms <= 0 && !(allowZero && ms === 0)) throw new Error(`"${text}" must be longer than zero`);
  if (ms > MAX_TIMER_MS) throw new Error(`"${text}" is longer than 24.8 days (${MAX_TIMER_MS} ms), the longest timer Node.js can hold`);
  return ms;
}

/** A duration for people: `0.8 s`, `12.5 s`, `3.0 min`, `2.0 h`. */
export function formatDuration(ms: number): string {
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return ms < 7_200_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 3_600_000).toFixed(1)} h`;
}
