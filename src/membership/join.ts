// Joining an existing cluster: learn it from one node's signed heartbeat and
// refuse a replication-factor mismatch before announcing ourselves.
import { setTimeout as sleep } from 'node:timers/promises';
import { Heartbeat, checker, type NodeId } from '../protocol/schemas.js';
import { INTERNAL_HEARTBEAT_PATH } from '../protocol/paths.js';
import { UnauthenticatedAnswer, type PeerClient } from '../transport/peer-client.js';
import { replicationFactorMismatch } from './machine.js';

const isHeartbeat = checker(Heartbeat);

export class JoinError extends Error {}

export interface JoinOptions {
  target: NodeId;
  replicationFactor: number;
  attempts: number;
  retryDelayMs: number;
  /** Signs with this node's cluster secret: the target must accept it before we announce ourselves. */
  peers: PeerClient;
}

export interface ClusterView {
  leader: NodeId | null;
  term: number;
  peers: NodeId[];
}

/** What to change when the failure is TLS on one side only, or a certificate this node cannot check. */
function tlsHint(failure: string, tls: boolean): string {
  // A node serving HTTPS drops a plain request without an answer.
  if (!tls && /socket hang up/.test(failure)) return '; if the cluster serves HTTPS, this node needs --cert, --key and --ca too';
  if (tls && /does not serve HTTPS/.test(failure)) return '; every node of a cluster needs --cert and --key, or none does';
  if (tls && /not trusted/.test(failure)) return '; give this node the CA that signed the cluster\'s certificates with --ca';
  return '';
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
      // Signed, so the target proves it holds our secret before we announce ourselves.
      heartbeat = await options.peers.post(target, INTERNAL_HEARTBEAT_PATH, {}, isHeartbeat, { probe: true });
    } catch (error) {
      if (error instanceof UnauthenticatedAnswer) {
        throw new JoinError(`${target} does not accept this node's cluster secret: every node needs the same one (--cluster-secret-file or WAREHOUSE_CLUSTER_SECRET)`);
      }
      lastError = (error as Error).message;
      if (attempt < options.attempts) await sleep(options.retryDelayMs);
    }
  }
  if (!heartbeat) throw new JoinError(`cannot reach ${target} to join (${lastError}${tlsHint(lastError, options.peers.tls)})`);
  if (heartbeat.replicationFactor !== options.replicationFactor) {
    throw new JoinError(replicationFactorMismatch(heartbeat.replicationFactor, options.replicationFactor));
  }
  return { leader: heartbeat.leader, term: heartbeat.term, peers: heartbeat.nodes.map((node) => node.id) };
}
