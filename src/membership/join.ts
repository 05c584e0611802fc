// Joining an existing cluster: learn it from one node's heartbeat and refuse a
// replication-factor mismatch before announcing ourselves.
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { Heartbeat, ReplicaReadResponse, checker, type NodeId } from '../protocol/schemas.js';
import { REPLICA_READ_PATH } from '../replication/batcher.js';
import { UnauthenticatedAnswer, type PeerClient } from '../transport/peer-client.js';
import { replicationFactorMismatch } from './machine.js';

const isHeartbeat = checker(Heartbeat);
const isReadResponse = checker(ReplicaReadResponse);

export class JoinError extends Error {}

export interface JoinOptions {
  target: NodeId;
  replicationFactor: number;
  attempts: number;
  retryDelayMs: number;
  timeoutMs: number;
  /** Signs with this node's cluster secret: the target must accept it before we announce ourselves. */
  peers: PeerClient;
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

/**
 * Learns the cluster from one member's heartbeat and checks the replication
 * factor. Announcing ourselves is left to the first gossip round, after this
 * node listens: a node that cannot serve must never appear in a node list.
 */
export async function discoverCluster(options: JoinOptions): Promise<ClusterView> {
  const { target } = options;
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
  if (heartbeat.replicationFactor !== options.replicationFactor) {
    throw new JoinError(replicationFactorMismatch(heartbeat.replicationFactor, options.replicationFactor));
  }
  try {
    await options.peers.post(target, REPLICA_READ_PATH, { keys: [] }, isReadResponse, { probe: true });
  } catch (error) {
    if (error instanceof UnauthenticatedAnswer) {
      throw new JoinError(`${target} does not accept this node's cluster secret: every node needs the same one (--cluster-secret-file or WAREHOUSE_CLUSTER_SECRET)`);
    }
    throw new JoinError(`cannot reach ${target} to join (${(error as Error).message})`);
  }
  return { leader: heartbeat.leader, term: heartbeat.term, peers: heartbeat.nodes.map((node) => node.id) };
}
