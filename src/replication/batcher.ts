// Replica traffic to one peer is coalesced: every record queued in the same
// turn of the event loop travels in one request, so 64 concurrent client
// writes cost a handful of HTTP round trips and one group commit per replica.
import {
  MAX_RECORDS_PER_REQUEST,
  ReplicaReadResponse,
  ReplicaWriteResponse,
  checker,
  type KnownRequest,
  type NodeId,
  type ReplicaRecord,
} from '../protocol/schemas.js';
import type { PeerTransport } from '../transport/peer-client.js';
import type { ApplyResult } from '../storage/replicas.js';
import { REPLICA_READ_PATH, REPLICA_WRITE_PATH } from '../protocol/paths.js';
import { invariant } from '../common/assert.js';

const MAX_BATCH = MAX_RECORDS_PER_REQUEST;

const isWriteResponse = checker(ReplicaWriteResponse);
export const isReadResponse = checker(ReplicaReadResponse);

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: Error) => void;
}

/**
 * Runs the flushes queued in one turn of the event loop together, after it:
 * a peer's read batch and write batch then leave in the same socket write.
 */
class EndOfTurn {
  private tasks: (() => void)[] = [];

  schedule(task: () => void): void {
    if (this.tasks.push(task) > 1) return;
    setImmediate(() => {
      const tasks = this.tasks;
      this.tasks = [];
      for (const run of tasks) run();
    });
  }
}

/** Queues items per peer and sends each queue as one batch at the end of the turn. */
class PeerQueues<I, O> {
  private readonly queues = new Map<NodeId, Pending<I, O>[]>();

  constructor(
    private readonly turn: EndOfTurn,
    private readonly send: (peer: NodeId, items: I[]) => Promise<O[]>,
  ) {}

  enqueue(peer: NodeId, item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      let queue = this.queues.get(peer);
      if (!queue) {
        queue = [];
        this.queues.set(peer, queue);
        this.turn.schedule(() => this.flush(peer));
      }
      queue.push({ item, resolve, reject });
    });
  }

  private flush(peer: NodeId): void {
    const queue = this.queues.get(peer) ?? [];
    this.queues.delete(peer);
    for (let start = 0; start < queue.length; start += MAX_BATCH) {
      const batch = queue.slice(start, start + MAX_BATCH);
      this.send(
        peer,
        batch.map((pending) => pending.item),
      )
        .then((results) => {
          invariant(results.length === batch.length, () => `${peer} answered ${results.length} of ${batch.length} items`);
          batch.forEach((pending, i) => pending.resolve(results[i]!));
        })
        .catch((error: Error) => batch.forEach((pending) => pending.reject(error)));
    }
  }
}

/** A replica's answer to a read: its copy, and what it knows of the request asked about. */
export interface ReplicaAnswer {
  record: ReplicaRecord | null;
  known: KnownRequest | null;
}

export class ReplicaBatcher {
  private readonly writes: PeerQueues<{ record: ReplicaRecord; hintFor: NodeId | null; fence: number | undefined }, ApplyResult>;
  private readonly reads: PeerQueues<{ key: string; requestId: string | null }, ReplicaAnswer>;

  constructor(private readonly peers: PeerTransport) {
    const turn = new EndOfTurn();
    this.writes = new PeerQueues(turn, async (peer, items) => {
      const records = items.map((item) => item.record);
      const hintFor = items.some((item) => item.hintFor) ? items.map((item) => item.hintFor) : undefined;
      // A batch is as old as its oldest token: a replica refuses it whole if that one is stale.
      const fences = items.flatMap((item) => (item.fence === undefined ? [] : [item.fence]));
      const fence = fences.length > 0 ? Math.min(...fences) : undefined;
      const answer = await peers.post(peer, REPLICA_WRITE_PATH, { records, hintFor, fence }, isWriteResponse);
      invariant(answer.current.length === records.length, () => `${peer} answered ${answer.current.length} of ${records.length} records`);
      return answer.applied.map((applied, i) => ({ applied, current: answer.current[i]! }));
    });
    this.reads = new PeerQueues(turn, async (peer, items) => {
      const keys = items.map((item) => item.key);
      const requests = items.some((item) => item.requestId) ? items.map((item) => item.requestId) : undefined;
      const answer = await peers.post(peer, REPLICA_READ_PATH, { keys, requests }, isReadResponse);
      return answer.records.map((record, i) => ({ record, known: answer.known?.[i] ?? null }));
    });
  }

  /** Resolves with whether the peer now holds the record, and the version it holds. */
  write(peer: NodeId, record: ReplicaRecord, hintFor: NodeId | null = null, fence?: number): Promise<ApplyResult> {
    return this.writes.enqueue(peer, { record, hintFor, fence });
  }

  /** Tells a peer a new leader's term, so that it refuses the writes of every earlier leader from now on. */
  async announce(peer: NodeId, fence: number): Promise<void> {
    await this.peers.post(peer, REPLICA_WRITE_PATH, { records: [], fence }, isWriteResponse);
  }

  read(peer: NodeId, key: string, requestId: string | null = null): Promise<ReplicaAnswer> {
    return this.reads.enqueue(peer, { key, requestId });
  }
}
