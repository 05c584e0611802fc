// A deterministic simulated cluster of membership state machines. A virtual
// clock drives every node's `tick` every `tickMs`, and gossip travels through a
// simulated network with seeded delays, drops and partitions. As in the real
// driver (src/membership/driver.ts), gossip is a request answered with the
// receiver's view, which travels back to the sender through the same network,
// events are persisted, and a restarted node starts from what it persisted.
// Nothing reads the real clock or Math.random: one seed replays one run.
import { Membership, replicationFactorMismatch, type MembershipEvent } from '../../src/membership/machine.js';
import { CLUSTER_NAME, type Gossip, type NodeId, type NodeInfo } from '../../src/protocol/schemas.js';
import { mulberry32, type Rng } from '../../src/common/random.js';

export interface SimOptions {
  seed: number;
  replicationFactor?: number;
  heartbeatIntervalMs?: number;
  failureTimeoutMs?: number;
  /** How often each node ticks; the real driver uses min(100, heartbeat / 2). */
  tickMs?: number;
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Probability that any one message (request or answer) is lost. */
  dropRate?: number;
  /** Virtual wall-clock time at the start, used for `joined` stamps. */
  epoch?: number;
}

/** What the driver persists after each batch of events. */
export interface Persisted {
  term: number;
  peers: NodeId[];
}

export interface NodeView {
  leader: NodeId | null;
  term: number;
  alive: NodeId[];
}

export interface SimNode {
  readonly info: NodeInfo;
  replicationFactor: number;
  /** null while crashed. */
  machine: Membership | null;
  /** Bumped on crash and restart, so stale timers and answers find nobody. */
  incarnation: number;
  persisted: Persisted | undefined;
  events: Array<{ at: number; event: MembershipEvent }>;
  rejections: Array<{ at: number; from: NodeId; reason: string }>;
}

type Pending =
  | { at: number; seq: number; kind: 'tick'; node: NodeId; incarnation: number }
  | { at: number; seq: number; kind: 'request'; from: NodeId; to: NodeId; gossip: Gossip; sentAt: number }
  | { at: number; seq: number; kind: 'answer'; from: NodeId; to: NodeId; gossip: Gossip; requesterIncarnation: number; answerTo: number };

/** Pending without its sequence number, distributed over the union. */
type Unsequenced = Pending extends infer P ? (P extends Pending ? Omit<P, 'seq'> : never) : never;

/** A binary min-heap on (at, seq): deterministic order for simultaneous events. */
class Queue {
  private readonly heap: Pending[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): Pending | undefined {
    return this.heap[0];
  }

  push(item: Pending): void {
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  pop(): Pending | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }
}

function before(a: Pending, b: Pending): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function linkKey(a: NodeId, b: NodeId): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

export class Simulation {
  readonly seed: number;
  readonly epoch: number;
  now: number;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly stats = { sent: 0, delivered: 0, dropped: 0, cut: 0, toCrashed: 0 };
  /** Called after every tick and delivery: where a test checks an invariant at every step. */
  afterStep: (() => void) | null = null;
  /** Every membership event of every node, as text, for replay comparisons. */
  readonly history: string[] = [];

  private readonly options: Required<Omit<SimOptions, 'seed' | 'epoch'>>;
  private readonly rng: Rng;
  private readonly queue = new Queue();
  private readonly cuts = new Set<string>();
  private seq = 0;

  constructor(options: SimOptions) {
    this.seed = options.seed;
    this.rng = mulberry32(options.seed);
    this.epoch = options.epoch ?? 1_700_000_000_000;
    this.now = this.epoch;
    this.options = {
      replicationFactor: options.replicationFactor ?? 2,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1000,
      failureTimeoutMs: options.failureTimeoutMs ?? 10_000,
      tickMs: options.tickMs ?? 100,
      minDelayMs: options.minDelayMs ?? 1,
      maxDelayMs: options.maxDelayMs ?? 50,
      dropRate: options.dropRate ?? 0,
    };
  }

