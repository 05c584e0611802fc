// `warehouse-cli [options] COMMAND…`: one command, its answer, and an exit
// status a script can test, like redis-cli and etcdctl: 0 done, 1 not found
// or failed, 2 usage. With --json the answer is one JSON document on stdout.
import { UnavailableError, WarehouseError, type WarehouseClient } from '../client/index.js';
import { execute, remove, write } from './execute.js';
import { HELP_TEXT, READ_FAILED, WRITE_FAILED, formatError } from './format.js';
import type { Command } from './parse.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export type OneShotCommand = Exclude<Command, { kind: 'exit' }>;

export interface OneShotOutput {
  out: (text: string) => void;
  err: (text: string) => void;
  paint?: (line: string) => string;
}

export async function runOneShot(command: OneShotCommand, client: WarehouseClient, json: boolean, output: OneShotOutput): Promise<number> {
  return json ? answerJson(command, client, output) : answerText(command, client, output);
}

/** The REPL's own answer, with errors on stderr and the outcome as the exit status. */
async function answerText(command: OneShotCommand, client: WarehouseClient, { out, err, paint = (line) => line }: OneShotOutput): Promise<number> {
  const lines = await execute(command, client);
  const errors = lines.filter((line) => line.startsWith('Error: '));
  const answers = lines.filter((line) => !line.startsWith('Error: '));
  if (answers.length > 0) out(answers.map((line) => `${paint(line)}\n`).join(''));
  if (errors.length > 0) err(errors.map((line) => `${paint(line)}\n`).join(''));
  return errors.length > 0 || (lines.length === 1 && lines[0] === 'Not found') ? EXIT_FAILED : EXIT_OK;
}

async function answerJson(command: OneShotCommand, client: WarehouseClient, { out, err }: OneShotOutput): Promise<number> {
  const print = (document: unknown, code = EXIT_OK) => {
    out(`${typeof document === 'string' ? document : JSON.stringify(document)}\n`);
    return code;
  };
  const writes = command.kind === 'set' || command.kind === 'delete';
  try {
    switch (command.kind) {
      case 'get': {
        const answer = await client.get(command.key);
        // The stored text is JSON already: spliced in as it is, so it comes out exactly as written.
        const version = answer.found && answer.version !== undefined ? `"version":${JSON.stringify(answer.version)},` : '';
        if (answer.found) return print(`{"key":${JSON.stringify(command.key)},"found":true,${version}"value":${answer.value}}`);
        return print({ key: command.key, found: false }, EXIT_FAILED);
      }
      case 'set':
        return print({ key: command.key, ...(await write(command, client)) });
      case 'delete': {
        const answer = await remove(command, client);
        return print({ key: command.key, ...answer }, answer.found ? EXIT_OK : EXIT_FAILED);
      }
      case 'status':
        return print(client.heartbeat());
      case 'locate':
        return print(await client.locate(command.key));
      case 'nodes':
        return print(await client.cluster());
      case 'help':
        return print({ help: HELP_TEXT });
      default:
        // Commands without a JSON form of their own answer with their text lines.
        return print({ lines: await execute(command, client) });
    }
  } catch (error) {
    if (!(error instanceof WarehouseError)) throw error;
    const message = error instanceof UnavailableError ? (writes ? WRITE_FAILED : READ_FAILED) : error.message;
    err(`${formatError(message)}\n`);
    return EXIT_FAILED;
  }
}
