// Joining an existing cluster: learn it from one node's heartbeat, refuse a
// replication-factor mismatch before announcing ourselves, then announce.
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { Gossip, Heartbeat, checker, type NodeId } from '../protocol/schemas.js';
import { PeerClient, PeerError } from '../transport/peer-client.js';
import { GOSSIP_PATH } from './driver.js';
import { replicationFactorMismatch } from './machine.js';

const isHeartbeat = checker(Heartbeat);
const isGossip = checker(Gossip);

export class JoinError extends Error {}

export interface JoinOptions {
  target: NodeId;
  gossip: Gossip;
  attempts: number;
  retryDelayMs: number;
  timeoutMs: number;
}

export interface ClusterView {
  leader: NodeId | null;
  term: number;
  peers: NodeId[];
}

async function fetchHeartbeat(target: NodeId, timeoutMs: number): Promise<Heartbeat> {
  const response = await request(`http://${target}/v1/heartbeat`, { signal: AbortSignal.timeout(timeoutMs) });
  const body: unknown = await response.body.json();
  if (response.statusCode !== 200 || !isHeartbeat(body)) throw new Error(`${target} is not a Warehouse 13 node`);
  return body;
}

export async function joinCluster(options: JoinOptions): Promise<ClusterView> {
  const { target, gossip } = options;
  let heartbeat: Heartbeat | undefined;
  let lastError = '';
  for (let attempt = 1; attempt <= options.attempts && !heartbeat; attempt++) {
    try {
      heartbeat = await fetchHeartbeat(target, options.timeoutMs);
    } catch (error) {
      lastError = (error as Error).message;
      if (attempt < options.attempts) await sleep(options.retryDelayMs);
    }
  }
  if (!heartbeat) throw new JoinError(`cannot reach ${target} to join (${lastError})`);
  if (heartbeat.replicationFactor !== gossip.replicationFactor) {
    throw new JoinError(replicationFactorMismatch(heartbeat.replicationFactor, gossip.replicationFactor));
  }
  const peers = new PeerClient({ timeoutMs: options.timeoutMs });
  try {
    const answer = await peers.post(target, GOSSIP_PATH, gossip, isGossip);
    return { leader: answer.leader, term: answer.term, peers: answer.nodes.map((node) => node.id) };
  } catch (error) {
    if (error instanceof PeerError && error.status === 409) throw new JoinError(error.message);
    throw new JoinError(`cannot announce this node to ${target} (${(error as Error).message})`);
  } finally {
    await peers.close();
  }
}
