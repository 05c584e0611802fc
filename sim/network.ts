// The simulated network between the nodes of a run: every request and every
// answer is a message with a seeded delay (so messages overtake each other),
// may be dropped, and is cut by partitions; a request to a node that is down
// or not listening yet is refused. A caller that hears nothing fails at its
// deadline, as PeerClient does. Bodies cross as JSON text, so no node shares
// an object with another.
// A node serves the replica endpoints and gossip, as its HTTP server does.
import {
  Gossip,
  ReplicaReadRequest,
  ReplicaWriteRequest,
  SyncDigestRequest,
  SyncKeysRequest,
  checker,
  type NodeId,
} from '../src/protocol/schemas.js';
import { PeerError, type PeerTransport } from '../src/transport/peer-client.js';
import { GOSSIP_PATH, REPLICA_READ_PATH, REPLICA_WRITE_PATH, SYNC_DIGEST_PATH, SYNC_KEYS_PATH } from '../src/protocol/paths.js';
import type { ReplicaEndpoints } from '../src/replication/endpoints.js';
import { replyToGossip, type MembershipSource } from '../src/membership/source.js';
import { uniform, type Rng } from '../src/common/random.js';
import type { Scheduler } from './scheduler.js';

export interface NetworkOptions {
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability that one message (a request or an answer) is lost. */
  dropRate: number;
  /** A caller's deadline, as the nodes' --request-timeout. */
  timeoutMs: number;
}

/** One run of a node's process: dead once it crashed, and a restart is a new one. */
export interface Process {
  readonly node: NodeId;
  alive: boolean;
  endpoints: ReplicaEndpoints;
  /** What its gossip route serves. */
  gossip: Pick<MembershipSource, 'receiveGossip'>;
}

/** An error answer: its status, and its body when it has one. */
type Refusal = Error & { statusCode?: number; body?: unknown };

const isBody: Record<string, (value: unknown) => boolean> = {
  [GOSSIP_PATH]: checker(Gossip),
  [REPLICA_WRITE_PATH]: checker(ReplicaWriteRequest),
  [REPLICA_READ_PATH]: checker(ReplicaReadRequest),
  [SYNC_DIGEST_PATH]: checker(SyncDigestRequest),
  [SYNC_KEYS_PATH]: checker(SyncKeysRequest),
};

async function serve({ endpoints, gossip }: Process, path: string, body: unknown): Promise<unknown> {
  if (!isBody[path]?.(body)) throw Object.assign(new Error(`bad request to ${path}`), { statusCode: 400 });
  switch (path) {
    case GOSSIP_PATH: {
      const reply = await replyToGossip(gossip, body as Gossip);
      if (reply.status === 200) return reply.body;
      throw Object.assign(new Error(reply.body.error), { statusCode: reply.status, body: reply.body }) satisfies Refusal;
    }
    case REPLICA_WRITE_PATH:
      return endpoints.replicas.write(body as ReplicaWriteRequest);
    case REPLICA_READ_PATH:
      return endpoints.replicas.read(body as ReplicaReadRequest);
    case SYNC_DIGEST_PATH:
      return endpoints.sync.compareDigests(body as SyncDigestRequest);
    default:
      return endpoints.sync.listKeys(body as SyncKeysRequest);
  }
}

export class SimNetwork {
  private readonly cut = new Set<string>();
  /** Messages sent, and those lost (dropped or cut). */
  readonly counts = { messages: 0, lost: 0 };

  constructor(
    private readonly scheduler: Scheduler,
    private readonly rng: Rng,
    private readonly options: NetworkOptions,
    /** The process of a node that listens, or null while it is down or still starting. */
    private readonly running: (node: NodeId) => Process | null,
  ) {}

  /** Cuts every link between the two sides. */
  partition(sides: readonly (readonly NodeId[])[]): void {
    this.cut.clear();
    for (const [i, side] of sides.entries()) {
      for (const other of sides.slice(i + 1)) for (const a of side) for (const b of other) this.cut.add(link(a, b));
    }
  }

  heal(): void {
    this.cut.clear();
  }

  partitioned(): boolean {
    return this.cut.size > 0;
  }

  connected(a: NodeId, b: NodeId): boolean {
    return a === b || !this.cut.has(link(a, b));
  }

  /** The transport `caller` uses: what it sends after it died is still delivered, but it hears no answer. */
  transport(caller: Process): PeerTransport {
    return { post: (peer, path, body, check) => this.post(caller, peer, path, body, check) };
  }

  private post<T>(caller: Process, peer: NodeId, path: string, body: unknown, check: (value: unknown) => value is T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (answer: () => void) => {
        if (settled || !caller.alive) return;
        settled = true;
        cancelDeadline();
        answer();
      };
      const fail = (why: string, status: number | null = null, answer?: unknown) => finish(() => reject(new PeerError(`${peer}${path}: ${why}`, status, answer)));
      const cancelDeadline = this.scheduler.after(this.options.timeoutMs, () => fail(`no answer within ${this.options.timeoutMs} ms`));
      const request = JSON.stringify(body);
      if (!this.send(caller.node, peer)) return;
      this.scheduler.after(this.delay(), () => {
        const target = this.running(peer);
        if (!target) {
          this.scheduler.after(this.delay(), () => fail('connection refused'));
          return;
        }
        if (!this.connected(caller.node, peer)) return;
        const reply = (deliver: () => void) => {
          if (!target.alive || !this.send(peer, caller.node)) return;
          this.scheduler.after(this.delay(), () => {
            if (this.connected(caller.node, peer)) deliver();
          });
        };
        serve(target, path, JSON.parse(request)).then(
          (answer) => {
            const text = JSON.stringify(answer);
            reply(() => {
              const parsed: unknown = JSON.parse(text);
              if (check(parsed)) finish(() => resolve(parsed));
              else fail('malformed answer', 200);
            });
          },
          (error: Refusal) => {
            const text = JSON.stringify(error.body ?? null);
            reply(() => fail(error.message, error.statusCode ?? 500, JSON.parse(text)));
          },
        );
      });
    });
  }

  /** Whether a message from `from` to `to` leaves (it may still be cut on arrival). */
  private send(from: NodeId, to: NodeId): boolean {
    this.counts.messages++;
    if (this.connected(from, to) && this.rng() >= this.options.dropRate) return true;
    this.counts.lost++;
    return false;
  }

  private delay(): number {
    return uniform(this.rng, this.options.minDelayMs, this.options.maxDelayMs);
  }
}

function link(a: NodeId, b: NodeId): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
