import { UnavailableError, WarehouseError, type WarehouseClient } from '../client/index.js';
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
    case 'set': {
      const { key, value, condition } = command;
      const write = () =>
        !condition ? client.set(key, value) : 'ifAbsent' in condition ? client.create(key, value) : client.set(key, value, condition);
      return attempt(async () => [formatWrite(await write())], WRITE_FAILED);
    }
    case 'delete': {
      const { key, ifVersion } = command;
      return attempt(async () => [formatDelete(await client.delete(key, ifVersion === undefined ? {} : { ifVersion }))], WRITE_FAILED);
    }
    case 'locate':
      return attempt(async () => formatLocation(await client.locate(command.key)), READ_FAILED);
    case 'nodes':
      return attempt(async () => formatNodes(await client.cluster()), READ_FAILED);
  }
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
