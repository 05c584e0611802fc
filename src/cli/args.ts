import { homedir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { checked, oneLineError, parseHost } from '../common/args.js';
import { parsePort } from '../common/address.js';
import { parseDuration } from '../common/duration.js';
import { loadCa } from '../security/tls.js';

export interface CliOptions {
  host: string;
  port: number;
  heartbeatIntervalMs: number;
  requestTimeoutMs: number;
  /** Undefined: derived from the cluster's failure timeout. */
  failoverTimeoutMs: number | undefined;
  historyFile: string;
  /** One command to run instead of the REPL (one-shot mode); empty for the REPL. */
  command: string[];
  /** One-shot answers as JSON. */
  json: boolean;
  /** HTTPS, with the CA's PEM when one was given (otherwise the system's CAs). */
  tls: { ca?: Buffer } | null;
  token: string | undefined;
}

/** Parses argv (process.argv layout); throws commander's CommanderError for help, version and bad flags. */
export function parseArgs(argv: readonly string[], version: string): CliOptions {
  const program = new Command('warehouse-cli')
    .description('REPL for a Warehouse 13 cluster: SET, GET and DELETE JSON documents by UUID4 key. With a command, runs only that command and exits (0 done, 1 not found or failed, 2 usage)')
    .argument('[command...]', 'one command to run instead of the REPL, e.g. GET <key>')
    .version(version)
    .addOption(new Option('-H, --host <host>', 'any node of the cluster').env('WAREHOUSE_HOST').default('127.0.0.1').argParser(checked(parseHost)))
    .addOption(new Option('-P, --port <port>', 'its port').env('WAREHOUSE_PORT').default(8765).argParser(checked(parsePort)))
    .addOption(new Option('--heartbeat-interval <duration>', 'how often the leader is checked').default(1000, '1s').argParser(checked(parseDuration)))
    .addOption(new Option('--request-timeout <duration>', 'limit for one request').default(5000, '5s').argParser(checked(parseDuration)))
    .addOption(
      new Option('--failover-timeout <duration>', 'how long a command waits for a new leader (default: 2 x failure timeout + 5s)').argParser(
        checked(parseDuration),
      ),
    )
    .addOption(new Option('--history-file <path>', 'where the command history is kept').default(join(homedir(), '.warehouse13_history')))
    .addOption(new Option('--tls', 'talk HTTPS to a cluster whose nodes run with --cert').env('WAREHOUSE_TLS'))
    .addOption(new Option('--ca <file>', 'PEM CA the nodes\' certificates are checked against (implies --tls; default: the system\'s CAs)').env('WAREHOUSE_CA').argParser(checked(loadCa)))
    .addOption(new Option('--token <token>', 'bearer token for a cluster with --tokens-file (better: env WAREHOUSE_TOKEN, which ps does not show)').env('WAREHOUSE_TOKEN'))
    .addOption(new Option('--json', 'print the answer of a one-shot command as JSON'))
    // Options end at the command: its value may start with a dash.
    .passThroughOptions()
    .exitOverride()
    .configureOutput({ outputError: (message, write) => write(oneLineError(message)) });
  program.parse(argv);
  const options = program.opts<{
    host: string;
    port: number;
    heartbeatInterval: number;
    requestTimeout: number;
    failoverTimeout?: number;
    historyFile: string;
    json?: boolean;
    tls?: boolean;
    ca?: Buffer;
    token?: string;
  }>();
  return {
    host: options.host,
    port: options.port,
    heartbeatIntervalMs: options.heartbeatInterval,
    requestTimeoutMs: options.requestTimeout,
    failoverTimeoutMs: options.failoverTimeout,
    historyFile: options.historyFile,
    command: program.args,
    json: options.json === true,
    tls: options.ca !== undefined ? { ca: options.ca } : options.tls === true ? {} : null,
    token: options.token,
  };
}
