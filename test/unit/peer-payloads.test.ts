import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Membership, DEPARTED_TTL_MS } from '../../src/membership/machine.js';
import { CLUSTER_NAME, MAX_MEMBERS, type Gossip } from '../../src/protocol/schemas.js';
import { BadPeerRequest, MAX_CLOCK_AHEAD_MS, MAX_TERM_STEP, checkReplicaWrite, checkSyncRequest, recordProblem } from '../../src/security/peer-payloads.js';

const KEY = '0d5d3807-5fbf-4228-a657-5a091c4e497f';
const NOW = 1_800_000_000_000;
const LIMITS = { maxValueBytes: 100, term: 5, now: NOW };

describe('records from peers', () => {
  it('accepts a current record or tombstone', () => {
    assert.equal(recordProblem({ key: KEY, version: [5, NOW * 1024, '127.0.0.1:1'], value: '{"a": 1}' }, LIMITS), null);
    assert.equal(recordProblem({ key: KEY, version: [6, NOW * 1024 + 5, '127.0.0.1:1'], value: null }, LIMITS), null);
  });

  it('refuses versions from the far future, values that are not JSON or too large', () => {
    const cases: [string, [number, number, string], string | null][] = [
      ['term jump', [5 + MAX_TERM_STEP + 1, NOW * 1024, 'a:1'], '{}'],
      ['clock ahead', [5, (NOW + MAX_CLOCK_AHEAD_MS + 1) * 1024, 'a:1'], '{}'],
      ['max clock', [5, Number.MAX_SAFE_INTEGER, 'a:1'], '{}'],
      ['not JSON', [5, NOW * 1024, 'a:1'], '\u001b[2Jhello'],
      ['too large', [5, NOW * 1024, 'a:1'], JSON.stringify('x'.repeat(100))],
      ['empty', [5, NOW * 1024, 'a:1'], ''],
    ];
    for (const [name, version, value] of cases) assert.notEqual(recordProblem({ key: KEY, version, value }, LIMITS), null, name);
    assert.throws(() => checkReplicaWrite({ records: [{ key: KEY, version: [5, 1, 'a:1'], value: '{}' }], hintFor: [] }, LIMITS), BadPeerRequest);
    assert.throws(() => checkReplicaWrite({ records: [{ key: KEY, version: [5, 1, 'a:1'], value: '{' }] }, LIMITS), /not valid JSON/);
  });

  it('a sync request comes from a member of the membership it names, which includes the receiver', () => {
    assert.doesNotThrow(() => checkSyncRequest({ from: 'a:1', members: ['a:1', 'b:2'] }, 'b:2'));
    assert.throws(() => checkSyncRequest({ from: 'x:1', members: ['a:1', 'b:2'] }, 'b:2'), /sender/);
    assert.throws(() => checkSyncRequest({ from: 'a:1', members: ['a:1', 'c:3'] }, 'b:2'), /this node/);
  });
});

function gossipFrom(id: string, overrides: Partial<Gossip> = {}): Gossip {
  return { cluster: CLUSTER_NAME, from: { id, joined: 1 }, leader: null, term: 1, replicationFactor: 2, nodes: [{ id, joined: 1 }], ...overrides };
}

function machine(): Membership {
  return new Membership(
    { self: { id: 'self:1', joined: 0 }, replicationFactor: 2, heartbeatIntervalMs: 100, failureTimeoutMs: 1000, clusterId: null },
    { now: 0, term: 1, leader: null, peers: [] },
  );
}

describe('membership evidence', () => {
  it('a node named in a request is contacted, and alive only once it answers at its own address', () => {
    const m = machine();
    m.drain();
    assert.deepEqual(m.receive(10, gossipFrom('new:2'), false), { accepted: true });
    assert.deepEqual(m.aliveIds(), ['self:1']);
    m.tick(200);
    assert.ok(m.drain().messages.some((message) => message.to === 'new:2'), 'it is contacted');
    m.receive(210, gossipFrom('new:2'), true);
    assert.deepEqual([...m.aliveIds()].sort(), ['new:2', 'self:1']);
  });

  it('a term far beyond its own is refused, and a node with one never counts', () => {
    const m = machine();
    const term = m.status().term;
    const result = m.receive(10, gossipFrom('new:2', { term: term + MAX_TERM_STEP + 1, leader: 'new:2' }), true);
    assert.equal(result.accepted, false);
    assert.equal(m.status().term, term);
    assert.deepEqual(m.aliveIds(), ['self:1']);
  });

  it('contacts a bounded number of nodes, and forgets departed ones after a while', () => {
    const m = machine();
    const many = Array.from({ length: MAX_MEMBERS * 4 }, (_, i) => ({ id: `10.0.${i >> 8}.${i & 255}:1`, joined: 1 }));
    m.receive(10, gossipFrom('peer:2', { nodes: many.slice(0, MAX_MEMBERS) }), true);
    m.receive(11, gossipFrom('peer:3', { nodes: many.slice(MAX_MEMBERS) }), true);
    assert.ok(m.contacts().length < MAX_MEMBERS, `${m.contacts().length} contacts`);
    for (let now = 100; now <= 5000; now += 100) m.tick(now);
    assert.ok(m.contacts().length > 0, 'departed nodes are still contacted for a while');
    m.tick(5000 + DEPARTED_TTL_MS + 1);
    assert.deepEqual(m.contacts(), []);
  });
});
