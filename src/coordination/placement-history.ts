// Which nodes may hold the newest copy of a key in the consistent mode. Pure,
// so the rules are unit-tested on their own.
//
// Placement follows the alive nodes, and the alive set moves whenever a lease
// lapses: a node that was paused, cut off from etcd or restarted drops out and
// comes back. The new owners of a key hold nothing until repair copies it to
// them, so "every current owner answered" does not prove the answer current:
// after two such changes in a row every node that holds the key may be outside
// the view, and the leader would answer "absent" for a key that exists.
//
// The history lists, in etcd, the views since the last settled one (a view
// whose owners were repaired to hold everything): its first entry is settled,
// each later one is a view some leader served in. A write acknowledged in a
// view is on every owner it had there, and a settled view's owners hold every
// write acknowledged before it settled. So an answer that heard from at least
// one owner of the key in every view of the history saw the newest write.
import { PLACEMENT_MAX_VIEWS, type NodeId } from '../protocol/schemas.js';
import { owners } from '../placement/rendezvous.js';

/** Views, each sorted; the first one settled. */
export type PlacementHistory = readonly (readonly NodeId[])[];

/** At most this many unsettled views: a cluster that keeps changing without settling answers 503 rather than grow the key. */
export const MAX_VIEWS = PLACEMENT_MAX_VIEWS;

export function normalizedView(view: readonly NodeId[]): NodeId[] {
  return [...new Set(view)].sort();
}

export function sameView(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((node, i) => node === b[i]);
}

/** The history with `view` (normalized) as its last entry; unchanged when it already is. */
export function withView(history: PlacementHistory, view: readonly NodeId[]): PlacementHistory {
  const normalized = normalizedView(view);
  const last = history.at(-1);
  return last && sameView(last, normalized) ? history : [...history, normalized];
}

/**
 * Null when the nodes that answered include an owner of `key` in every view of
 * the history; otherwise why the answer could miss the newest write.
 */
export function historyProblem(key: string, history: PlacementHistory, answered: (node: NodeId) => boolean, replicationFactor: number): string | null {
  for (const view of history) {
    if (view.length === 0 || owners(key, view, replicationFactor).some(answered)) continue;
    return `The copies of this key may sit only on nodes that are gone or silent since the membership changed (${view.join(', ')}); the consistent mode answers once they are back or repaired`;
  }
  return null;
}

/**
 * Null when `view` may become the settled one once its nodes are repaired:
 * every view of the history keeps, for every key, at least one owner inside
 * `view`, so repair within `view` brings every acknowledged write to its new
 * owners. Otherwise (more nodes gone than copies kept) why not: settling would
 * turn keys whose every copy is outside into "absent".
 */
export function settleProblem(history: PlacementHistory, view: readonly NodeId[], replicationFactor: number): string | null {
  const inside = new Set(view);
  for (const earlier of history) {
    const gone = earlier.filter((node) => !inside.has(node));
    if (gone.length < Math.min(replicationFactor, earlier.length)) continue;
    return `${gone.join(', ')} left at once, as many nodes as a key has copies`;
  }
  return null;
}
