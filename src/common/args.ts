// Flag parsers shared by the node's and the REPL's command lines.
import { InvalidArgumentError } from 'commander';

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
