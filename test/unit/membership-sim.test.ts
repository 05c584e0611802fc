// Membership, failure detection and leader election in a simulated cluster
// (test/helpers/sim.ts): virtual time, seeded network delays, drops and
// partitions. Every failure message carries the seed that replays it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Simulation } from '../helpers/sim.js';
import { Membership } from '../../src/membership/machine.js';
import { CLUSTER_NAME, type Gossip, type NodeId } from '../../src/protocol/schemas.js';

const HEARTBEAT = 1000;
const TIMEOUT = 10_000;

// Founder first, then two joiners; C sorts first (8697 < 8765 < 9876).
const A = '127.0.0.1:8765';
const B = '127.0.0.1:9876';
const C = '127.0.0.1:8697';

const SEEDS = [1, 2, 3, 17, 2024];

function newSim(seed: number, extra: { dropRate?: number } = {}): Simulation {
  return new Simulation({ seed, heartbeatIntervalMs: HEARTBEAT, failureTimeoutMs: TIMEOUT, replicationFactor: 2, ...extra });
}

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** All given nodes are running and each sees exactly `alive` (in that order) and the same leader and term. */
function converged(sim: Simulation, ids: readonly NodeId[], alive: readonly NodeId[] = ids): boolean {
  if (!sim.agreed(ids)) return false;
  return ids.every((id) => same(sim.view(id).alive, alive));
}

/** (a): founder A, then B and C join through A. */
function formCluster(seed: number): Simulation {
  const sim = newSim(seed);
  sim.found(A);
  sim.run(500);
  sim.join(B, A);
  sim.run(700);
  sim.join(C, A);
  sim.runUntil(() => converged(sim, [A, B, C]), 5 * HEARTBEAT, 'three-node convergence');
  return sim;
}

function killLeader(sim: Simulation, leader: NodeId, survivors: NodeId[], expected: NodeId): number {
  const before = sim.view(survivors[0]!).term;
  sim.crash(leader);
  const took = sim.runUntil(
    () => converged(sim, survivors) && sim.agreed(survivors)!.leader === expected,
    TIMEOUT + 3 * HEARTBEAT,
    `survivors ${survivors.join(', ')} electing ${expected}`,
  );
  const { term } = sim.agreed(survivors)!;
  assert.ok(term > before, `term did not increase: ${before} -> ${term} (seed ${sim.seed})`);
  assert.ok(took >= TIMEOUT - HEARTBEAT, `the failure was detected after only ${took} ms (seed ${sim.seed})`);
  return took;
}

