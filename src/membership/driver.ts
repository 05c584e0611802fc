// The edge of the membership machine: a timer feeds it the clock, HTTP carries
// its gossip, and its events are logged, persisted and handed to listeners.
import { EventEmitter } from 'node:events';
import { Gossip, GossipRejection, checker, type NodeId, type RepairStatus } from '../protocol/schemas.js';
import { PeerError, type PeerClient } from '../transport/peer-client.js';
import type { Logger } from '../common/logger.js';
import type { Membership, MembershipEvent, ReceiveResult } from './machine.js';

export const GOSSIP_PATH = '/internal/v1/gossip';
const isGossip = checker(Gossip);
const isRejection = checker(GossipRejection);

export interface PersistedMembership {
  term: number;
  peers: NodeId[];
}

export interface MembershipDriverOptions {
  tickMs: number;
  logger: Logger;
  persist: (state: PersistedMembership) => Promise<void>;
  /** This node's repair state, carried in every gossip it sends. */
  repairStatus: () => RepairStatus;
}

export class MembershipDriver extends EventEmitter<{ event: [MembershipEvent]; rejected: [string] }> {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly machine: Membership,
    private readonly peers: PeerClient,
    private readonly options: MembershipDriverOptions,
  ) {
    super();
  }

  start(): void {
    this.step();
    this.timer = setInterval(() => this.step(), this.options.tickMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Gossip that arrived on our HTTP port; answered with our own view. */
  receive(gossip: Gossip): { result: ReceiveResult; answer: Gossip } {
    const result = this.machine.receive(Date.now(), gossip, false);
    this.flush();
    return { result, answer: this.withRepair(this.machine.gossip()) };
  }

  private withRepair(gossip: Gossip): Gossip {
    return { ...gossip, repair: this.options.repairStatus() };
  }

  private step(): void {
    this.machine.tick(Date.now());
    this.flush();
  }

  private flush(): void {
    const { messages, events } = this.machine.drain();
    for (const { to, gossip } of messages) {
      this.peers.post(to, GOSSIP_PATH, this.withRepair(gossip), isGossip).then(
        (answer) => {
          // Only the node at an address speaks for it: an answer naming another id proves nothing.
          if (answer.from.id !== to) {
            this.options.logger.warn({ peer: to, claims: answer.from.id }, 'a peer answered under another id');
            return;
          }
          this.machine.receive(Date.now(), answer);
          this.flush();
        },
        (error: Error) => {
          if (error instanceof PeerError && error.status === 409) this.refused(to, error);
          else this.options.logger.debug({ peer: to, err: error.message }, 'gossip failed');
        },
      );
    }
    if (events.length === 0) return;
    for (const event of events) {
      this.log(event);
      if (event.type === 'node-down') this.peers.forget(event.node);
      this.emit('event', event);
    }
    const { term } = this.machine.status();
    this.options.persist({ term, peers: this.machine.contacts() }).catch((error: Error) =>
      this.options.logger.error({ err: error.message }, 'could not persist membership'),
    );
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

  private log(event: MembershipEvent): void {
    const { logger } = this.options;
    if (event.type === 'node-up') logger.info({ node: event.node.id }, 'node joined');
    else if (event.type === 'node-down') logger.warn({ node: event.node }, 'node dropped after the failure timeout');
    else if (event.type === 'leader') logger.info({ leader: event.leader, term: event.term, previous: event.previous }, 'leader changed');
    else logger.info({ cluster: event.id }, 'joined the cluster');
  }
}
