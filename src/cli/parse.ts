import { KEY_ERROR, isUuid4 } from '../common/uuid.js';
import { VALUE_ERROR, isJson } from '../common/values.js';

export type Command =
  | { kind: 'set'; key: string; value: string }
  | { kind: 'get'; key: string }
  | { kind: 'delete'; key: string }
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

const KEY_COMMANDS = new Map<string, 'get' | 'delete' | 'locate'>([
  ['GET', 'get'],
  ['DELETE', 'delete'],
  ['LOCATE', 'locate'],
]);

/** Every command name, for completion. */
export const COMMAND_NAMES = ['SET', ...KEY_COMMANDS.keys(), ...NO_ARGUMENTS.keys()];

/** Turns one REPL line into a command; validates key and value so typos cost no round trip. */
export function parseLine(line: string): Parsed {
  const { word, rest } = splitWord(line);
  if (word === '') return { kind: 'empty' };
  const name = word.toUpperCase();
  if (name === 'SET') return parseSet(rest);
  const keyCommand = KEY_COMMANDS.get(name);
  if (keyCommand) {
    const { word: key, rest: extra } = splitWord(rest);
    if (key === '' || extra !== '') return usage(`${name} takes exactly one key`);
    if (!isUuid4(key)) return usage(KEY_ERROR);
    return { kind: keyCommand, key };
  }
  const command = NO_ARGUMENTS.get(name);
  if (!command) return usage(`Unknown command "${word}" (try HELP)`);
  return rest === '' ? command : usage(`${name} takes no arguments`);
}

function parseSet(args: string): Parsed {
  const { word: key, rest } = splitWord(args);
  if (key === '' || rest === '') return usage('SET takes a key and a value');
  if (!isUuid4(key)) return usage(KEY_ERROR);
  const value = unquote(rest);
  if (!isJson(value)) return usage(VALUE_ERROR);
  return { kind: 'set', key, value };
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
