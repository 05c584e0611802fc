import { Heartbeat, checker } from '../protocol/schemas.js';

const isHeartbeat = checker(Heartbeat);

/** Extra time on top of two failure timeouts: one to notice the leader is gone, one for a retry election. */
const FAILOVER_SLACK_MS = 5_000;

/** Returns null for anything that is not a Warehouse 13 heartbeat (e.g. another service on that port). */
export function parseHeartbeat(text: string): Heartbeat | null {
  try {
    const parsed: unknown = JSON.parse(text);
    return isHeartbeat(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

export function claimsLeadership(heartbeat: Heartbeat): boolean {
  return heartbeat.leader === heartbeat.node;
}

/** Every node id a heartbeat mentions: the answering node, its leader and the listed nodes. */
export function nodesNamedBy(heartbeat: Heartbeat): string[] {
  const named = [heartbeat.node, ...heartbeat.nodes.map((node) => node.id)];
  if (heartbeat.leader !== null) named.push(heartbeat.leader);
  return [...new Set(named)];
}

/**
 * Leaders named in a round of heartbeats, most credible first: the highest term
 * wins (a deposed leader may still believe in itself), then the most votes.
 */
export function rankLeaderCandidates(answers: readonly Heartbeat[]): string[] {
  const tally = new Map<string, { term: number; votes: number; order: number }>();
  for (const answer of answers) {
    if (answer.leader === null) continue;
    const entry = tally.get(answer.leader) ?? { term: answer.term, votes: 0, order: tally.size };
    entry.term = Math.max(entry.term, answer.term);
    entry.votes += 1;
    tally.set(answer.leader, entry);
  }
  return [...tally.entries()]
    .sort(([, a], [, b]) => b.term - a.term || b.votes - a.votes || a.order - b.order)
    .map(([leader]) => leader);
}

/** How long a request keeps retrying through a failover before giving up. */
export function failoverTimeoutMs(heartbeat: Heartbeat | undefined, override?: number): number {
  if (override !== undefined) return override;
  const failureTimeoutMs = heartbeat?.failureTimeoutMs ?? 10_000;
  return 2 * failureTimeoutMs + FAILOVER_SLACK_MS;
}