  get config(): Readonly<Required<Omit<SimOptions, 'seed' | 'epoch'>>> {
    return this.options;
  }

  set dropRate(rate: number) {
    this.options.dropRate = rate;
  }

  // ---- cluster operations -------------------------------------------------

  /** Starts the first node of a cluster: no peers, so it elects itself at once. */
  found(id: NodeId, replicationFactor = this.options.replicationFactor): SimNode {
    return this.start(id, replicationFactor, { term: 0, leader: null, peers: [] });
  }

  /**
   * Joins like src/membership/join.ts: reads the target's replication factor
   * (its heartbeat), announces itself with a gossip and starts from the answer.
   * The exchange is immediate; it fails if the target is down or cut off.
   */
  join(id: NodeId, via: NodeId, replicationFactor = this.options.replicationFactor): SimNode {
    const target = this.node(via);
    if (!target.machine || this.isCut(id, via)) throw new Error(`cannot reach ${via} to join (seed ${this.seed})`);
    if (target.replicationFactor !== replicationFactor) throw new Error(replicationFactorMismatch(target.replicationFactor, replicationFactor));
    const info: NodeInfo = { id, joined: this.now };
    const announce: Gossip = { cluster: CLUSTER_NAME, from: info, leader: null, term: 0, replicationFactor, nodes: [info] };
    const result = target.machine.receive(this.now, structuredClone(announce));
    this.flush(target);
    if (!result.accepted) throw new Error(result.reason);
    const answer = structuredClone(target.machine.gossip());
    return this.start(id, replicationFactor, {
      term: answer.term,
      leader: answer.leader,
      peers: answer.nodes.map((node) => node.id).filter((peer) => peer !== id),
    });
  }

  /** Starts a node from an explicit state, e.g. a misconfigured node that remembers peers. */
  start(id: NodeId, replicationFactor: number, start: { term: number; leader: NodeId | null; peers: readonly NodeId[] }): SimNode {
    if (this.nodes.has(id)) throw new Error(`${id} already exists`);
    const node: SimNode = {
      info: { id, joined: this.now },
      replicationFactor,
      machine: null,
      incarnation: 0,
      persisted: undefined,
      events: [],
      rejections: [],
    };
    this.nodes.set(id, node);
    this.boot(node, start);
    return node;
  }

  /** Stops the node: it no longer ticks or receives; messages to it are lost. */
  crash(id: NodeId): void {
    const node = this.node(id);
    if (!node.machine) throw new Error(`${id} is already down`);
    node.machine = null;
    node.incarnation++;
    this.history.push(`${this.now - this.epoch} ${id} crashed`);
  }

  /**
   * Restarts a crashed node from its persisted term and contacts, with no
   * leader, as src/node/main.ts does without --join. The replication factor
   * may be changed to model a misconfigured restart.
   */
  restart(id: NodeId, replicationFactor?: number): void {
    const node = this.node(id);
    if (node.machine) throw new Error(`${id} is running`);
    if (replicationFactor !== undefined) node.replicationFactor = replicationFactor;
    const persisted = node.persisted ?? { term: 0, peers: [] };
    this.history.push(`${this.now - this.epoch} ${id} restarted`);
    this.boot(node, { term: persisted.term, leader: null, peers: persisted.peers.filter((peer) => peer !== id) });
  }

  /** Cuts every link between nodes of different groups (nodes in no group keep their links). */
  partition(...groups: NodeId[][]): void {
    for (let i = 0; i < groups.length; i++)
      for (let j = i + 1; j < groups.length; j++) for (const a of groups[i]!) for (const b of groups[j]!) this.cuts.add(linkKey(a, b));
    this.history.push(`${this.now - this.epoch} partition ${groups.map((group) => group.join(',')).join(' | ')}`);
  }

