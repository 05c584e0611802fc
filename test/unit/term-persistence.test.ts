// etcd raft's MustSync rule in the membership driver: a term is on disk before
// any gossip carries it and before a write may use it, including a term
// change that emits no membership event; and the machine refuses to lower it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Membership } from '../../src/membership/machine.js';
import { MembershipDriver, type GossipTransport, type PersistedMembership } from '../../src/membership/driver.js';
import { CLUSTER_NAME, type Gossip } from '../../src/protocol/schemas.js';
import { realClock, realTimers } from '../../src/common/timers.js';
import { createLogger } from '../../src/common/logger.js';

const SELF = { id: '127.0.0.1:7001', joined: 1 };
const PEER = { id: '127.0.0.1:7002', joined: 2 };

function gossip(term: number, leader: string | null): Gossip {
  return { cluster: CLUSTER_NAME, from: PEER, leader, term, replicationFactor: 2, nodes: [PEER] };
}

function setup() {
  const machine = new Membership(
    { self: SELF, replicationFactor: 2, heartbeatIntervalMs: 100, failureTimeoutMs: 1000, clusterId: null },
    { now: Date.now(), term: 3, leader: PEER.id, peers: [PEER.id] },
  );
  // The peer answered at its own address once: its requests count from now on.
  machine.receive(Date.now(), gossip(3, PEER.id), true);
  const log: string[] = [];
  const pending: (() => void)[] = [];
  const persisted: number[] = [];
  const transport: GossipTransport = {
    exchange: (_to, body) => {
      log.push(`send term ${body.term}`);
      return new Promise(() => {});
    },
    heard: () => {},
  };
  const driver = new MembershipDriver(machine, transport, {
    tickMs: 10_000,
    clock: realClock,
    timers: realTimers,
    logger: createLogger('test', 'silent'),
    persistedTerm: 3,
    repairStatus: () => ({ underReplicated: 0, transfersInProgress: 0, hintsPending: 0, syncedFor: [], cleanPasses: 0 }),
    persist: ({ term }: PersistedMembership) =>
      new Promise<void>((resolve) => {
        log.push(`persist term ${term} started`);
        pending.push(() => {
          persisted.push(term);
          log.push(`persist term ${term} done`);
          resolve();
        });
      }),
  });
  const finishPersists = async () => {
    while (pending.length > 0) {
      pending.shift()!();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { machine, driver, log, persisted, finishPersists };
}

describe('term persistence (MustSync)', () => {
  it('answers gossip carrying a new term only once that term is on disk, even without a membership event', async () => {
    const { machine, driver, log, finishPersists } = setup();
    // The peer answered our gossip once: heard from its own address (node-up).
    machine.receive(Date.now(), gossip(3, PEER.id));
    await driver.receiveGossip(gossip(3, PEER.id));
    await finishPersists();
    log.length = 0;
    // A higher term with no leader named: the term moves, no event is emitted.
    let answered = false;
    const answer = driver.receiveGossip(gossip(4, null)).then((reply) => {
      answered = true;
      return reply;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(answered, false, 'not answered before the term is persisted');
    assert.deepEqual(log, ['persist term 4 started']);
    await finishPersists();
    assert.equal((await answer).answer.term, 4);
  });

  it('a write waits for its term to be on disk', async () => {
    const { machine, driver, persisted, finishPersists } = setup();
    machine.receive(Date.now(), gossip(3, PEER.id));
    await driver.receiveGossip(gossip(3, PEER.id));
    await finishPersists();
    void driver.receiveGossip(gossip(5, null));
    let term: number | null = null;
    const durable = driver.durableTerm().then((value) => (term = value));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(term, null);
    await finishPersists();
    await durable;
    assert.equal(term, 5);
    assert.ok(persisted.includes(5));
  });

  it('the machine never lowers its term', () => {
    const { machine } = setup();
    machine.receive(Date.now(), gossip(5, PEER.id));
    machine.receive(Date.now(), gossip(2, PEER.id));
    assert.equal(machine.status().term, 5, 'a lower term from gossip is ignored');
  });
});
