import { readFileSync, writeFileSync } from 'node:fs';

export const HISTORY_SIZE = 1000;

/** Newest first, as node:readline wants it; a missing or unreadable file is an empty history. */
export function loadHistory(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).reverse().slice(0, HISTORY_SIZE);
  } catch {
    return [];
  }
}

/** Oldest first on disk, like shells do. Failing to save must never break the session. */
export function saveHistory(file: string, newestFirst: readonly string[]): void {
  try {
    writeFileSync(file, [...newestFirst].reverse().map((line) => `${line}\n`).join(''), { mode: 0o600 });
  } catch {
    // A read-only home or a full disk only costs the history.
  }
}