  cut(a: NodeId, b: NodeId): void {
    this.cuts.add(linkKey(a, b));
  }

  heal(): void {
    this.cuts.clear();
    this.history.push(`${this.now - this.epoch} healed`);
  }

  isCut(a: NodeId, b: NodeId): boolean {
    return this.cuts.has(linkKey(a, b));
  }

  // ---- time -----------------------------------------------------------------

  /** Advances the virtual clock by `ms`, processing everything due on the way. */
  run(ms: number): void {
    const end = this.now + ms;
    for (let next = this.queue.peek(); next && next.at <= end; next = this.queue.peek()) this.step(this.queue.pop()!);
    this.now = end;
  }

  /**
   * Runs until `predicate` holds (checked after every step) and returns the
   * virtual ms it took; throws with the seed and the cluster state if it does
   * not hold within `maxMs`.
   */
  runUntil(predicate: () => boolean, maxMs: number, what = 'the condition'): number {
    const start = this.now;
    const end = start + maxMs;
    if (predicate()) return 0;
    for (let next = this.queue.peek(); next && next.at <= end; next = this.queue.peek()) {
      this.step(this.queue.pop()!);
      if (predicate()) return this.now - start;
    }
    this.now = end;
    if (predicate()) return maxMs;
    throw new Error(`${what} did not hold within ${maxMs} virtual ms (seed ${this.seed})\n${this.describe()}`);
  }

  // ---- observation ----------------------------------------------------------

