// The edge of the membership machine: a timer feeds it the clock, a transport
// carries its gossip, and its events are logged, persisted and handed to
// listeners. Those side effects come in through small interfaces: a node
// wires real timers and HTTP, the replication simulator virtual ones.
import { EventEmitter } from 'node:events';
import { Gossip, GossipRejection, checker, type NodeId, type NodeInfo, type RepairStatus } from '../protocol/schemas.js';
import { PeerError, type PeerTransport } from '../transport/peer-client.js';
import type { Logger } from '../common/logger.js';
import type { Clock, Timers } from '../common/timers.js';
import type { Membership, MembershipEvent, Outgoing, PeerView, ReceiveResult } from './machine.js';
import type { LeaderStatus, MembershipSource, ReadLease } from './source.js';
import { GOSSIP_PATH } from '../protocol/paths.js';
import { invariant } from '../common/assert.js';

const isGossip = checker(Gossip);
const isRejection = checker(GossipRejection);

export interface PersistedMembership {
  term: number;
  peers: NodeId[];
}

/** How gossip reaches a peer. */
export interface GossipTransport {
  /** Sends our gossip to `peer`: its answer, or a PeerError (status 409 with a GossipRejection body: it refused us). */
  exchange(peer: NodeId, gossip: Gossip): Promise<Gossip>;
  /** A peer's gossip reached us: it is up, whatever our last request to it met. */
  heard(peer: NodeId): void;
}

/** Gossip as a node-to-node request: over PeerClient, or the simulator's network. */
export function gossipOver(peers: PeerTransport, heard: (peer: NodeId) => void = () => {}): GossipTransport {
  // A probe: the failure detector must keep asking a peer that just failed to answer, or it would never hear it wake.
  return { exchange: (peer, gossip) => peers.post(peer, GOSSIP_PATH, gossip, isGossip, { probe: true }), heard };
}

export interface MembershipDriverOptions {
  tickMs: number;
  /** The machine's time is `clock.now()`, monotonic. */
  clock: Clock;
  timers: Timers;
  logger: Logger;
  persist: (state: PersistedMembership) => Promise<void>;
  /** The term already on disk when the driver starts. */
  persistedTerm: number;
  /** This node's repair state, carried in every gossip it sends. */
  repairStatus: () => RepairStatus;
}

export function logMembershipEvent(logger: Logger, event: MembershipEvent): void {
  if (event.type === 'node-up') logger.info({ node: event.node.id }, 'node joined');
  else if (event.type === 'node-down') logger.warn({ node: event.node }, 'node dropped after the failure timeout');
  else if (event.type === 'leader') logger.info({ leader: event.leader, term: event.term, previous: event.previous }, 'leader changed');
  else logger.info({ cluster: event.id }, 'joined the cluster');
}

/**
 * The term follows etcd raft's MustSync rule: it is on disk before any gossip
 * or write carries it, so a restarted node never goes back to a lower term
 * than one it already announced or wrote records with.
 */
export class MembershipDriver extends EventEmitter<{ event: [MembershipEvent]; rejected: [string] }> implements MembershipSource {
  readonly mode = 'gossip' as const;
  private stopTicking: (() => void) | undefined;
  private persistedTerm: number;
  private persisting: Promise<void> = Promise.resolve();

  constructor(
    readonly machine: Membership,
    private readonly transport: GossipTransport,
    private readonly options: MembershipDriverOptions,
  ) {
    super();
    this.persistedTerm = options.persistedTerm;
  }

  /** The current term, once it is on disk. */
  async durableTerm(): Promise<number> {
    const { term } = this.machine.status();
    if (term > this.persistedTerm) await this.persist();
    return term;
  }

  /** Queues a write of the current term and contacts; resolves once it (and every earlier one) is on disk. */
  private persist(): Promise<void> {
    this.persisting = this.persisting
      .then(async () => {
        const { term } = this.machine.status();
        invariant(term >= this.persistedTerm, () => `the term went down from ${this.persistedTerm} to ${term}`);
        await this.options.persist({ term, peers: this.machine.contacts() });
        this.persistedTerm = Math.max(this.persistedTerm, term);
      })
      .catch((error: Error) => this.options.logger.error({ err: error.message }, 'could not persist membership'));
    return this.persisting;
  }

