// Every knob of a benchmark run, with its default. The command line (cli.ts)
// and the smoke test both build a BenchOptions and hand it to runBenchmark.
import { DEFAULT_ETCD_BIN } from '../src/local-cluster/etcd-cluster.js';

export const PHASE_NAMES = ['seq-set', 'set', 'get', 'mixed', 'delete'] as const;
export type PhaseName = (typeof PHASE_NAMES)[number];

export interface BenchOptions {
  /** Nodes of the local cluster the tool starts (ignored with `target`). */
  nodes: number;
  replicationFactor: number;
  /** `HOST:PORT` of any node of a running cluster; null starts a local one. */
  target: string | null;
  /** Requests in flight in the concurrent phases. */
  concurrency: number;
  /** How long each phase runs, unless `requests` is set. */
  durationMs: number;
  /** Requests per phase; overrides `durationMs`. */
  requests: number | null;
  phases: PhaseName[];
  /** Unmeasured SETs then GETs against each target before the first phase (0: none). */
  warmupMs: number;
  /** Run every phase against a local three-member etcd cluster too. */
  compare: 'etcd' | null;
  /** The local cluster's mode: gossip, or the consistent mode on its own three-member etcd cluster. */
  coordinator: 'gossip' | 'etcd';
  /** Memory scenario: load this many documents, report memory, re-run GET. */
  memory: number | null;
  /** Where to write the results as JSON. */
  json: string | null;
  /** Size in bytes of every document written. */
  valueSize: number;
  etcdBin: string;
  /** Parent folder of the temporary data dirs (default: the OS temp folder). */
  workDir: string | null;
  /** One-line progress on stderr; default: only when stderr is a TTY. */
  progress: boolean;
  /** Where report lines go (default: stdout). */
  log: (line: string) => void;
  /** Aborting stops the current phase after its requests in flight, then cleans up. */
  signal?: AbortSignal;
}

export const DEFAULT_MEMORY_DOCUMENTS = 1_000_000;
/** The memory scenario's baseline: GET throughput with this many documents stored. */
export const MEMORY_BASELINE_DOCUMENTS = 10_000;

export function defaultOptions(): BenchOptions {
  return {
    nodes: 3,
    replicationFactor: 2,
    target: null,
    concurrency: 64,
    durationMs: 10_000,
    requests: null,
    warmupMs: 2000,
    phases: [...PHASE_NAMES],
    compare: null,
    coordinator: 'gossip',
    memory: null,
    json: null,
    valueSize: 200,
    etcdBin: DEFAULT_ETCD_BIN,
    workDir: null,
    progress: process.stderr.isTTY === true,
    log: (line) => process.stdout.write(`${line}\n`),
  };
}
