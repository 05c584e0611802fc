import { UnavailableError, WarehouseError, type DeleteResult, type SetResult, type WarehouseClient } from '../client/index.js';
import { HELP_TEXT, READ_FAILED, WRITE_FAILED, formatDelete, formatError, formatGet, formatGetWithVersion, formatStatus, formatWrite } from './format.js';
import type { Command } from './parse.js';
import { formatLocation, formatNodes } from './format-cluster.js';

/** The part of the client the REPL uses; lets tests drive commands with a fake. */
export type DocumentClient = Pick<WarehouseClient, 'get' | 'set' | 'create' | 'delete' | 'heartbeat' | 'locate' | 'cluster'>;

/** Runs one command and returns the lines to print; client failures become one `Error:` line. */
export async function execute(command: Exclude<Command, { kind: 'exit' }>, client: DocumentClient): Promise<string[]> {
  switch (command.kind) {
    case 'help':
      return HELP_TEXT;
    case 'status':
      return formatStatus(client.heartbeat());
    case 'get': {
      const { key, withVersion } = command;
      return attempt(async () => (withVersion ? formatGetWithVersion(await client.get(key)) : [formatGet(await client.get(key))]), READ_FAILED);
    }
    case 'set':
      return attempt(async () => [formatWrite(await write(command, client))], WRITE_FAILED);
    case 'delete':
      return attempt(async () => [formatDelete(await remove(command, client))], WRITE_FAILED);
    case 'locate':
      return attempt(async () => formatLocation(await client.locate(command.key)), READ_FAILED);
    case 'nodes':
      return attempt(async () => formatNodes(await client.cluster()), READ_FAILED);
  }
}

/** A SET as typed, its condition included (also used by the one-shot --json answers). */
export function write({ key, value, condition }: Extract<Command, { kind: 'set' }>, client: DocumentClient): Promise<SetResult> {
  if (!condition) return client.set(key, value);
  return 'ifAbsent' in condition ? client.create(key, value) : client.set(key, value, condition);
}

export function remove({ key, ifVersion }: Extract<Command, { kind: 'delete' }>, client: DocumentClient): Promise<DeleteResult> {
  return client.delete(key, ifVersion === undefined ? {} : { ifVersion });
}

async function attempt(run: () => Promise<string[]>, unavailable: string): Promise<string[]> {
  try {
    return await run();
  } catch (error) {
    // The user asked for the storage-level message; the failover details are noise to them.
    if (error instanceof UnavailableError) return [formatError(unavailable)];
    if (error instanceof WarehouseError) return [formatError(error.message)];
    throw error;
  }
}
