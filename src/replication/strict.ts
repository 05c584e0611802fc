// The consistent mode's rule for the leader, pure: act on a key only when
// every current owner answered, and acknowledge a write only when every owner
// holds it. No stand-in counts; a missing owner is a 503, never a guess.
import type { Copy, FanoutResult } from './decide.js';

export const OWNERS_UNREACHABLE = 'Not every owner of the key is reachable, and the consistent mode answers only with all of them';

/** Null when the answers allow acting on the key, otherwise why not. */
export function strictSurveyProblem(owners: readonly Copy[]): string | null {
  return owners.every((copy) => copy !== undefined) ? null : OWNERS_UNREACHABLE;
}

export function strictFanoutProblem(fanout: FanoutResult, owners: number): string | null {
  return fanout.ownersHolding === owners && fanout.beatenBy === null ? null : `Failed to write an entry: ${owners - fanout.ownersHolding} of ${owners} owners do not hold it`;
}
