// The closed loop: N workers, each sending its next request as soon as its
// previous one is answered, until the duration or the request count is
// reached. Latencies of successful requests go to an HDR histogram.
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import type { OpResult } from './target.js';

/** The next request to send, or null when there is nothing left to do (e.g. no key left to delete). */
export type NextRequest = () => Promise<OpResult> | null;

export type EndedBy = 'duration' | 'requests' | 'exhausted' | 'aborted';

export interface LoopOptions {
  concurrency: number;
  durationMs: number;
  /** Stop after this many requests (overrides durationMs). */
  requests: number | null;
  signal?: AbortSignal | undefined;
  /** Called every PROGRESS_INTERVAL_MS while the loop runs. */
  onProgress?: (progress: { done: number; errors: number; elapsedMs: number }) => void;
}

export interface LoopResult {
  ok: number;
  errors: number;
  errorKinds: Map<string, number>;
  /** Latencies of successful requests, in nanoseconds. */
  histogram: RecordableHistogram;
  elapsedMs: number;
  endedBy: EndedBy;
}

const PROGRESS_INTERVAL_MS = 200;
/** Latencies above this (ns) are recorded as this: 10 minutes. */
const HIGHEST_NS = 600e9;

export async function closedLoop(next: NextRequest, options: LoopOptions): Promise<LoopResult> {
  const histogram = createHistogram({ lowest: 1, highest: HIGHEST_NS, figures: 3 });
  const errorKinds = new Map<string, number>();
  let ok = 0;
  let errors = 0;
  let issued = 0;
  let exhausted = false;
  const start = performance.now();
  const deadline = options.requests === null ? start + options.durationMs : Infinity;
  const limit = options.requests ?? Infinity;

  const worker = async (): Promise<void> => {
    for (;;) {
      if (exhausted || options.signal?.aborted || issued >= limit || performance.now() >= deadline) return;
      const sent = process.hrtime.bigint();
      const request = next();
      if (request === null) {
        exhausted = true;
        return;
      }
      issued++;
      const error = await request;
      if (error === null) {
        ok++;
        histogram.record(Math.min(HIGHEST_NS, Math.max(1, Number(process.hrtime.bigint() - sent))));
      } else {
        errors++;
        errorKinds.set(error, (errorKinds.get(error) ?? 0) + 1);
      }
    }
  };

  const report = () => options.onProgress?.({ done: ok + errors, errors, elapsedMs: performance.now() - start });
  const timer = options.onProgress ? setInterval(report, PROGRESS_INTERVAL_MS) : null;
  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    if (timer) clearInterval(timer);
  }
  const elapsedMs = performance.now() - start;
  const endedBy: EndedBy = options.signal?.aborted ? 'aborted' : exhausted ? 'exhausted' : options.requests !== null ? 'requests' : 'duration';
  return { ok, errors, errorKinds, histogram, elapsedMs, endedBy };
}
