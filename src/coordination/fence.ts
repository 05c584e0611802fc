// Fencing tokens on the replica side. In the consistent mode every replica
// write carries the term of the leader that sends it; a replica remembers the
// highest term it has seen, on disk before it acts on it, and refuses writes
// from any lower one: a leader that lost its etcd lease (paused, cut off) and
// wakes up with writes in flight cannot overwrite what its successor wrote.
import type { MetaStore } from '../membership/gossip.js';

const FENCE_KEY = 'fence';

export class StaleTermError extends Error {
  /** Fastify answers with this status. */
  readonly statusCode = 409;
}

export function staleTermMessage(token: number, highest: number): string {
  return `Stale leader: term ${token} is below term ${highest}, which this replica has seen; the sender is no longer the leader`;
}

export class Fence {
  private highest: number;

  constructor(private readonly store: Pick<MetaStore, 'getMeta' | 'putMeta'>) {
    this.highest = store.getMeta<number>(FENCE_KEY) ?? 0;
  }

  get term(): number {
    return this.highest;
  }

  /** Resolves once `token` may act here (recorded durably if it is new); throws a StaleTermError if it is older. */
  async admit(token: number | undefined): Promise<void> {
    if (token === undefined || token === this.highest) return;
    if (token < this.highest) throw new StaleTermError(staleTermMessage(token, this.highest));
    // Raised before the write, so a lower token arriving meanwhile is refused at once.
    this.highest = token;
    await this.store.putMeta(FENCE_KEY, token);
  }
}