  start(): Promise<void> {
    this.step();
    this.stopTicking = this.options.timers.every(this.options.tickMs, () => this.step());
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.stopTicking?.();
    return Promise.resolve();
  }

  status(): LeaderStatus {
    return this.machine.status();
  }

  aliveNodes(): readonly NodeInfo[] {
    return this.machine.aliveNodes();
  }

  readLease(): ReadLease | null {
    const epoch = this.machine.readLease(this.options.clock.now());
    return epoch === null ? null : { epoch, term: this.machine.status().term };
  }

  aliveIds(): readonly NodeId[] {
    return this.machine.aliveIds();
  }

  /** With wall-clock times: the machine runs on the monotonic clock, people read the wall one. */
  peerView(): readonly PeerView[] {
    const offset = this.options.clock.wall() - this.options.clock.now();
    return this.machine.peerView().map((peer) => (peer.lastHeard === null ? peer : { ...peer, lastHeard: peer.lastHeard + offset }));
  }

  peerRepairs(): ReadonlyMap<NodeId, RepairStatus | undefined> {
    return this.machine.peerRepairs();
  }

  coordinatorStatus(): undefined {
    return undefined;
  }

  /** Gossip that arrived on our HTTP port; answered with our own view, its term on disk first. */
  async receiveGossip(gossip: Gossip): Promise<{ result: ReceiveResult; answer: Gossip }> {
    this.transport.heard(gossip.from.id);
    const result = this.machine.receive(this.options.clock.now(), gossip, false);
    this.flush();
    const answer = this.withRepair(this.machine.gossip());
    if (answer.term > this.persistedTerm) await this.persist();
    return { result, answer };
  }

  private withRepair(gossip: Gossip): Gossip {
    return { ...gossip, repair: this.options.repairStatus() };
  }

  private step(): void {
    this.machine.tick(this.options.clock.now());
    this.flush();
  }

  private flush(): void {
    const { messages, events } = this.machine.drain();
    const termChanged = this.machine.status().term > this.persistedTerm;
    if (events.length > 0 || termChanged) {
      for (const event of events) {
        logMembershipEvent(this.options.logger, event);
        this.emit('event', event);
      }
      const persisted = this.persist();
      if (termChanged) {
        void persisted.then(() => this.send(messages));
        return;
      }
    }
    this.send(messages);
  }

  private send(messages: readonly Outgoing[]): void {
    for (const { to, gossip, at } of messages) {
      this.transport.exchange(to, this.withRepair(gossip)).then(
        (answer) => {
          // Only the node at an address speaks for it: an answer naming another id proves nothing.
          if (answer.from.id !== to) {
            this.options.logger.warn({ peer: to, claims: answer.from.id }, 'a peer answered under another id');
            return;
          }
          this.machine.receive(this.options.clock.now(), answer, true, at);
          this.flush();
        },
        (error: Error) => {
          if (error instanceof PeerError && error.status === 409) this.refused(to, error);
          else this.options.logger.debug({ peer: to, err: error.message }, 'gossip failed');
        },
      );
    }
  }

  /**
   * A member refused our gossip (another replication factor or cluster).
   * Only the smaller side stops: a node restarted with a changed flag must
   * not serve as a cluster of its own, but the majority never shuts itself
   * down because one misconfigured node refuses it.
   */
  private refused(peer: NodeId, error: PeerError): void {
    const theirs = isRejection(error.body) ? error.body.alive : 0;
    const ours = this.machine.aliveIds().length;
    if (theirs > ours) this.emit('rejected', error.message);
    else this.options.logger.warn({ peer, err: error.message, theirAlive: theirs, ourAlive: ours }, 'a smaller group refused our gossip; staying');
  }
}
