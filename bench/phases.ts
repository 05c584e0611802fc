// The benchmark's phases: what each one sends, and running one phase against
// one target into a PhaseResult (throughput, latency percentiles, errors, CPU).
import { closedLoop, type EndedBy, type NextRequest } from './loop.js';
import { totalCpuMicros } from './procstat.js';
import type { OpResult, Target } from './target.js';
import { KeyPool, KeySequence, makeDocument } from './workload.js';
import { mulberry32 } from '../src/common/random.js';
import type { PhaseName } from './options.js';

export const PHASE_TITLES: Record<PhaseName, string> = {
  'seq-set': 'sequential SET',
  set: 'concurrent SET',
  get: 'concurrent GET',
  mixed: 'mixed 90% GET / 10% SET',
  delete: 'concurrent DELETE',
};

/** Share of SETs in the mixed phase. */
const MIXED_SET_SHARE = 0.1;

export interface PhaseResult {
  /** Phase id: a PhaseName, or load / get@N in the memory scenario. */
  phase: string;
  title: string;
  target: string;
  concurrency: number;
  /** Successful requests. */
  ops: number;
  errors: number;
  /** Error kind → count. */
  errorKinds: Record<string, number>;
  elapsedMs: number;
  opsPerSec: number;
  /** Latency of successful requests; null when there was none. */
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number } | null;
  endedBy: EndedBy;
  /** The longest event-loop delay of any node during the phase (ms); null when the target does not tell. */
  loopDelayMaxMs: number | null;
  /** Documents the target holds after the phase (as far as this run knows). */
  documents: number;
  cpu: {
    /** CPU used by this benchmark process, in % of one core. */
    clientPercent: number;
    /** This process's CPU time per successful request, in µs (the client's cost). */
    clientMicrosPerOp: number | null;
    /** CPU used by the target's processes, in % of one core (null when they cannot be observed). */
    serverPercent: number | null;
    /** Target CPU time per successful request, in µs. */
    serverMicrosPerOp: number | null;
  };
}

/** What a phase works with: one per target, kept across phases. */
export interface TargetState {
  target: Target;
  keys: KeyPool;
}

export interface PhaseSpec {
  phase: string;
  title: string;
  concurrency: number;
  durationMs: number;
  requests: number | null;
  makeNext(state: TargetState): NextRequest;
}

/** SETs of fresh keys from `sequence`, from index `first` on; each key written joins the target's pool. */
function setRequests(state: TargetState, sequence: KeySequence, valueSize: number, first = 0): () => Promise<OpResult> {
  let index = first;
  return () => {
    const i = index++;
    const key = sequence.key(i);
    return state.target.set(key, makeDocument(key, i, valueSize)).then((error) => {
      if (error === null) state.keys.add(key);
      return error;
    });
  };
}

function getRequests(state: TargetState, random: () => number): NextRequest {
  return () => {
    const key = state.keys.pick(random);
    return key === undefined ? null : state.target.get(key);
  };
}

function seedOf(text: string): number {
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619);
  return hash >>> 0;
}

interface Limits {
  concurrency: number;
  durationMs: number;
  requests: number | null;
  valueSize: number;
}

/**
 * The spec of a standard phase. Keys and random choices are created here, once,
 * and shared by every target the phase runs against: all get the same requests.
 */
export function standardPhase(name: PhaseName, limits: Limits): PhaseSpec {
  const sequence = new KeySequence();
  const seed = seedOf(name);
  const base = { phase: name, title: PHASE_TITLES[name], durationMs: limits.durationMs, requests: limits.requests };
  switch (name) {
    case 'seq-set':
      return { ...base, concurrency: 1, makeNext: (state) => setRequests(state, sequence, limits.valueSize) };
    case 'set':
      return { ...base, concurrency: limits.concurrency, makeNext: (state) => setRequests(state, sequence, limits.valueSize) };
    case 'get':
      return { ...base, concurrency: limits.concurrency, makeNext: (state) => getRequests(state, mulberry32(seed)) };
    case 'mixed':
      return {
        ...base,
        concurrency: limits.concurrency,
        makeNext: (state) => {
          const random = mulberry32(seed);
          const set = setRequests(state, sequence, limits.valueSize);
          const get = getRequests(state, random);
          return () => (random() < MIXED_SET_SHARE ? set() : get());
        },
      };
    case 'delete':
      return {
        ...base,
        concurrency: limits.concurrency,
        makeNext: (state) => () => {
          const key = state.keys.take();
          return key === undefined ? null : state.target.delete(key);
        },
      };
  }
}

