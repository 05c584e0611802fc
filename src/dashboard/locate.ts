// Where one key lives: its owners under the current membership and the copy
// every alive node holds, read straight from their stores (no read repair,
// no leader needed), so it answers on any node, even mid-failover.
import { ReplicaReadResponse, checker, type NodeId, type ReplicaRecord } from '../protocol/schemas.js';
import type { KeyCopy, KeyLocation } from '../protocol/dashboard.js';
import { owners } from '../placement/rendezvous.js';
import { REPLICA_READ_PATH } from '../protocol/paths.js';
import type { PeerClient } from '../transport/peer-client.js';

const isReadResponse = checker(ReplicaReadResponse);

export interface LocateContext {
  self: NodeId;
  replicationFactor: number;
  aliveNodes(): readonly NodeId[];
  readLocal(key: string): ReplicaRecord | null;
  peers: PeerClient;
}

function copyOf(node: NodeId, owner: boolean, record: ReplicaRecord | null | undefined): KeyCopy {
  if (record === undefined) return { node, owner, copy: 'unreachable', version: null };
  if (record === null) return { node, owner, copy: 'none', version: null };
  return { node, owner, copy: record.value === null ? 'tombstone' : 'document', version: record.version };
}

export async function locate(context: LocateContext, key: string): Promise<KeyLocation> {
  const alive = context.aliveNodes();
  const keyOwners = owners(key, alive, context.replicationFactor);
  const others = alive.filter((node) => !keyOwners.includes(node));
  const nodes = [...keyOwners, ...others];
  const answers = await Promise.allSettled(
    nodes.map(async (node) => {
      if (node === context.self) return context.readLocal(key);
      return (await context.peers.post(node, REPLICA_READ_PATH, { keys: [key] }, isReadResponse)).records[0] ?? null;
    }),
  );
  return {
    key,
    replicationFactor: context.replicationFactor,
    copies: nodes.map((node, i) => {
      const answer = answers[i]!;
      return copyOf(node, i < keyOwners.length, answer.status === 'fulfilled' ? answer.value : undefined);
    }),
  };
}
