// The command line: commander flags → BenchOptions. Bad flags end the
// process with a one-line error and exit code 2.
import { dirname, resolve } from 'node:path';
import { accessSync, constants } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { checked, durationOption, wholeNumber } from '../src/common/args.js';
import { parseDuration } from '../src/common/duration.js';
import { DEFAULT_MEMORY_DOCUMENTS, PHASE_NAMES, defaultOptions, type BenchOptions, type PhaseName } from './options.js';

function parseTarget(text: string): string {
  const match = /^([^\s:/]+):(\d{1,5})$/.exec(text.trim());
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) throw new InvalidArgumentError(`"${text}" is not HOST:PORT`);
  return `${match[1]}:${Number(match[2])}`;
}

function parsePhases(text: string): PhaseName[] {
  const phases = text.split(',').map((phase) => phase.trim()).filter(Boolean);
  for (const phase of phases) {
    if (!(PHASE_NAMES as readonly string[]).includes(phase)) throw new InvalidArgumentError(`unknown phase "${phase}" (phases: ${PHASE_NAMES.join(', ')})`);
  }
  if (phases.length === 0) throw new InvalidArgumentError('name at least one phase');
  return phases as PhaseName[];
}

function writableFile(text: string): string {
  const path = resolve(text);
  try {
    accessSync(dirname(path), constants.W_OK);
  } catch {
    throw new InvalidArgumentError(`cannot write ${text}: its folder does not exist or is not writable`);
  }
  return path;
}

/** Parses the arguments (without node and the script); exits with 2 on a bad flag, 0 after --help. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const defaults = defaultOptions();
  const program = new Command('warehouse-bench')
    .description(
      'Benchmarks Warehouse 13: closed-loop phases (sequential SET, concurrent SET, GET, 90/10 mixed, DELETE) against a local ' +
        'cluster it starts (or a running one), optionally side by side with a local three-member etcd cluster.',
    )
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'Error: ')) })
    .option('--nodes <n>', 'nodes of the local cluster to start', wholeNumber(1, 64), defaults.nodes)
    .option('--replication-factor <n>', 'replication factor of the local cluster', wholeNumber(1, 64), defaults.replicationFactor)
    .option('--target <host:port>', 'benchmark a running cluster through this node (the leader is followed) instead of starting one', parseTarget)
    .option('--concurrency <n>', 'requests in flight in the concurrent phases', wholeNumber(1, 10_000), defaults.concurrency)
    .addOption(durationOption('--duration <duration>', 'how long each phase runs', defaults.durationMs))
    .addOption(new Option('--warmup <duration>', 'unmeasured SETs then GETs against each target first (0 for none)').default(defaults.warmupMs, '2s').argParser(checked((text) => parseDuration(text, { allowZero: true }))))
    .option('--requests <n>', 'requests per phase instead of a duration', wholeNumber(1))
    .addOption(new Option('--phases <list>', `comma-separated subset of: ${PHASE_NAMES.join(', ')}`).argParser(parsePhases))
    .addOption(new Option('--compare <system>', 'run every phase against a local etcd cluster too, alternating').choices(['etcd']))
    .addOption(
      new Option('--coordinator <mode>', 'the local cluster\'s mode: gossip, or etcd (the consistent mode, on its own three etcd members)')
        .choices(['gossip', 'etcd'])
        .default(defaults.coordinator),
    )
    .addOption(
      new Option('--memory [documents]', `load this many documents (default ${DEFAULT_MEMORY_DOCUMENTS.toLocaleString('en-US')}), report memory, re-run GET`).argParser(
        wholeNumber(1),
      ),
    )
    .option('--json <file>', 'write the results to this file as JSON', writableFile)
    .option('--value-size <bytes>', 'size of every JSON document', wholeNumber(50, 1024 * 1024), defaults.valueSize)
    .option('--etcd-bin <path>', 'the etcd executable for --compare etcd and --coordinator etcd', defaults.etcdBin)
    .option('--work-dir <dir>', 'where the temporary data dirs go (default: the OS temp folder)')
    .option('--no-progress', 'no progress line, even on a terminal')
    .allowExcessArguments(false);
  program.parse(argv, { from: 'user' });
  const opts = program.opts<{
    nodes: number;
    replicationFactor: number;
    target?: string;
    concurrency: number;
    duration: number;
    warmup: number;
    requests?: number;
    phases?: PhaseName[];
    compare?: 'etcd';
    coordinator: 'gossip' | 'etcd';
    memory?: number | true;
    json?: string;
    valueSize: number;
    etcdBin: string;
    workDir?: string;
    progress: boolean;
  }>();
  const given = (name: string) => program.getOptionValueSource(name) === 'cli';
  if (given('duration') && opts.requests !== undefined) program.error('error: use either --duration or --requests, not both');
  if (opts.target !== undefined && (given('nodes') || given('replicationFactor') || given('coordinator'))) {
    program.error('error: --nodes, --replication-factor and --coordinator describe a local cluster: they cannot be used with --target');
  }
  if (opts.memory !== undefined && opts.phases !== undefined) program.error('error: --memory runs its own phases (load, GET): drop --phases');
  if (opts.workDir !== undefined) {
    try {
      accessSync(opts.workDir, constants.W_OK);
    } catch {
      program.error(`error: --work-dir ${opts.workDir} does not exist or is not writable`);
    }
  }
  return {
    ...defaults,
    nodes: opts.nodes,
    replicationFactor: opts.replicationFactor,
    target: opts.target ?? null,
    concurrency: opts.concurrency,
    durationMs: opts.duration,
    warmupMs: opts.warmup,
    requests: opts.requests ?? null,
    phases: opts.phases ?? defaults.phases,
    compare: opts.compare ?? null,
    coordinator: opts.coordinator,
    memory: opts.memory === undefined ? null : opts.memory === true ? DEFAULT_MEMORY_DOCUMENTS : opts.memory,
    json: opts.json ?? null,
    valueSize: opts.valueSize,
    etcdBin: opts.etcdBin,
    workDir: opts.workDir ?? null,
    progress: opts.progress && process.stderr.isTTY === true,
  };
}