  node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id} in the simulation`);
    return node;
  }

  machine(id: NodeId): Membership {
    const machine = this.node(id).machine;
    if (!machine) throw new Error(`${id} is down (seed ${this.seed})`);
    return machine;
  }

  running(): NodeId[] {
    return [...this.nodes.values()].filter((node) => node.machine).map((node) => node.info.id);
  }

  view(id: NodeId): NodeView {
    const machine = this.machine(id);
    const { leader, term } = machine.status();
    return { leader, term, alive: machine.aliveNodes().map((node) => node.id) };
  }

  /** The leader and term that all the given running nodes agree on, or null. */
  agreed(ids: readonly NodeId[] = this.running()): { leader: NodeId; term: number } | null {
    if (ids.length === 0) return null;
    const first = this.view(ids[0]!);
    if (first.leader === null) return null;
    for (const id of ids.slice(1)) {
      const view = this.view(id);
      if (view.leader !== first.leader || view.term !== first.term) return null;
    }
    return { leader: first.leader, term: first.term };
  }

  /** Leader events seen by one node since `since` (virtual time). */
  leaderEvents(id: NodeId, since = this.epoch): Array<{ leader: NodeId; term: number }> {
    const found: Array<{ leader: NodeId; term: number }> = [];
    for (const { at, event } of this.node(id).events) if (at >= since && event.type === 'leader') found.push({ leader: event.leader, term: event.term });
    return found;
  }

  describe(): string {
    const lines = [`t=${this.now - this.epoch}ms seed=${this.seed} cuts=[${[...this.cuts].join(' ')}] stats=${JSON.stringify(this.stats)}`];
    for (const node of this.nodes.values()) {
      if (!node.machine) {
        lines.push(`  ${node.info.id}: DOWN (persisted ${JSON.stringify(node.persisted)})`);
        continue;
      }
      const view = this.view(node.info.id);
      lines.push(`  ${node.info.id}: leader=${view.leader} term=${view.term} alive=[${view.alive.join(', ')}] contacts=[${node.machine.contacts().join(', ')}]`);
    }
    lines.push('  last events:', ...this.history.slice(-15).map((line) => `    ${line}`));
    return lines.join('\n');
  }

  // ---- internals --------------------------------------------------------------

  private boot(node: SimNode, start: { term: number; leader: NodeId | null; peers: readonly NodeId[] }): void {
    node.incarnation++;
    node.machine = new Membership(
      {
        self: node.info,
        replicationFactor: node.replicationFactor,
        heartbeatIntervalMs: this.options.heartbeatIntervalMs,
        failureTimeoutMs: this.options.failureTimeoutMs,
        clusterId: null,
      },
      { now: this.now, ...start },
    );
    // The driver's start(): one step at once, then one every tickMs.
    this.schedule({ at: this.now, kind: 'tick', node: node.info.id, incarnation: node.incarnation });
  }

  private step(item: Pending): void {
    this.process(item);
    this.afterStep?.();
  }

  private schedule(item: Unsequenced): void {
    this.queue.push({ ...item, seq: this.seq++ });
  }

  private process(item: Pending): void {
    this.now = Math.max(this.now, item.at);
    if (item.kind === 'tick') {
      const node = this.node(item.node);
      if (!node.machine || node.incarnation !== item.incarnation) return;
      node.machine.tick(this.now);
      this.flush(node);
      this.schedule({ at: this.now + this.options.tickMs, kind: 'tick', node: item.node, incarnation: item.incarnation });
      return;
    }
    if (this.isCut(item.from, item.to)) {
      this.stats.cut++;
      return;
    }
    const target = this.node(item.to);
    if (!target.machine || (item.kind === 'answer' && target.incarnation !== item.requesterIncarnation)) {
      this.stats.toCrashed++;
      return;
    }
    this.stats.delivered++;
    if (item.kind === 'answer') {
      // The driver ignores the result of receiving an answer.
      target.machine.receive(this.now, item.gossip, true, item.answerTo);
      this.flush(target);
      return;
    }
    const result = target.machine.receive(this.now, item.gossip);
    const answer = target.machine.gossip();
    this.flush(target);
    if (!result.accepted) {
      // HTTP 409 with the reason: the sender only logs it.
      target.rejections.push({ at: this.now, from: item.from, reason: result.reason });
      return;
    }
    const requester = this.nodes.get(item.from);
    this.send({ kind: 'answer', from: item.to, to: item.from, gossip: answer, requesterIncarnation: requester?.incarnation ?? -1, answerTo: item.sentAt });
  }

  private send(
    message:
      | { kind: 'answer'; from: NodeId; to: NodeId; gossip: Gossip; requesterIncarnation: number; answerTo: number }
      | { kind: 'request'; from: NodeId; to: NodeId; gossip: Gossip; sentAt: number },
  ): void {
    this.stats.sent++;
    if (this.options.dropRate > 0 && this.rng() < this.options.dropRate) {
      this.stats.dropped++;
      return;
    }
    if (this.isCut(message.from, message.to)) {
      this.stats.cut++;
      return;
    }
    const { minDelayMs, maxDelayMs } = this.options;
    const delay = minDelayMs + Math.floor(this.rng() * (maxDelayMs - minDelayMs + 1));
    // Serialised like JSON over HTTP: no object is shared between nodes.
    this.schedule({ ...message, gossip: structuredClone(message.gossip), at: this.now + delay });
  }

  /** The driver's flush(): send the outbox, record and persist events. */
  private flush(node: SimNode): void {
    const machine = node.machine;
    if (!machine) return;
    const { messages, events } = machine.drain();
    for (const { to, gossip, at } of messages) this.send({ kind: 'request', from: node.info.id, to, gossip, sentAt: at });
    if (events.length === 0) return;
    for (const event of events) {
      node.events.push({ at: this.now, event });
      this.history.push(`${this.now - this.epoch} ${node.info.id} ${describeEvent(event)}`);
    }
    const { term } = machine.status();
    node.persisted = { term, peers: machine.contacts() };
  }
}

function describeEvent(event: MembershipEvent): string {
  if (event.type === 'node-up') return `up ${event.node.id}`;
  if (event.type === 'node-down') return `down ${event.node}`;
  if (event.type === 'cluster') return `cluster ${event.id}`;
  return `leader ${event.leader} term ${event.term} (was ${event.previous})`;
}
