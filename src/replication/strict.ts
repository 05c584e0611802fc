// The consistent mode's rule for the leader, pure: act on a key only when
// every current owner answered, and an owner of every view since the last
// settled one (placement-history.ts); acknowledge a write only when every
// owner holds it. No stand-in counts; a missing owner is a 503, never a guess.
import type { NodeId } from '../protocol/schemas.js';
import { historyProblem, type PlacementHistory } from '../coordination/placement-history.js';
import type { Copy, FanoutResult, Survey } from './decide.js';

export const OWNERS_UNREACHABLE = 'Not every owner of the key is reachable, and the consistent mode answers only with all of them';

/** Null when the answers allow acting on the key, otherwise why not. `rest` lines up with `survey.others`. */
export function strictSurveyProblem(
  key: string,
  survey: Pick<Survey, 'owners' | 'others'>,
  placement: { owners: readonly NodeId[]; rest: readonly NodeId[] },
  history: PlacementHistory,
  replicationFactor: number,
): string | null {
  if (!survey.owners.every((copy) => copy !== undefined)) return OWNERS_UNREACHABLE;
  const answered = new Set<NodeId>();
  const note = (nodes: readonly NodeId[], copies: readonly Copy[]) => nodes.forEach((node, i) => copies[i] !== undefined && answered.add(node));
  note(placement.owners, survey.owners);
  note(placement.rest, survey.others);
  return historyProblem(key, history, (node) => answered.has(node), replicationFactor);
}

export function strictFanoutProblem(fanout: FanoutResult, owners: number): string | null {
  return fanout.ownersHolding === owners && fanout.beatenBy === null ? null : `Failed to write an entry: ${owners - fanout.ownersHolding} of ${owners} owners do not hold it`;
}
