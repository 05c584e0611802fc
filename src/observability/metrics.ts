// The node's Prometheus metrics, in one registry per node. Request and peer
// latencies are observed as they happen; everything that is state (term,
// alive nodes, repair backlog, storage) is read from its owner at scrape time,
// so the hot path pays one histogram observation per request and no more.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RepairStatus } from '../protocol/schemas.js';
import type { RepairTotals } from '../replication/repair.js';
import { type Operation, type Outcome, OPERATIONS, OUTCOMES } from './outcome.js';

/** Seconds; fine at the low end, where a healthy store answers. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export const REQUEST_DURATION = 'warehouse_request_duration_seconds';

type RequestLabels = 'operation' | 'outcome';

/** What the metrics read from the running node at scrape time. */
export interface MetricSources {
  replicationFactor: number;
  status(): { isLeader: boolean; term: number };
  aliveNodes(): number;
  repair(): RepairStatus;
  repairTotals(): RepairTotals;
  records(): number;
  storageBytes(): number;
  ownCopyReads(): number;
}

/** A counter whose total is kept elsewhere (a plain number in its owner). */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): Counter {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

function gauge(registry: Registry, name: string, help: string, read: () => number): Gauge {
  return new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

export class NodeMetrics {
  readonly registry = new Registry();
  readonly requestDuration: Histogram<RequestLabels>;
  private readonly requests: Counter<RequestLabels>;
  private readonly peerDuration: Histogram<'peer' | 'route' | 'outcome'>;
  private readonly leaderChanges: Counter;
  /** Label children resolved once: the hot path does two map lookups, no label hashing. */
  private readonly requestChildren = new Map<string, { count: Counter.Internal; duration: Histogram.Internal<RequestLabels> }>();

  constructor(sources: MetricSources) {
    const registry = this.registry;
    collectDefaultMetrics({ register: registry });

    this.requests = new Counter({
      name: 'warehouse_requests_total',
      help: 'Document requests answered by this node, by operation and outcome',
      labelNames: ['operation', 'outcome'],
      registers: [registry],
    });
    this.requestDuration = new Histogram({
      name: REQUEST_DURATION,
      help: 'Time to answer a document request, by operation and outcome',
      labelNames: ['operation', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    for (const operation of OPERATIONS) {
      for (const outcome of OUTCOMES) {
        // Every series exists from the start at 0, so that rate() sees the first request.
        const count = this.requests.labels(operation, outcome);
        count.inc(0);
        this.requestDuration.zero({ operation, outcome });
        this.requestChildren.set(`${operation} ${outcome}`, { count, duration: this.requestDuration.labels(operation, outcome) });
      }
    }
    this.peerDuration = new Histogram({
      name: 'warehouse_peer_request_duration_seconds',
      help: 'Time of a request to another node (replica fan-out, repair, gossip), by peer, route and outcome',
      labelNames: ['peer', 'route', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    this.leaderChanges = new Counter({
      name: 'warehouse_leader_changes_total',
      help: 'Times this node saw the leader change',
      registers: [registry],
    });

    gauge(registry, 'warehouse_term', 'Current leader term as this node knows it', () => sources.status().term);
    gauge(registry, 'warehouse_is_leader', '1 on the leader, 0 elsewhere', () => (sources.status().isLeader ? 1 : 0));
    gauge(registry, 'warehouse_alive_nodes', 'Nodes this node considers alive, itself included', () => sources.aliveNodes());
    gauge(registry, 'warehouse_replication_factor', 'Copies the cluster keeps of every document', () => sources.replicationFactor);
    gauge(registry, 'warehouse_under_replicated_keys', 'Copies found missing or stale on an owner and not yet confirmed', () => sources.repair().underReplicated);
    gauge(registry, 'warehouse_transfers_in_progress', 'Records being streamed to other nodes right now', () => sources.repair().transfersInProgress);
    gauge(registry, 'warehouse_hints_pending', 'Writes kept for an unreachable owner', () => sources.repair().hintsPending);
    gauge(registry, 'warehouse_storage_records', 'Records (documents and tombstones) in this node\'s store', () => sources.records());
    gauge(registry, 'warehouse_storage_size_bytes', 'Bytes of the data file in use', () => sources.storageBytes());
    mirroredCounter(registry, 'warehouse_reads_from_own_copy_total', 'Reads the leader answered from its own copy under its read lease, asking no other node', () => sources.ownCopyReads());
    mirroredCounter(registry, 'warehouse_anti_entropy_rounds_total', 'Repair passes (anti-entropy rounds) completed', () => sources.repairTotals().rounds);
    new Counter({
      name: 'warehouse_repaired_keys_total',
      help: 'Records repaired by kind: anti_entropy (pushed to a co-owner), handoff (moved to new owners), hint (hinted writes delivered)',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        const totals = sources.repairTotals();
        this.reset();
        this.labels('anti_entropy').inc(totals.antiEntropyKeys);
        this.labels('handoff').inc(totals.handedOffKeys);
        this.labels('hint').inc(totals.hintsDelivered);
      },
    });
  }

  request(operation: Operation, outcome: Outcome, seconds: number): void {
    const child = this.requestChildren.get(`${operation} ${outcome}`)!;
    child.count.inc();
    child.duration.observe(seconds);
  }

  peerRequest(peer: string, path: string, seconds: number, ok: boolean): void {
    this.peerDuration.labels(peer, routeOf(path), ok ? 'ok' : 'error').observe(seconds);
  }

  leaderChanged(): void {
    this.leaderChanges.inc();
  }

  /** The Prometheus text exposition of every metric. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** `/internal/v1/replicas/write` → `replicas/write`: a fixed set, so a bounded label. */
function routeOf(path: string): string {
  return path.replace(/^\/internal\/v\d+\//, '');
}
