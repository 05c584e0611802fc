import { CommanderError } from 'commander';
import { parseArgs } from '../cli/args.js';
import { runRepl } from '../cli/repl.js';
import { WarehouseClient } from '../client/index.js';
import { PACKAGE_VERSION } from '../common/version.js';
import { CLUSTER_NAME } from '../protocol/schemas.js';

/** Exit code for usage errors, as is customary for command-line tools. */
const USAGE_ERROR = 2;

async function main(): Promise<number> {
  let options;
  try {
    options = parseArgs(process.argv, PACKAGE_VERSION);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : USAGE_ERROR;
    throw error;
  }
  const address = `${options.host}:${options.port}`;
  let client: WarehouseClient;
  try {
    client = await WarehouseClient.connect({
      seeds: [address],
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      requestTimeoutMs: options.requestTimeoutMs,
      failoverTimeoutMs: options.failoverTimeoutMs,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    process.stderr.write(`Error: cannot connect to a database of ${CLUSTER_NAME} at ${address} (${reason})\n`);
    return 1;
  }
  try {
    await runRepl({ client, input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY === true && process.stdout.isTTY === true, historyFile: options.historyFile });
  } finally {
    await client.close();
  }
  return 0;
}

process.exitCode = await main();
