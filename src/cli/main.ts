// warehouse-cli: flags, then either one command (one-shot) or the REPL; the
// demo runs the same REPL in its own process, with its meta-commands.
import { CommanderError } from 'commander';
import { AccessDeniedError, WarehouseClient } from '../client/index.js';
import { PACKAGE_VERSION } from '../common/version.js';
import { CLUSTER_NAME } from '../protocol/schemas.js';
import { parseArgs } from './args.js';
import { colorsWanted, painter } from './colors.js';
import { formatError } from './format.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, runOneShot } from './one-shot.js';
import { parseLine } from './parse.js';
import { runRepl, type ReplControls } from './repl.js';

/** What the user can do about a refused connection, in the CLI's own flags. */
function connectHint(error: unknown, tls: boolean): string {
  if (error instanceof AccessDeniedError) return error.status === 401 ? '; pass a token with --token or WAREHOUSE_TOKEN' : '';
  const reason = error instanceof Error ? error.message : '';
  if (tls && /not trusted/.test(reason)) return '; pass the cluster\'s CA with --ca FILE';
  // An HTTPS node drops a plain HTTP request without an answer.
  if (!tls && /other side closed|ECONNRESET/.test(reason)) return '; a node serving HTTPS needs --tls';
  return '';
}

export async function runCli(argv: readonly string[], controls?: ReplControls): Promise<number> {
  let options;
  try {
    options = parseArgs(argv, PACKAGE_VERSION);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    throw error;
  }
  const oneShot = options.command.length > 0 ? parseLine(options.command.join(' ')) : null;
  if (oneShot?.kind === 'error') {
    process.stderr.write(`${formatError(oneShot.message)}\n`);
    return EXIT_USAGE;
  }
  if (oneShot?.kind === 'exit' || oneShot?.kind === 'empty') return EXIT_OK;
  if (options.json && !oneShot) {
    process.stderr.write(`${formatError('--json needs a command to run, e.g. warehouse-cli --json GET <key>')}\n`);
    return EXIT_USAGE;
  }

  const address = `${options.host}:${options.port}`;
  let client: WarehouseClient;
  try {
    client = await WarehouseClient.connect({
      seeds: [address],
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      requestTimeoutMs: options.requestTimeoutMs,
      failoverTimeoutMs: options.failoverTimeoutMs,
      tls: options.tls ?? false,
      token: options.token,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    process.stderr.write(`Error: cannot connect to a database of ${CLUSTER_NAME} at ${address} (${reason}${connectHint(error, options.tls !== null)})\n`);
    return EXIT_FAILED;
  }
  try {
    if (oneShot) {
      return await runOneShot(oneShot, client, options.json, {
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
        paint: painter(colorsWanted(process.stdout, process.env)),
      });
    }
    const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
    await runRepl({
      client,
      input: process.stdin,
      output: process.stdout,
      terminal,
      historyFile: options.historyFile,
      paint: painter(terminal && colorsWanted(process.stdout, process.env)),
      controls,
    });
    return EXIT_OK;
  } finally {
    await client.close();
  }
}
