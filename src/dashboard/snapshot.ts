// The node list the dashboard shows, from one node's membership view: a node
// silent for a couple of heartbeats is shown unreachable at once, long before
// the failure timeout drops it, so a kill is visible within seconds.
import { compareNodeIds } from '../common/address.js';
import type { NodeView } from '../protocol/dashboard.js';
import type { NodeId } from '../protocol/schemas.js';
import type { PeerView } from '../membership/machine.js';

/** Peers gossip every heartbeat in both directions; this much silence means missed beats. */
export function unreachableAfterMs(heartbeatIntervalMs: number): number {
  return Math.round(1.5 * heartbeatIntervalMs + 200);
}

export interface ViewInput {
  self: NodeId;
  leader: NodeId | null;
  term: number;
  now: number;
  heartbeatIntervalMs: number;
  peers: readonly PeerView[];
  /** When each node was last heard, kept by the caller across snapshots so a dropped node keeps its last time. */
  lastHeard: Map<NodeId, number>;
}

export function nodeViews({ self, leader, term, now, heartbeatIntervalMs, peers, lastHeard }: ViewInput): NodeView[] {
  lastHeard.set(self, now);
  for (const peer of peers) if (peer.lastHeard !== null) lastHeard.set(peer.id, peer.lastHeard);
  const role = (id: NodeId) => (id === leader ? ('leader' as const) : ('follower' as const));
  const views: NodeView[] = [{ id: self, role: role(self), state: 'alive', term, lastHeardMsAgo: 0 }];
  for (const peer of peers) {
    const heard = lastHeard.get(peer.id);
    const ago = heard === undefined ? null : Math.max(0, Math.round(now - heard));
    const state = peer.departed ? 'down' : peer.lastHeard !== null && ago! <= unreachableAfterMs(heartbeatIntervalMs) ? 'alive' : 'unreachable';
    views.push({ id: peer.id, role: role(peer.id), state, term: peer.term, lastHeardMsAgo: ago });
  }
  return views.sort((a, b) => compareNodeIds(a.id, b.id));
}
