// Flag parsers shared by every command line: the node, the REPL, the benchmark and the chaos harness.
import { InvalidArgumentError, Option } from 'commander';
import { parseDuration } from './duration.js';

/** Turns a parser's error into commander's one-line usage error instead of a stack trace. */
export function checked<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (error) {
      throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
    }
  };
}

/** A host name or IPv4 address: node ids are `HOST:PORT`, so no colons. */
export function parseHost(text: string): string {
  if (!/^[^\s:/]+$/.test(text)) throw new Error(`"${text}" is not a host name or IPv4 address`);
  return text;
}

/** Commander's error text as one `Error: …` line, a "Did you mean" hint folded in. */
export function oneLineError(text: string): string {
  return `${text.replace(/^error:/, 'Error:').replace(/\s*\n\s*/g, ' ').trim()}\n`;
}

/** A parser of whole numbers from `min` to `max`, with optional _ or , separators and a k or M suffix: 200, 10_000, 100k, 1M. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return checked((text) => {
    const match = /^(\d+)([kKmM]?)$/.exec(text.trim().replace(/[_,]/g, ''));
    const value = match ? Number(match[1]) * (match[2] === '' ? 1 : match[2]!.toLowerCase() === 'k' ? 1000 : 1_000_000) : NaN;
    if (!(Number.isSafeInteger(value) && value >= min && value <= max)) {
      throw new Error(`"${text}" is not a whole number ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`}`);
    }
    return value;
  });
}

/** A duration flag (`500ms`, `2s`, `1m`) whose default shows in --help the way one would type it. */
export function durationOption(flags: string, description: string, defaultMs: number): Option {
  const label = defaultMs < 1000 ? `${defaultMs}ms` : `${defaultMs / 1000}s`;
  return new Option(flags, description).default(defaultMs, label).argParser(checked((text) => parseDuration(text)));
}
