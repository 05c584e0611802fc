// Verdict 3: after the last fault healed, the replicas of every key agree.
// Asks every node directly for its copies (POST /internal/v1/replicas/read),
// computes each key's owners with the store's own placement over the alive
// nodes, and compares the owners' versions and values.
import { request } from 'undici';
import { owners } from '../src/placement/rendezvous.js';
import { ReplicaReadResponse, checker, type ReplicaRecord } from '../src/protocol/schemas.js';
import { REPLICA_READ_PATH } from '../src/protocol/paths.js';
import { signRequest } from '../src/security/cluster-auth.js';

const isReadResponse = checker(ReplicaReadResponse);
const BATCH = 5000;

export interface KeyDisagreement {
  key: string;
  owners: string[];
  /** What each owner holds: the record, null for nothing, or "unreachable". */
  copies: Record<string, ReplicaRecord | null | 'unreachable'>;
}

export interface ReplicaSnapshot {
  /** Nodes that did not answer. */
  unreachable: string[];
  /** Per node, per key: the node's copy (null when it holds none). */
  copies: Map<string, Map<string, ReplicaRecord | null>>;
  disagreements: KeyDisagreement[];
  /** Per key: the owners' agreed record (null = nothing anywhere), for keys that agree. */
  agreed: Map<string, ReplicaRecord | null>;
}

async function readReplicas(node: string, keys: readonly string[], secret: string, timeoutMs: number): Promise<Map<string, ReplicaRecord | null> | null> {
  const copies = new Map<string, ReplicaRecord | null>();
  try {
    for (let i = 0; i < keys.length; i += BATCH) {
      const batch = keys.slice(i, i + BATCH);
      const body = JSON.stringify({ keys: batch });
      const response = await request(`http://${node}${REPLICA_READ_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signRequest(secret, 'POST', REPLICA_READ_PATH, body) },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const answer: unknown = await response.body.json();
      if (response.statusCode !== 200 || !isReadResponse(answer) || answer.records.length !== batch.length) return null;
      batch.forEach((key, j) => copies.set(key, answer.records[j]!));
    }
    return copies;
  } catch {
    return null;
  }
}

function sameRecord(a: ReplicaRecord | null, b: ReplicaRecord | null): boolean {
  if (a === null || b === null) return a === b;
  return a.version[0] === b.version[0] && a.version[1] === b.version[1] && a.version[2] === b.version[2] && a.value === b.value;
}

/** One look at every node's copies of `keys`; `alive` are the nodes placement spreads keys over. */
export async function snapshotReplicas(alive: readonly string[], keys: readonly string[], replicationFactor: number, secret: string, timeoutMs = 5000): Promise<ReplicaSnapshot> {
  const answers = await Promise.all(alive.map((node) => readReplicas(node, keys, secret, timeoutMs)));
  const copies = new Map<string, Map<string, ReplicaRecord | null>>();
  const unreachable: string[] = [];
  alive.forEach((node, i) => {
    const answer = answers[i];
    if (answer) copies.set(node, answer);
    else unreachable.push(node);
  });
  const disagreements: KeyDisagreement[] = [];
  const agreed = new Map<string, ReplicaRecord | null>();
  for (const key of keys) {
    const keyOwners = owners(key, alive, replicationFactor);
    const held = keyOwners.map((node) => (copies.has(node) ? copies.get(node)!.get(key) ?? null : ('unreachable' as const)));
    const first = held[0];
    const agree = held.every((copy) => copy !== 'unreachable' && first !== 'unreachable' && first !== undefined && sameRecord(copy, first));
    if (agree) agreed.set(key, (first as ReplicaRecord | null) ?? null);
    else disagreements.push({ key, owners: keyOwners, copies: Object.fromEntries(keyOwners.map((node, i) => [node, held[i]!])) });
  }
  return { unreachable, copies, disagreements, agreed };
}
