// Rendezvous (highest-random-weight) hashing: every node gets a pseudo-random
// weight per key and the key lives on the heaviest nodes. A join or leave only
// moves the keys whose top set that node enters or leaves (about RF/N of them),
// and any process that knows the alive nodes computes the same owners.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnv1a(text: string, seed: number): number {
  let hash = seed;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

// FNV alone leaves nearby inputs with correlated high bits; the murmur3
// finaliser spreads them so weights of different nodes are independent.
function mix(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

const nodeSeeds = new Map<string, number>();

function nodeSeed(node: string): number {
  let seed = nodeSeeds.get(node);
  if (seed === undefined) {
    seed = fnv1a(node, FNV_OFFSET);
    nodeSeeds.set(node, seed);
  }
  return seed;
}

export function weight(key: string, node: string): number {
  return mix(fnv1a(key, nodeSeed(node)));
}

/** All nodes in the key's preference order: owners first, then the fallbacks for hinted writes. */
export function preferenceList(key: string, nodes: readonly string[]): string[] {
  return nodes
    .map((node) => ({ node, w: weight(key, node) }))
    .sort((a, b) => b.w - a.w || (a.node < b.node ? -1 : 1))
    .map((entry) => entry.node);
}

/** The `replicationFactor` nodes that store the key (fewer when fewer are alive). */
export function owners(key: string, nodes: readonly string[], replicationFactor: number): string[] {
  return preferenceList(key, nodes).slice(0, replicationFactor);
}
