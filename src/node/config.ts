// The node's command line: flags, their environment variables and defaults,
// parsed by commander into one validated NodeConfig.
import { Command, Option } from 'commander';
import { checked, oneLineError, parseHost, wholeNumber } from '../common/args.js';
import { parseDuration } from '../common/duration.js';
import { parseAddress, parsePort, formatAddress } from '../common/address.js';
import { DEFAULT_MAX_VALUE_BYTES } from '../common/values.js';
import { PACKAGE_VERSION } from '../common/version.js';
import { DEFAULT_CLUSTER_NAME, parseClusterName, parseCoordinatorUrl } from '../coordination/coordinator-url.js';
import { loadNodeTls, type NodeTls } from '../security/tls.js';
import { loadTokensFile, type TokenTable } from '../security/tokens.js';

export interface NodeConfig {
  host: string;
  port: number;
  id: string;
  join: string | null;
  /** The consistent mode's etcd; null in gossip mode. */
  coordinator: { endpoints: string[]; clusterName: string } | null;
  replicationFactor: number;
  dataDir: string;
  heartbeatIntervalMs: number;
  failureTimeoutMs: number;
  requestTimeoutMs: number;
  maxValueBytes: number;
  antiEntropyIntervalMs: number;
  tombstoneGraceMs: number;
  /** Records a second this node sends for repair; Infinity for no limit (--repair-rate 0). */
  repairRatePerSecond: number;
  logLevel: string;
  /** --cluster-secret-file; the secret itself may also come from WAREHOUSE_CLUSTER_SECRET. */
  clusterSecretFile: string | null;
  clusterSecretEnv: string | undefined;
  /** --cert/--key (and --ca): the node serves HTTPS and talks HTTPS to its peers; null for plain HTTP. */
  tls: NodeTls | null;
  /** --tokens-file: every public request then needs a token of a sufficient role; null for an open API. */
  tokens: TokenTable | null;
  /** Where `tokens` came from, read again on SIGHUP. */
  tokensFile: string | null;
}

/**
 * Repair's default pace, per node. After one node of three is lost, a third
 * of the records are copied again; at this rate the clients' p99 stayed at its
 * steady value in the benchmark (docs/BENCHMARKS.md), where no limit raised it
 * by a third to a half, and 60,000 documents were whole again 22 s after the drop.
 */
export const DEFAULT_REPAIR_RATE = 2000;

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kib: 1024, kb: 1000, mib: 1024 ** 2, mb: 1000 ** 2 };

function parseSize(text: string): number {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined || Number(match[1]) === 0) throw new Error(`"${text}" is not a size (e.g. 1048576, 512KiB, 1MiB)`);
  return Number(match[1]) * unit;
}

