// The election rule of the task: the alive node that sorts first leads. Terms
// make competing claims comparable: the higher term wins, then the smaller id.
import { compareNodeIds } from '../common/address.js';
import type { NodeId } from '../protocol/schemas.js';

export function chooseLeader(alive: readonly NodeId[]): NodeId {
  if (alive.length === 0) throw new Error('an election needs at least one alive node');
  return alive.reduce((best, id) => (compareNodeIds(id, best) < 0 ? id : best));
}

/** Does the claim (term, leader) replace the current one (currentTerm, current)? */
export function claimBeats(term: number, leader: NodeId, currentTerm: number, current: NodeId | null): boolean {
  if (term !== currentTerm) return term > currentTerm;
  return current === null || compareNodeIds(leader, current) < 0;
}
