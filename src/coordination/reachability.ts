// Eviction in the consistent mode: a node alive in etcd (its lease renewed)
// but not answering the leader would block its keys with 503s for as long as
// a partition lasts. After the failure timeout the leader places keys without
// it; the placement history (placement-history.ts) keeps that safe: its copies
// count again only in the views it is part of, and a read still needs an owner
// of every view since the last settled one. The leader probes the evicted node
// so that it returns to the view as soon as it answers again.
import type { NodeId } from '../protocol/schemas.js';
import type { PeerClient } from '../transport/peer-client.js';
import { isReadResponse } from '../replication/batcher.js';
import { REPLICA_READ_PATH } from '../protocol/paths.js';

export interface ReachabilityOptions {
  self: NodeId;
  failureTimeoutMs: number;
  probeIntervalMs: number;
  aliveIds(): readonly NodeId[];
  /** Only the leader places keys, so only it probes. */
  isLeader(): boolean;
}

export class Reachability {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly peers: PeerClient,
    private readonly options: ReachabilityOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.probe(), this.options.probeIntervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The alive nodes but those that have not answered this node for the failure timeout. */
  reachable(): readonly NodeId[] {
    const alive = this.options.aliveIds();
    const evicted = (node: NodeId) => node !== this.options.self && this.peers.silentFor(node) >= this.options.failureTimeoutMs;
    return alive.some(evicted) ? alive.filter((node) => !evicted(node)) : alive;
  }

  /** An evicted node gets no requests: without a probe it would never be seen answering again. */
  private probe(): void {
    if (!this.options.isLeader()) return;
    for (const node of this.options.aliveIds()) {
      if (node === this.options.self || this.peers.silentFor(node) === 0) continue;
      this.peers.post(node, REPLICA_READ_PATH, { keys: [] }, isReadResponse, { probe: true }).catch(() => {});
    }
  }
}