export function parseNodeArgs(argv: readonly string[]): NodeConfig {
  const program = new Command('warehouse-node')
    .description('One database node of Warehouse 13, a replicated JSON document store.')
    .version(PACKAGE_VERSION)
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
    .configureOutput({ outputError: (text, write) => write(oneLineError(text)) })
    .addOption(new Option('--host <host>', 'address to listen on (and to be known by, without --advertise)').env('WAREHOUSE_HOST').default('127.0.0.1').argParser(checked(parseHost)))
    .addOption(new Option('--port <port>', 'port to listen on').env('WAREHOUSE_PORT').default(8765).argParser(checked(parsePort)))
    .addOption(new Option('--advertise <host:port>', 'the address other nodes and clients reach this node at, its id (default: HOST:PORT)').env('WAREHOUSE_ADVERTISE').argParser(checked((text) => formatAddress(parseAddress(text)))))
    .addOption(new Option('--join <host:port>', 'any node of the cluster to join; omit to found a cluster').env('WAREHOUSE_JOIN').argParser(checked((text) => formatAddress(parseAddress(text)))))
    .addOption(new Option('--coordinator <url>', 'consistent mode: keep membership and leadership in etcd, etcd://HOST:PORT[,HOST:PORT...]').env('WAREHOUSE_COORDINATOR').argParser(checked(parseCoordinatorUrl)))
    .addOption(new Option('--cluster-name <name>', 'with --coordinator: the cluster\'s namespace in etcd, so clusters can share one').env('WAREHOUSE_CLUSTER_NAME').default(DEFAULT_CLUSTER_NAME).argParser(checked(parseClusterName)))
    .addOption(new Option('--replication-factor <n>', 'copies kept of every document; must match the cluster').env('WAREHOUSE_REPLICATION_FACTOR').default(2).argParser(wholeNumber(1, 64)))
    .addOption(new Option('--data-dir <dir>', 'where this node stores its data (default: ./data/HOST_PORT)').env('WAREHOUSE_DATA_DIR'))
    .addOption(new Option('--heartbeat-interval <duration>', 'how often nodes gossip').env('WAREHOUSE_HEARTBEAT_INTERVAL').default(1000, '1s').argParser(checked(parseDuration)))
    .addOption(new Option('--failure-timeout <duration>', 'silence after which a node is dropped').env('WAREHOUSE_FAILURE_TIMEOUT').default(10_000, '10s').argParser(checked(parseDuration)))
    .addOption(new Option('--request-timeout <duration>', 'deadline of a request to another node').env('WAREHOUSE_REQUEST_TIMEOUT').default(2000, '2s').argParser(checked(parseDuration)))
    .addOption(new Option('--max-value-size <size>', 'largest document accepted').env('WAREHOUSE_MAX_VALUE_SIZE').default(DEFAULT_MAX_VALUE_BYTES, '1MiB').argParser(checked(parseSize)))
    .addOption(new Option('--anti-entropy-interval <duration>', 'how often replicas compare digests and repair').env('WAREHOUSE_ANTI_ENTROPY_INTERVAL').default(30_000, '30s').argParser(checked(parseDuration)))
    .addOption(new Option('--tombstone-grace <duration>', 'how long deleted keys are remembered before purging').env('WAREHOUSE_TOMBSTONE_GRACE').default(86_400_000, '24h').argParser(checked(parseDuration)))
    .addOption(new Option('--repair-rate <records/s>', 'records a second this node sends to repair other nodes (0: no limit)').env('WAREHOUSE_REPAIR_RATE').default(DEFAULT_REPAIR_RATE, DEFAULT_REPAIR_RATE.toLocaleString('en-US')).argParser(wholeNumber(0)))
    .addOption(new Option('--cluster-secret-file <path>', 'file holding the secret shared by every node (or env WAREHOUSE_CLUSTER_SECRET)').env('WAREHOUSE_CLUSTER_SECRET_FILE'))
    .addOption(new Option('--cert <file>', 'PEM certificate: serve HTTPS (needs --key; every node of the cluster must have one)').env('WAREHOUSE_CERT'))
    .addOption(new Option('--key <file>', 'PEM private key of --cert').env('WAREHOUSE_KEY'))
    .addOption(new Option('--ca <file>', 'with --cert: the CA that signed the other nodes\' certificates (default: the system\'s CAs)').env('WAREHOUSE_CA'))
    .addOption(new Option('--tokens-file <file>', 'client tokens, one "ROLE TOKEN" a line (roles: read, write, admin): every public request then needs one').env('WAREHOUSE_TOKENS_FILE'))
    .addOption(new Option('--log-level <level>', 'log level').env('WAREHOUSE_LOG_LEVEL').default('info').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']))
    .allowExcessArguments(false);
  program.parse(argv, { from: 'user' });
  const options = program.opts<{
    host: string;
    port: number;
    advertise?: string;
    join?: string;
    coordinator?: string[];
    clusterName: string;
    replicationFactor: number;
    dataDir?: string;
    heartbeatInterval: number;
    failureTimeout: number;
    requestTimeout: number;
    maxValueSize: number;
    antiEntropyInterval: number;
    tombstoneGrace: number;
    repairRate: number;
    logLevel: string;
    clusterSecretFile?: string;
    cert?: string;
    key?: string;
    ca?: string;
    tokensFile?: string;
  }>();
  const port = options.port;
  if (!options.advertise && options.host === '0.0.0.0') {
    program.error(`error: --host ${options.host} listens on every interface, but no node can be reached at that address: add --advertise HOST:PORT`);
  }
  const id = options.advertise ?? `${options.host}:${port}`;
  if (options.heartbeatInterval >= options.failureTimeout) {
    program.error('error: --heartbeat-interval must be shorter than --failure-timeout');
  }
  if (options.coordinator && options.join) {
    program.error('error: --join is for the gossip mode; with --coordinator the nodes find each other in etcd');
  }
  if ((options.cert === undefined) !== (options.key === undefined)) program.error('error: --cert and --key go together');
  // WAREHOUSE_CA also tells the CLI which CA to trust, so a plain node (the demo's) started from that shell ignores it.
  if (options.ca !== undefined && options.cert === undefined && program.getOptionValueSource('ca') !== 'env') {
    program.error('error: --ca is for a node serving HTTPS: add --cert and --key');
  }
  const loaded = <T>(load: () => T): T => {
    try {
      return load();
    } catch (error) {
      return program.error(`error: ${(error as Error).message}`);
    }
  };
  const { cert, key, ca, tokensFile } = options;
  const tls = cert !== undefined && key !== undefined ? loaded(() => loadNodeTls(cert, key, ca)) : null;
  const tokens = tokensFile !== undefined ? loaded(() => loadTokensFile(tokensFile)) : null;
  return {
    host: options.host,
    port,
    id,
    join: options.join && options.join !== id ? options.join : null,
    coordinator: options.coordinator ? { endpoints: options.coordinator, clusterName: options.clusterName } : null,
    replicationFactor: options.replicationFactor,
    dataDir: options.dataDir ?? `data/${options.host}_${port}`,
    heartbeatIntervalMs: options.heartbeatInterval,
    failureTimeoutMs: options.failureTimeout,
    requestTimeoutMs: options.requestTimeout,
    maxValueBytes: options.maxValueSize,
    antiEntropyIntervalMs: options.antiEntropyInterval,
    tombstoneGraceMs: options.tombstoneGrace,
    repairRatePerSecond: options.repairRate === 0 ? Infinity : options.repairRate,
    logLevel: options.logLevel,
    clusterSecretFile: options.clusterSecretFile ?? null,
    clusterSecretEnv: process.env.WAREHOUSE_CLUSTER_SECRET || undefined,
    tls,
    tokens,
    tokensFile: tokensFile ?? null,
  };
}
