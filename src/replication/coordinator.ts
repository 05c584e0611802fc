// The leader's side of every document request: placement picks the owners,
// the write or read fans out to them in parallel, and reads repair owners
// that are behind. Versions come from here, so replicas never need to agree
// on anything but "the newer version wins".
import type { NodeId, ReplicaRecord, Version } from '../protocol/schemas.js';
import { owners, preferenceList } from '../placement/rendezvous.js';
import type { ReplicaStore } from '../storage/store.js';
import type { Logger } from '../common/logger.js';
import type { ReplicaBatcher } from './batcher.js';
import { HybridClock, compareVersions } from './version.js';

export class UnavailableError extends Error {}

export interface ClusterView {
  self: NodeId;
  replicationFactor: number;
  term(): number;
  /** Alive node ids, the leader included. */
  aliveNodes(): readonly NodeId[];
}

export interface WriteOutcome {
  /** Replicas that acknowledged the write durably. */
  replicas: number;
  /** Whether any owner held a live value before: Updated rather than Created. */
  existed: boolean;
}

export type ReadOutcome = { found: true; value: string; version: Version } | { found: false };

function newest(records: readonly (ReplicaRecord | null)[]): ReplicaRecord | null {
  let best: ReplicaRecord | null = null;
  for (const record of records) if (record && (!best || compareVersions(record.version, best.version) > 0)) best = record;
  return best;
}

export class Coordinator {
  private readonly clock = new HybridClock();

  constructor(
    private readonly cluster: ClusterView,
    private readonly store: ReplicaStore,
    private readonly remote: ReplicaBatcher,
    private readonly logger: Logger,
  ) {}

  /**
   * Stores a document, or a tombstone when `value` is null, on every owner.
   * An owner that does not answer is stood in for by the next node in the
   * key's preference list, which keeps a hint and hands the write over later.
   */
  async write(key: string, value: string | null): Promise<WriteOutcome> {
    const record: ReplicaRecord = { key, version: [this.cluster.term(), this.clock.next(), this.cluster.self], value };
    const ranked = preferenceList(key, this.cluster.aliveNodes());
    const targets = ranked.slice(0, this.cluster.replicationFactor);
    const standIns = ranked.slice(this.cluster.replicationFactor);
    const results = await Promise.allSettled(targets.map((node) => this.writeReplica(node, record, null)));
    let replicas = 0;
    let existed = false;
    const unreachable: NodeId[] = [];
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') {
        replicas++;
        existed ||= result.value;
      } else {
        this.logger.warn({ node: targets[i], key, err: (result.reason as Error).message }, 'replica write failed');
        unreachable.push(targets[i]!);
      }
    });
    for (const owner of unreachable) {
      for (let standIn = standIns.shift(); standIn !== undefined; standIn = standIns.shift()) {
        try {
          existed = (await this.writeReplica(standIn, record, owner)) || existed;
          replicas++;
          break;
        } catch (error) {
          this.logger.warn({ node: standIn, key, err: (error as Error).message }, 'hinted write failed');
        }
      }
    }
    if (replicas === 0) throw new UnavailableError('Failed to write an entry');
    return { replicas, existed };
  }

  async read(key: string): Promise<ReadOutcome> {
    const targets = this.owners(key);
    const answers = await this.readReplicas(targets, key);
    if (answers.every((answer) => answer === undefined)) throw new UnavailableError('Failed to read an entry');
    let found = newest(answers.map((answer) => answer ?? null));
    if (!found) {
      // No owner has ever seen the key; after a membership change the only
      // copies may still sit on former owners that repair has not drained yet.
      const others = this.cluster.aliveNodes().filter((node) => !targets.includes(node));
      found = newest((await this.readReplicas(others, key)).map((answer) => answer ?? null));
    }
    if (!found) return { found: false };
    this.clock.observe(found.version[1]);
    this.repair(targets, answers, found);
    if (found.value === null) return { found: false };
    return { found: true, value: found.value, version: found.version };
  }

  private owners(key: string): NodeId[] {
    return owners(key, this.cluster.aliveNodes(), this.cluster.replicationFactor);
  }

  private async writeReplica(node: NodeId, record: ReplicaRecord, hintFor: NodeId | null): Promise<boolean> {
    if (node === this.cluster.self) return (await this.store.apply([record], [hintFor]))[0]!;
    return this.remote.write(node, record, hintFor);
  }

  /** One answer per node: the record, null for "holds nothing", undefined for unreachable. */
  private async readReplicas(nodes: readonly NodeId[], key: string): Promise<(ReplicaRecord | null | undefined)[]> {
    const results = await Promise.allSettled(
      nodes.map(async (node) => {
        if (node !== this.cluster.self) return this.remote.read(node, key);
        const stored = this.store.get(key);
        return stored ? { key, ...stored } : null;
      }),
    );
    return results.map((result) => (result.status === 'fulfilled' ? result.value : undefined));
  }

  /** Read repair: owners that answered with an older copy, or none, get the newest. */
  private repair(targets: readonly NodeId[], answers: readonly (ReplicaRecord | null | undefined)[], found: ReplicaRecord): void {
    targets.forEach((node, i) => {
      const answer = answers[i];
      if (answer === undefined || (answer && compareVersions(answer.version, found.version) >= 0)) return;
      this.writeReplica(node, found, null).catch((error: Error) =>
        this.logger.debug({ node, key: found.key, err: error.message }, 'read repair failed'),
      );
    });
  }
}
