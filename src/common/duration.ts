const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `500ms`, `2s`, `1.5m`, `1h` or a bare number of milliseconds. */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!match) throw new Error(`"${text}" is not a duration (use e.g. 500ms, 2s, 1m)`);
  const ms = Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']!);
  if (ms <= 0) throw new Error(`"${text}" must be longer than zero`);
  return ms;
}

