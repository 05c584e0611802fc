// Builds the dashboard's cluster snapshot on the serving node. Document
// traffic only reaches the leader, so a follower asks the leader for its
// figures in the background and shows the last answer it got.
import { Traffic, type ClusterSnapshot } from '../protocol/dashboard.js';
import { INTERNAL_TRAFFIC_PATH } from '../protocol/paths.js';
import { checker, type Heartbeat, type NodeId } from '../protocol/schemas.js';
import type { PeerView } from '../membership/machine.js';
import type { TrafficMeter } from '../observability/traffic.js';
import type { PeerClient } from '../transport/peer-client.js';
import { nodeViews } from './snapshot.js';

const isTraffic = checker(Traffic);

export interface WatchSources {
  heartbeat(): Heartbeat;
  peers(): readonly PeerView[];
  traffic: TrafficMeter;
  /** Asks the leader as every node-to-node request does: signed, over the cluster's TLS. */
  client: Pick<PeerClient, 'post'>;
}

export class ClusterWatch {
  private readonly lastHeard = new Map<NodeId, number>();
  private leaderTraffic: Traffic | null = null;
  private asking = false;

  constructor(private readonly sources: WatchSources) {}

  snapshot(): ClusterSnapshot {
    const beat = this.sources.heartbeat();
    const now = Date.now();
    const local = this.sources.traffic.traffic();
    if (beat.leader !== null && beat.leader !== beat.node) this.askLeader(beat.leader);
    return {
      node: beat.node,
      at: now,
      leader: beat.leader,
      term: beat.term,
      replicationFactor: beat.replicationFactor,
      heartbeatIntervalMs: beat.heartbeatIntervalMs,
      failureTimeoutMs: beat.failureTimeoutMs,
      nodes: nodeViews({
        self: beat.node,
        leader: beat.leader,
        term: beat.term,
        now,
        heartbeatIntervalMs: beat.heartbeatIntervalMs,
        peers: this.sources.peers(),
        lastHeard: this.lastHeard,
      }),
      warnings: beat.warnings,
      repair: beat.repair ?? { underReplicated: 0, transfersInProgress: 0, hintsPending: 0, inSync: true },
      traffic: beat.leader === beat.node ? local : this.leaderTraffic?.node === beat.leader ? this.leaderTraffic : null,
    };
  }

  private askLeader(leader: NodeId): void {
    if (this.asking) return;
    this.asking = true;
    this.sources.client
      .post(leader, INTERNAL_TRAFFIC_PATH, {}, isTraffic)
      .then((traffic) => (this.leaderTraffic = traffic))
      .catch(() => (this.leaderTraffic = null))
      .finally(() => (this.asking = false));
  }
}