/** Unmeasured traffic to warm up connections and JIT: SETs of its own keys for half the time, then GETs of them. */
export function warmupPhases(durationMs: number, limits: Limits): PhaseSpec[] {
  const sequence = new KeySequence();
  const half = durationMs / 2;
  return [
    { phase: 'warmup-set', title: 'warm-up SET', concurrency: limits.concurrency, durationMs: half, requests: null, makeNext: (state) => setRequests(state, sequence, limits.valueSize) },
    { phase: 'warmup-get', title: 'warm-up GET', concurrency: limits.concurrency, durationMs: half, requests: null, makeNext: (state) => getRequests(state, mulberry32(1)) },
  ];
}

/** SETs of fresh keys until the target holds `documents` keys: the memory scenario's load. */
export function loadPhase(sequence: KeySequence, documents: number, limits: Limits): PhaseSpec {
  return {
    phase: `load@${documents}`,
    title: `load to ${documents.toLocaleString('en-US')} documents`,
    concurrency: limits.concurrency,
    durationMs: Infinity,
    requests: null,
    makeNext: (state) => {
      const set = setRequests(state, sequence, limits.valueSize, state.keys.size);
      // Issued, not answered: stop issuing once enough are on their way.
      let issued = state.keys.size;
      return () => (issued++ < documents ? set() : null);
    },
  };
}

/** The GET phase with the documents currently held: the memory scenario's measurement. */
export function getAtPhase(documents: number, limits: Limits): PhaseSpec {
  const seed = seedOf(`get@${documents}`);
  return {
    phase: `get@${documents}`,
    title: `concurrent GET, ${documents.toLocaleString('en-US')} documents`,
    concurrency: limits.concurrency,
    durationMs: limits.durationMs,
    requests: limits.requests,
    makeNext: (state) => getRequests(state, mulberry32(seed)),
  };
}

const ms = (ns: number) => ns / 1e6;

export async function runPhase(
  spec: PhaseSpec,
  state: TargetState,
  options: { signal?: AbortSignal | undefined; onProgress?: (done: number, errors: number, elapsedMs: number) => void },
): Promise<PhaseResult> {
  await state.target.prepare();
  // Resets every node's delay histogram: the next call tells the longest stall of this phase.
  await state.target.loopDelay();
  const pids = state.target.pids();
  const clientBefore = process.cpuUsage();
  const serverBefore = totalCpuMicros(pids);
  const loop = await closedLoop(spec.makeNext(state), {
    concurrency: spec.concurrency,
    durationMs: spec.durationMs,
    requests: spec.requests,
    signal: options.signal,
    onProgress: options.onProgress && ((progress) => options.onProgress!(progress.done, progress.errors, progress.elapsedMs)),
  });
  const client = process.cpuUsage(clientBefore);
  const serverAfter = totalCpuMicros(pids);
  const loopDelayMaxMs = await state.target.loopDelay();
  const serverMicros = serverBefore !== null && serverAfter !== null ? serverAfter - serverBefore : null;
  const elapsedMicros = loop.elapsedMs * 1000;
  const { histogram } = loop;
  return {
    phase: spec.phase,
    title: spec.title,
    target: state.target.name,
    concurrency: spec.concurrency,
    ops: loop.ok,
    errors: loop.errors,
    errorKinds: Object.fromEntries(loop.errorKinds),
    elapsedMs: loop.elapsedMs,
    opsPerSec: loop.elapsedMs > 0 ? (loop.ok * 1000) / loop.elapsedMs : 0,
    latencyMs:
      histogram.count === 0
        ? null
        : {
            p50: ms(histogram.percentile(50)),
            p90: ms(histogram.percentile(90)),
            p99: ms(histogram.percentile(99)),
            max: ms(histogram.max),
            mean: ms(histogram.mean),
          },
    endedBy: loop.endedBy,
    loopDelayMaxMs,
    documents: state.keys.size,
    cpu: {
      clientPercent: elapsedMicros > 0 ? ((client.user + client.system) * 100) / elapsedMicros : 0,
      clientMicrosPerOp: loop.ok > 0 ? (client.user + client.system) / loop.ok : null,
      serverPercent: serverMicros !== null && elapsedMicros > 0 ? (serverMicros * 100) / elapsedMicros : null,
      serverMicrosPerOp: serverMicros !== null && loop.ok > 0 ? serverMicros / loop.ok : null,
    },
  };
}
