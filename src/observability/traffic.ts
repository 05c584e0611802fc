// Request rate and p99 latency over the last second, derived from the same
// latency histogram Prometheus scrapes: the dashboard and Grafana agree.
import type { Histogram } from 'prom-client';
import type { Traffic } from '../protocol/dashboard.js';

/** Cumulative counts per finite bucket bound, plus the total (the +Inf bucket). */
export interface BucketTotals {
  bounds: readonly number[];
  cumulative: readonly number[];
  total: number;
}

/**
 * The q-quantile by linear interpolation inside the bucket that holds it, as
 * Prometheus' histogram_quantile does; past the last finite bound, that bound.
 */
export function quantile({ bounds, cumulative, total }: BucketTotals, q: number): number | null {
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (cumulative[i]! >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const below = i === 0 ? 0 : cumulative[i - 1]!;
      const inBucket = cumulative[i]! - below;
      return inBucket === 0 ? lower : lower + ((bounds[i]! - lower) * (rank - below)) / inBucket;
    }
  }
  return bounds[bounds.length - 1] ?? null;
}

/** What happened between two readings of the same histogram. */
export function difference(later: BucketTotals, earlier: BucketTotals): BucketTotals {
  return {
    bounds: later.bounds,
    cumulative: later.cumulative.map((count, i) => count - (earlier.cumulative[i] ?? 0)),
    total: later.total - earlier.total,
  };
}

/** Sums a histogram's series over all their labels. */
export async function readBuckets(histogram: Histogram<string>, bounds: readonly number[]): Promise<BucketTotals> {
  const cumulative = bounds.map(() => 0);
  let total = 0;
  const index = new Map(bounds.map((bound, i) => [bound, i]));
  for (const sample of (await histogram.get()).values) {
    if (!sample.metricName?.endsWith('_bucket')) continue;
    const le = sample.labels.le;
    if (le === '+Inf') total += sample.value;
    else {
      const i = index.get(Number(le));
      if (i !== undefined) cumulative[i]! += sample.value;
    }
  }
  return { bounds, cumulative, total };
}

/** Samples the histogram once per interval and keeps the last window's figures. */
export class TrafficMeter {
  private last: { at: number; buckets: BucketTotals } | null = null;
  private current: Traffic;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly node: string,
    private readonly histogram: Histogram<string>,
    private readonly bounds: readonly number[],
    private readonly intervalMs = 1000,
  ) {
    this.current = { node, windowSeconds: 0, requestsPerSecond: 0, p99Seconds: null };
  }

  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  traffic(): Traffic {
    return this.current;
  }

  private async sample(): Promise<void> {
    const at = performance.now();
    const buckets = await readBuckets(this.histogram, this.bounds);
    if (this.last) {
      const window = difference(buckets, this.last.buckets);
      const seconds = (at - this.last.at) / 1000;
      this.current = {
        node: this.node,
        windowSeconds: seconds,
        requestsPerSecond: seconds > 0 ? window.total / seconds : 0,
        p99Seconds: quantile(window, 0.99),
      };
    }
    this.last = { at, buckets };
  }
}