describe('membership simulation', () => {
  it('(a) a founder and two joiners converge on one view and keep the founder as leader', () => {
    for (const seed of SEEDS) {
      const sim = formCluster(seed);
      for (const id of [A, B, C]) {
        const view = sim.view(id);
        assert.deepEqual(view.alive, [A, B, C], `${id} does not list the nodes in join order (seed ${seed})\n${sim.describe()}`);
        assert.equal(view.leader, A, `leadership moved away from the founder although it is alive (seed ${seed})`);
        assert.equal(view.term, 1, `seed ${seed}`);
      }
      // ...and it stays that way: C sorts first but never takes over.
      sim.run(60_000);
      assert.ok(converged(sim, [A, B, C]), `the view fell apart (seed ${seed})\n${sim.describe()}`);
      assert.equal(sim.agreed()!.leader, A);
      for (const id of [A, B, C]) {
        assert.deepEqual(sim.leaderEvents(id), id === A ? [{ leader: A, term: 1 }] : [], `unexpected leader changes on ${id} (seed ${seed})`);
        assert.ok(sim.node(id).events.every((e) => e.event.type !== 'node-down'), `a false failure on ${id} (seed ${seed})`);
      }
    }
  });

  it('(a) joining through a node that has not heard from the leader yet keeps the leader (no election)', () => {
    for (const seed of SEEDS) {
      const sim = newSim(seed);
      sim.found(A);
      sim.run(500);
      sim.join(B, A);
      sim.run(1);
      // B cannot have had an answer from A within 1 ms, so its view lists only B and C: the leader A is missing.
      assert.deepEqual(sim.view(B).alive, [B]);
      sim.join(C, B);
      assert.deepEqual(sim.view(C), { leader: A, term: 1, alive: [C] });
      sim.runUntil(() => converged(sim, [A, B, C]), 5 * HEARTBEAT, 'convergence after a join through a fresh joiner');
      sim.run(3 * TIMEOUT);
      assert.deepEqual(sim.agreed(), { leader: A, term: 1 }, `C started an election (seed ${seed})\n${sim.describe()}`);
      assert.deepEqual(sim.leaderEvents(C), [], `seed ${seed}`);
    }
  });

  it('(b) when the leader dies, the survivors agree on the alive node that sorts first, with a higher term', () => {
    for (const seed of SEEDS) {
      const sim = formCluster(seed);
      killLeader(sim, A, [B, C], C);
      assert.deepEqual(sim.agreed([B, C]), { leader: C, term: 2 }, `seed ${seed}`);
      assert.deepEqual(sim.view(B).alive, [B, C]);
    }
  });

  it('(c) when the new leader dies too, the last node leads itself', () => {
    for (const seed of SEEDS) {
      const sim = formCluster(seed);
      killLeader(sim, A, [B, C], C);
      killLeader(sim, C, [B], B);
      assert.deepEqual(sim.view(B), { leader: B, term: 3, alive: [B] }, `seed ${seed}`);
    }
  });

  it('(d) restarted nodes rejoin and adopt the current leader instead of taking over', () => {
    for (const seed of SEEDS) {
      const sim = formCluster(seed);
      killLeader(sim, A, [B, C], C);
      killLeader(sim, C, [B], B);
      sim.run(5_000);
      const since = sim.now;
      sim.restart(A); // the old founder and leader
      sim.runUntil(() => converged(sim, [A, B]), 3 * HEARTBEAT, 'the old leader rejoining');
      sim.restart(C); // sorts before B
      sim.runUntil(() => converged(sim, [A, B, C], [A, B, C]), 3 * HEARTBEAT, 'C rejoining');
      sim.run(3 * TIMEOUT);
      assert.ok(converged(sim, [A, B, C]), `seed ${seed}\n${sim.describe()}`);
      assert.deepEqual(sim.agreed(), { leader: B, term: 3 }, `a restarted node took over (seed ${seed})\n${sim.describe()}`);
      assert.deepEqual(sim.leaderEvents(B, since), [], `B saw leader changes after the restarts (seed ${seed})`);
    }
  });

  it('(d) a restarted node whose persisted term is ahead of the cluster adopts the leader instead of electing itself', () => {
    // C was cut off long enough to elect itself (term 2), crashed, and comes back to A and B, still at term 1.
    const machine = new Membership(
      { self: { id: C, joined: 2 }, replicationFactor: 2, heartbeatIntervalMs: HEARTBEAT, failureTimeoutMs: TIMEOUT, clusterId: null },
      { now: 0, term: 2, leader: null, peers: [A, B] },
    );
    const nodes = [
      { id: A, joined: 0 },
      { id: B, joined: 1 },
    ];
    const from = (id: NodeId, term: number): Gossip => ({
      cluster: CLUSTER_NAME,
      from: nodes.find((node) => node.id === id)!,
      leader: A,
      term,
      replicationFactor: 2,
      nodes,
    });
    machine.tick(0);
    // A's and B's periodic gossip arrive before the answers to C's own gossip.
    machine.receive(10, from(A, 1));
    machine.receive(20, from(B, 1));
    machine.tick(100);
    assert.deepEqual(machine.status(), { leader: null, term: 2, isLeader: false }, 'C elected itself although A and B name a live leader');
    // The answers: A and B moved to C's term on receiving its gossip.
    machine.receive(150, from(A, 2));
    assert.deepEqual(machine.status(), { leader: A, term: 2, isLeader: false });

    const seeds: number[] = [];
    for (let seed = 1; seed <= 40; seed++) {
      const sim = new Simulation({ seed, heartbeatIntervalMs: HEARTBEAT, failureTimeoutMs: TIMEOUT, dropRate: 0.3, maxDelayMs: 400 });
      sim.found(A);
      sim.run(500);
      sim.join(B, A);
      sim.run(700);
      sim.join(C, A);
      sim.run(5_000);
      sim.partition([C], [A, B]);
      sim.run(TIMEOUT + 5_000);
      sim.crash(C);
      sim.heal();
      sim.run(TIMEOUT + 5_000);
      sim.restart(C);
      sim.run(3 * TIMEOUT);
      if (sim.agreed()?.leader !== A) seeds.push(seed);
    }
    assert.deepEqual(seeds, [], 'seeds (30% drops, 1-400 ms delays) where the restarted C took over');
  });

  it('(d) after a full-cluster restart the nodes elect the one that sorts first without waiting a failure timeout', () => {
    for (const seed of SEEDS) {
      const sim = formCluster(seed);
      sim.run(5_000);
      for (const id of [A, B, C]) sim.crash(id);
      sim.run(30_000);
      sim.restart(B);
      sim.run(300);
      sim.restart(A);
      sim.run(300);
      sim.restart(C);
      const took = sim.runUntil(() => converged(sim, [A, B, C]), TIMEOUT, 'agreement after a full restart');
      assert.ok(took < 3 * HEARTBEAT, `took ${took} ms (seed ${seed})`);
      assert.equal(sim.agreed()?.leader, C, `seed ${seed}`);
      sim.run(3 * TIMEOUT);
      assert.equal(sim.agreed()?.leader, C, `seed ${seed}\n${sim.describe()}`);
    }
  });

  it('(e) a partition longer than the failure timeout heals into one leader and one term', () => {
    for (const seed of SEEDS) {
      const sim = formCluster(seed);
      sim.partition([A], [B, C]);
      sim.run(2 * TIMEOUT);
      // Both sides carry on: A still leads itself, B and C elected C.
      assert.deepEqual(sim.view(A), { leader: A, term: 1, alive: [A] }, `seed ${seed}\n${sim.describe()}`);
      assert.deepEqual(sim.agreed([B, C]), { leader: C, term: 2 }, `seed ${seed}\n${sim.describe()}`);
      sim.heal();
      sim.runUntil(() => converged(sim, [A, B, C]), 5 * HEARTBEAT, 'agreement after healing');
      assert.equal(sim.agreed()?.leader, C, `the live leader that sorts first must win (seed ${seed})`);
      sim.run(3 * TIMEOUT);
      assert.ok(converged(sim, [A, B, C]), `seed ${seed}\n${sim.describe()}`);
    }
  });

  it('(e) a follower cut off past the failure timeout elects itself, but does not take over when the partition heals', () => {
    for (const seed of SEEDS) {
      const sim = formCluster(seed);
      sim.partition([B], [A, C]);
      sim.run(2 * TIMEOUT);
      assert.equal(sim.view(B).leader, B, `B should lead its side (seed ${seed})`);
      assert.ok(sim.view(B).term > sim.agreed([A, C])!.term, `B's term should be ahead (seed ${seed})`);
      const leader = sim.agreed([A, C])!.leader;
      sim.heal();
      sim.runUntil(() => converged(sim, [A, B, C]), 5 * HEARTBEAT, 'agreement after healing');
      assert.equal(sim.agreed()?.leader, leader, `the leader of the majority sorts before B and keeps leading (seed ${seed})`);
      sim.run(3 * TIMEOUT);
      assert.ok(converged(sim, [A, B, C]), `seed ${seed}\n${sim.describe()}`);
    }
  });

  it('(e) a node paused longer than the failure timeout does not drop its peers or elect itself when it wakes', () => {
    for (const seed of SEEDS) {
      const sim = formCluster(seed);
      const machine = sim.machine(B);
      const before = machine.status();
      machine.tick(sim.now + 3 * TIMEOUT);
      assert.deepEqual(machine.status(), before, `seed ${seed}`);
      assert.deepEqual(machine.drain().events, [], `seed ${seed}`);
    }
  });

  it('(e) a node restarted inside a partition elects itself, then rejoins when the partition heals', () => {
    for (const seed of SEEDS) {
      const sim = formCluster(seed);
      sim.crash(A);
      sim.partition([A], [B, C]);
      sim.run(HEARTBEAT);
      sim.restart(A);
      sim.run(3 * TIMEOUT);
      assert.equal(sim.view(A).leader, A, `A should lead its side after waiting a failure timeout (seed ${seed})`);
      assert.equal(sim.agreed([B, C])?.leader, C, `seed ${seed}\n${sim.describe()}`);
      sim.heal();
      sim.runUntil(() => converged(sim, [A, B, C]), 5 * HEARTBEAT, 'agreement after healing');
      sim.run(3 * TIMEOUT);
      assert.ok(converged(sim, [A, B, C]), `seed ${seed}\n${sim.describe()}`);
    }
  });

  it('(e) a partition shorter than the failure timeout changes nothing', () => {
    for (const seed of SEEDS) {
      const sim = formCluster(seed);
      sim.run(2 * HEARTBEAT);
      const since = sim.now;
      sim.partition([A], [B, C]);
      sim.run(TIMEOUT - 2 * HEARTBEAT);
      sim.heal();
      sim.run(3 * TIMEOUT);
      assert.deepEqual(sim.agreed(), { leader: A, term: 1 }, `seed ${seed}`);
      for (const id of [A, B, C]) assert.deepEqual(sim.node(id).events.filter((e) => e.at >= since), [], `${id} reacted (seed ${seed})`);
    }
  });

  it('(f) 5% message loss never causes a false failure detection with a timeout of 10 heartbeats', () => {
    const ids = ['127.0.0.1:8001', '127.0.0.1:8002', '127.0.0.1:8003', '127.0.0.1:8004', '127.0.0.1:8005'];
    for (const seed of SEEDS.slice(0, 3)) {
      const sim = newSim(seed, { dropRate: 0.05 });
      sim.found(ids[2]!);
      for (const id of ids.filter((id) => id !== ids[2])) {
        sim.run(300);
        sim.join(id, ids[2]!);
      }
      sim.runUntil(() => sim.running().every((id) => sim.view(id).alive.length === ids.length) && sim.agreed() !== null, 10 * HEARTBEAT, 'five-node convergence');
      sim.run(10 * 60_000);
      for (const id of ids) {
        const downs = sim.node(id).events.filter((e) => e.event.type === 'node-down');
        assert.deepEqual(downs, [], `${id} declared a live node dead (seed ${seed}, ${JSON.stringify(sim.stats)})`);
      }
      assert.deepEqual(sim.agreed(), { leader: ids[2], term: 1 }, `seed ${seed}`);
      assert.ok(sim.stats.dropped > 0.04 * sim.stats.sent, `drops were not simulated (seed ${seed}): ${JSON.stringify(sim.stats)}`);
    }
  });

  it('(g) gossip with another replication factor is rejected and its sender never counts as alive', () => {
    const seed = SEEDS[0]!;
    const sim = formCluster(seed);
    const stranger = '127.0.0.1:7000'; // would sort first and lead if it were accepted
    const expected = "replication factor 3 does not match the cluster's replication factor 2";
    const gossip: Gossip = { cluster: CLUSTER_NAME, from: { id: stranger, joined: 0 }, leader: stranger, term: 99, replicationFactor: 3, nodes: [{ id: stranger, joined: 0 }] };
    assert.deepEqual(sim.machine(A).receive(sim.now, gossip), { accepted: false, reason: expected });
    assert.deepEqual(sim.machine(A).status(), { leader: A, term: 1, isLeader: true }, 'a rejected gossip must not touch the leader or term');
    assert.ok(!sim.machine(A).contacts().includes(stranger));
    assert.throws(() => sim.join(stranger, A, 3), { message: expected });

    // A node started with RF 3 that remembers the cluster's nodes, and a member restarted with RF 3.
    sim.start(stranger, 3, { term: 0, leader: null, peers: [A, B, C] });
    sim.crash(B);
    sim.restart(B, 3);
    sim.run(5 * TIMEOUT);
    for (const id of [A, C]) {
      const view = sim.view(id);
      assert.ok(!view.alive.includes(stranger) && !view.alive.includes(B), `${id} counts a mismatched node as alive: ${view.alive.join(', ')} (seed ${seed})`);
      assert.ok(sim.node(id).rejections.length > 0, `${id} never rejected anything (seed ${seed})`);
      assert.ok(
        sim.node(id).rejections.every((r) => r.reason === expected && (r.from === stranger || r.from === B)),
        `unexpected rejections on ${id}: ${JSON.stringify(sim.node(id).rejections.slice(0, 3))}`,
      );
    }
    assert.deepEqual(sim.agreed([A, C]), { leader: A, term: 1 }, `the mismatched nodes disturbed the leadership (seed ${seed})\n${sim.describe()}`);
    // The two RF 3 nodes may find each other, but never the RF 2 nodes.
    for (const id of [stranger, B]) {
      assert.ok(sim.node(id).rejections.every((r) => r.reason === "replication factor 2 does not match the cluster's replication factor 3"));
      assert.ok(!sim.view(id).alive.some((n) => n === A || n === C), `${id} was accepted by the RF 2 cluster (seed ${seed})\n${sim.describe()}`);
    }
  });

  it('replays identically from a seed', () => {
    const story = (seed: number) => {
      const sim = newSim(seed, { dropRate: 0.1 });
      sim.found(A);
      sim.join(B, A);
      sim.run(333);
      sim.join(C, B);
      sim.run(5_000);
      sim.partition([A, C], [B]);
      sim.run(15_000);
      sim.crash(C);
      sim.heal();
      sim.run(15_000);
      sim.restart(C);
      sim.run(20_000);
      return { history: sim.history, stats: sim.stats, views: sim.running().map((id) => sim.view(id)) };
    };
    assert.deepEqual(story(99), story(99));
    assert.notDeepEqual(story(99).history, story(100).history, 'different seeds should give different timings');
  });

  // ---- (i) the leader's read lease --------------------------------------------------

  /** A lease holder's alive view has no other leader in it: one that would be an owner its own reads do not ask. */
  function assertLeaseExclusive(sim: Simulation): void {
    for (const holder of sim.running()) {
      if (sim.machine(holder).readLease(sim.now) === null) continue;
      for (const other of sim.view(holder).alive) {
        if (other === holder || !sim.node(other).machine) continue;
        assert.ok(!sim.machine(other).status().isLeader, `${holder} holds the read lease while ${other}, which it counts alive, leads (seed ${sim.seed})\n${sim.describe()}`);
      }
    }
  }

  it('(i) the leader holds the read lease while its followers answer; followers never hold one', () => {
    for (const seed of SEEDS) {
      const sim = new Simulation({ seed, heartbeatIntervalMs: HEARTBEAT, failureTimeoutMs: TIMEOUT, replicationFactor: 2, dropRate: 0.05 });
      sim.found(A);
      assert.notEqual(sim.machine(A).readLease(sim.now), null, 'a node alone holds the lease at once');
      sim.run(500);
      sim.join(B, A);
      sim.run(200);
      sim.join(C, A);
      sim.runUntil(() => converged(sim, [A, B, C], [A, B, C]) && sim.machine(A).readLease(sim.now) !== null, 5 * HEARTBEAT, 'the lease with three nodes');
      const epoch = sim.machine(A).readLease(sim.now);
      let held = 0;
      let steps = 0;
      sim.afterStep = () => {
        steps++;
        if (sim.machine(A).readLease(sim.now) === epoch) held++;
        for (const follower of [B, C]) assert.equal(sim.machine(follower).readLease(sim.now), null, `seed ${seed}`);
      };
      sim.run(30_000);
      // 5 % of the messages are lost, yet one answer per lease period keeps it.
      assert.equal(held, steps, `the lease lapsed in a healthy cluster (seed ${seed})\n${sim.describe()}`);
    }
  });

  it('(i) a leader cut off from its followers loses the lease before either of them elects another leader', () => {
    for (const seed of SEEDS) {
      const sim = formCluster(seed);
      sim.runUntil(() => sim.machine(A).readLease(sim.now) !== null, 2 * HEARTBEAT, 'the lease');
      const before = sim.machine(A).readLease(sim.now);
      sim.partition([A], [B, C]);
      const cut = sim.now;
      let lapsed: number | null = null;
      sim.afterStep = () => {
        if (lapsed === null && sim.machine(A).readLease(sim.now) === null) lapsed = sim.now;
      };
      sim.runUntil(() => sim.agreed([B, C])?.leader === C, TIMEOUT + 3 * HEARTBEAT, 'an election on the other side');
      assert.ok(lapsed !== null, `A still held the lease when C was elected (seed ${seed})\n${sim.describe()}`);
      assert.ok(lapsed - cut <= TIMEOUT, `seed ${seed}`);
      // Back together, A follows C; if it ever leads again, its lease is a new one.
      sim.heal();
      sim.runUntil(() => converged(sim, [A, B, C]), 5 * HEARTBEAT, 'agreement after healing');
      assert.equal(sim.machine(A).readLease(sim.now), null, `seed ${seed}`);
      assert.notEqual(sim.machine(C).readLease(sim.now + HEARTBEAT), before, `seed ${seed}`);
    }
  });

  it('(i) an answer naming another leader, another term or leaving us out renews nothing', () => {
    const machine = new Membership(
      { self: { id: A, joined: 1 }, replicationFactor: 2, heartbeatIntervalMs: HEARTBEAT, failureTimeoutMs: TIMEOUT, clusterId: null },
      { now: 0, term: 3, leader: A, peers: [B] },
    );
    const answer = (changes: Partial<Gossip>): Gossip => ({
      cluster: CLUSTER_NAME,
      from: { id: B, joined: 2 },
      leader: A,
      term: 3,
      replicationFactor: 2,
      nodes: [
        { id: A, joined: 1 },
        { id: B, joined: 2 },
      ],
      ...changes,
    });
    machine.receive(10, answer({ nodes: [{ id: B, joined: 2 }] }), true, 5);
    assert.equal(machine.readLease(20), null, 'B does not count us alive yet');
    machine.receive(30, answer({ leader: null }), true, 25);
    assert.equal(machine.readLease(40), null, 'B follows no one');
    machine.receive(40, answer({ term: 2 }), true, 35);
    assert.equal(machine.readLease(45), null, 'B names us in an older term');
    machine.receive(50, answer({}), false);
    assert.equal(machine.readLease(60), null, 'a request is no answer to our gossip');
    machine.receive(70, answer({}), true, 65);
    const epoch = machine.readLease(80);
    assert.notEqual(epoch, null);
    assert.equal(machine.readLease(65 + TIMEOUT * 0.8 - 1), epoch, 'the lease runs from when our gossip left');
    assert.equal(machine.readLease(65 + TIMEOUT * 0.8), null, 'and ends before B may drop us');
    machine.receive(TIMEOUT, answer({}), true, TIMEOUT - 5);
    const renewed = machine.readLease(TIMEOUT);
    assert.ok(renewed !== null && renewed !== epoch, 'after a lapse the lease is a new one');
    machine.receive(TIMEOUT + 10, answer({ term: 4 }), true, TIMEOUT + 5);
    const next = machine.readLease(TIMEOUT + 20);
    assert.ok(next !== null && next !== renewed, 'a higher term starts a new one');
  });

  // ---- (h) property: random faults, then agreement --------------------------------

  const IDS = ['127.0.0.1:8765', '127.0.0.1:9876', '127.0.0.1:8697', '127.0.0.1:10000', '127.0.0.1:8001'];
  const FAULT_WINDOW = 60_000;
  const PROPERTY_SEED = Number(process.env.SIM_PROPERTY_SEED ?? 13013);
  const PROPERTY_RUNS = Number(process.env.SIM_PROPERTY_RUNS ?? 60);

  const fault = fc.record({
    at: fc.integer({ min: 0, max: FAULT_WINDOW }),
    kind: fc.constantFrom('crash', 'restart', 'partition', 'heal'),
    node: fc.nat({ max: IDS.length - 1 }),
    /** The partition group of each node. */
    groups: fc.array(fc.nat({ max: 2 }), { minLength: IDS.length, maxLength: IDS.length }),
  });
  const scenario = fc.record({
    seed: fc.nat(),
    size: fc.integer({ min: 2, max: IDS.length }),
    faults: fc.array(fault, { maxLength: 14 }),
    restartAtEnd: fc.boolean(),
    dropRate: fc.constantFrom(0, 0.01, 0.05),
  });

  it('(h) after random crashes, restarts and partitions end, all running nodes agree on a running leader', () => {
    fc.assert(
      fc.property(scenario, ({ seed, size, faults, restartAtEnd, dropRate }) => {
        const ids = IDS.slice(0, size);
        const sim = newSim(seed, { dropRate });
        sim.found(ids[0]!);
        for (const id of ids.slice(1)) {
          sim.run(200);
          sim.join(id, ids[0]!);
        }
        sim.run(2_000);
        sim.afterStep = () => assertLeaseExclusive(sim);
        const start = sim.now;
        for (const f of [...faults].sort((x, y) => x.at - y.at)) {
          sim.run(start + f.at - sim.now);
          const id = ids[f.node % size]!;
          const isUp = sim.node(id).machine !== null;
          if (f.kind === 'crash' && isUp) sim.crash(id);
          else if (f.kind === 'restart' && !isUp) sim.restart(id);
          else if (f.kind === 'partition') sim.partition(...[0, 1, 2].map((g) => ids.filter((_, i) => f.groups[i] === g)));
          else if (f.kind === 'heal') sim.heal();
        }
        sim.run(start + FAULT_WINDOW - sim.now);
        // The faults end: links heal, crashed nodes stay down or come back.
        sim.heal();
        sim.dropRate = 0;
        for (const id of ids) if (!sim.node(id).machine && (restartAtEnd || sim.running().length === 0)) sim.restart(id);
        const running = sim.running();
        const settled = () => {
          const agreed = sim.agreed(running);
          return agreed !== null && running.includes(agreed.leader) && running.every((id) => sim.view(id).alive.length === running.length);
        };
        // Silences that began before the end still run out for one failure timeout.
        sim.run(TIMEOUT + HEARTBEAT);
        sim.runUntil(settled, 10 * TIMEOUT, `agreement of ${running.join(', ')} after the faults`);
        const agreed = sim.agreed(running);
        sim.run(3 * TIMEOUT);
        assert.ok(settled(), `agreement did not last (seed ${seed})\n${sim.describe()}`);
        assert.deepEqual(sim.agreed(running), agreed, `the leader changed with no faults (seed ${seed})\n${sim.describe()}`);
      }),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });
});
