import { KEY_ERROR, isUuid4 } from '../common/uuid.js';
import { VALUE_ERROR, isJson } from '../common/values.js';
import { parseVersion } from '../replication/version.js';

/** A write's condition as typed: `IF <version>` or `IF ABSENT`. */
export type WriteCondition = { ifVersion: string } | { ifAbsent: true };

export type Command =
  | { kind: 'set'; key: string; value: string; condition?: WriteCondition }
  | { kind: 'get'; key: string; withVersion?: true }
  | { kind: 'delete'; key: string; ifVersion?: string }
  | { kind: 'locate'; key: string }
  | { kind: 'nodes' }
  | { kind: 'status' }
  | { kind: 'help' }
  | { kind: 'exit' };

export type Parsed = Command | { kind: 'error'; message: string } | { kind: 'empty' };

const NO_ARGUMENTS = new Map<string, Command>([
  ['STATUS', { kind: 'status' }],
  ['NODES', { kind: 'nodes' }],
  ['HELP', { kind: 'help' }],
  ['EXIT', { kind: 'exit' }],
  ['QUIT', { kind: 'exit' }],
]);

/** Every command name, for completion. */
export const COMMAND_NAMES = ['SET', 'GET', 'DELETE', 'LOCATE', ...NO_ARGUMENTS.keys()];

/** Turns one REPL line into a command; validates key and value so typos cost no round trip. */
export function parseLine(line: string): Parsed {
  const { word, rest } = splitWord(line);
  if (word === '') return { kind: 'empty' };
  const name = word.toUpperCase();
  if (name === 'SET') return parseSet(rest);
  if (name === 'GET') return parseGet(rest);
  if (name === 'DELETE') return parseDelete(rest);
  if (name === 'LOCATE') return parseLocate(rest);
  const command = NO_ARGUMENTS.get(name);
  if (!command) return usage(`Unknown command "${word}" (try HELP)`);
  return rest === '' ? command : usage(`${name} takes no arguments`);
}

function parseGet(args: string): Parsed {
  const { word: first, rest } = splitWord(args);
  const withVersion = first.toLowerCase() === '-v';
  const { word: key, rest: extra } = withVersion ? splitWord(rest) : { word: first, rest };
  if (key === '' || extra !== '') return usage('GET takes exactly one key');
  if (!isUuid4(key)) return usage(KEY_ERROR);
  return withVersion ? { kind: 'get', key, withVersion } : { kind: 'get', key };
}

function parseLocate(args: string): Parsed {
  const { word: key, rest } = splitWord(args);
  if (key === '' || rest !== '') return usage('LOCATE takes exactly one key');
  if (!isUuid4(key)) return usage(KEY_ERROR);
  return { kind: 'locate', key };
}

function parseDelete(args: string): Parsed {
  const { word: key, rest } = splitWord(args);
  const condition = /^IF\s+(\S+)$/i.exec(rest);
  if (key === '' || (rest !== '' && !condition)) return usage('DELETE takes exactly one key');
  if (!isUuid4(key)) return usage(KEY_ERROR);
  if (!condition) return { kind: 'delete', key };
  const version = condition[1]!;
  if (!parseVersion(version)) return usage(VERSION_ERROR);
  return { kind: 'delete', key, ifVersion: version };
}

const VERSION_ERROR = 'Version is not valid (GET -v KEY shows it, e.g. 3.1812345678901234.127.0.0.1:8001)';

function parseSet(args: string): Parsed {
  const { word: key, rest } = splitWord(args);
  if (key === '' || rest === '') return usage('SET takes a key and a value');
  if (!isUuid4(key)) return usage(KEY_ERROR);
  const value = unquote(rest);
  if (isJson(value)) return { kind: 'set', key, value };
  // `... IF <version>` / `... IF ABSENT` at the end, after a valid JSON value.
  const conditional = /^([\s\S]*?)\s+IF\s+(\S+)$/i.exec(rest);
  const head = conditional && unquote(conditional[1]!);
  if (!conditional || !isJson(head!)) return usage(VALUE_ERROR);
  const target = conditional[2]!;
  if (target.toUpperCase() === 'ABSENT') return { kind: 'set', key, value: head!, condition: { ifAbsent: true } };
  if (!parseVersion(target)) return usage(VERSION_ERROR);
  return { kind: 'set', key, value: head!, condition: { ifVersion: target } };
}

/** One pair of outer single quotes is shell-like decoration; quotes inside belong to the value. */
export function unquote(text: string): string {
  return text.length >= 2 && text.startsWith("'") && text.endsWith("'") ? text.slice(1, -1) : text;
}

/** The first whitespace-separated word and the trimmed remainder (inner whitespace kept). */
function splitWord(text: string): { word: string; rest: string } {
  const match = /^\s*(\S*)\s*([\s\S]*?)\s*$/.exec(text)!;
  return { word: match[1]!, rest: match[2]! };
}

function usage(message: string): Parsed {
  return { kind: 'error', message };
}
