import { UnavailableError, WarehouseError, type WarehouseClient } from '../client/index.js';
import { HELP_TEXT, READ_FAILED, WRITE_FAILED, formatDelete, formatError, formatGet, formatStatus, formatWrite } from './format.js';
import type { Command } from './parse.js';
import { formatLocation, formatNodes } from './format-cluster.js';

/** The part of the client the REPL uses; lets tests drive commands with a fake. */
export type DocumentClient = Pick<WarehouseClient, 'get' | 'set' | 'delete' | 'heartbeat' | 'locate' | 'cluster'>;

/** Runs one command and returns the lines to print; client failures become one `Error:` line. */
export async function execute(command: Exclude<Command, { kind: 'exit' }>, client: DocumentClient): Promise<string[]> {
  switch (command.kind) {
    case 'help':
      return HELP_TEXT;
    case 'status':
      return formatStatus(client.heartbeat());
    case 'get':
      return attempt(async () => formatGet(await client.get(command.key)), READ_FAILED);
    case 'set':
      return attempt(async () => formatWrite(await client.set(command.key, command.value)), WRITE_FAILED);
    case 'delete':
      return attempt(async () => formatDelete(await client.delete(command.key)), WRITE_FAILED);
    case 'locate':
      return attemptLines(async () => formatLocation(await client.locate(command.key)), READ_FAILED);
    case 'nodes':
      return attemptLines(async () => formatNodes(await client.cluster()), READ_FAILED);
  }
}

async function attempt(run: () => Promise<string>, unavailable: string): Promise<string[]> {
  return attemptLines(async () => [await run()], unavailable);
}

async function attemptLines(run: () => Promise<string[]>, unavailable: string): Promise<string[]> {
  try {
    return await run();
  } catch (error) {
    // The user asked for the storage-level message; the failover details are noise to them.
    if (error instanceof UnavailableError) return [formatError(unavailable)];
    if (error instanceof WarehouseError) return [formatError(error.message)];
    throw error;
  }
}
