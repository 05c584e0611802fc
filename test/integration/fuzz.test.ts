// Property-based fuzzing of every payload a running node accepts, public and
// internal (signed like a member's, so the payload checks are what is tested):
// random and mutated messages never crash the node or make it answer 500,
// never change its membership or leader, and never leave anything invalid in
// its store.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { LocalCluster } from '../../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../../src/local-cluster/ports.js';
import { isUuid4 } from '../../src/common/uuid.js';
import { isJson } from '../../src/common/values.js';
import { MAX_TERM } from '../../src/protocol/schemas.js';
import { fastCluster, http, internalPost, json, nodeIds } from '../helpers/integration.js';
import { GOSSIP_PATH, REPLICA_READ_PATH, REPLICA_WRITE_PATH, SYNC_DIGEST_PATH, SYNC_KEYS_PATH, documentPath } from '../../src/protocol/paths.js';

// The third port stays unused: an id of no node, that nothing answers on.
const PORTS = await allocatePorts(3);
const [ONE, TWO, NOBODY] = nodeIds(PORTS) as [string, string, string];
const NODES = [ONE, TWO];
const MAX_VALUE = 4096;
const RUNS = 60;

const KEY = '0d5d3807-5fbf-4228-a657-5a091c4e497f';
const anyKey = fc.oneof(fc.uuid({ version: 4 }), fc.constant(KEY), fc.string({ maxLength: 40 }), fc.constantFrom('', '../../etc/passwd', KEY.toUpperCase()));
const anyNumber = fc.oneof(fc.integer(), fc.nat(), fc.double(), fc.constantFrom(1e308, Number.MAX_SAFE_INTEGER, -1, 2 ** 53, 0, 1));
const anyId = fc.oneof(fc.constantFrom(ONE, TWO, NOBODY, 'x:1'), fc.string({ maxLength: 20 }));
const anyValue = fc.oneof(fc.json({ maxDepth: 3 }), fc.string({ maxLength: 50 }), fc.constant(null), fc.constant(JSON.stringify('y'.repeat(MAX_VALUE))));
const anyVersion = fc.oneof(fc.tuple(anyNumber, anyNumber, anyId), fc.array(fc.anything(), { maxLength: 4 }));
const anything = fc.anything({ maxDepth: 3 });

/** A valid message of each kind, and its fields mutated. */
const gossips = fc.record({
  cluster: fc.oneof(fc.constant('Warehouse 13'), fc.string({ maxLength: 15 })),
  from: fc.record({ id: anyId, joined: anyNumber }),
  leader: fc.oneof(fc.constant(null), anyId),
  term: anyNumber,
  replicationFactor: fc.oneof(fc.constant(2), anyNumber),
  nodes: fc.array(fc.record({ id: anyId, joined: anyNumber }), { maxLength: 5 }),
  repair: fc.option(fc.record({ underReplicated: anyNumber, transfersInProgress: anyNumber, hintsPending: anyNumber, syncedFor: fc.array(anyId, { maxLength: 3 }) }), { nil: undefined }),
  clusterId: fc.option(fc.oneof(fc.uuid(), fc.string({ maxLength: 10 })), { nil: undefined }),
});
const writes = fc.record({
  records: fc.array(fc.record({ key: anyKey, version: anyVersion, value: anyValue }), { maxLength: 4 }),
  hintFor: fc.option(fc.array(fc.oneof(fc.constant(null), anyId), { maxLength: 4 }), { nil: undefined }),
});
const reads = fc.record({ keys: fc.array(anyKey, { maxLength: 5 }) });
const syncs = fc.record({
  from: anyId,
  members: fc.array(anyId, { maxLength: 4 }),
  buckets: fc.oneof(fc.array(fc.integer({ min: -5, max: 70_000 }), { maxLength: 70 }), fc.array(fc.record({ bucket: anyNumber, hash: fc.string({ maxLength: 30 }) }), { maxLength: 5 })),
});

describe('fuzzing a running node (2 nodes, RF 2)', { timeout: 240_000 }, () => {
  let cluster: LocalCluster;
  let leaderBefore: string;
  let termBefore: number;

  before(async () => {
    cluster = fastCluster('fuzz', 2, { extraArgs: ['--max-value-size', String(MAX_VALUE)] });
    await cluster.start(PORTS.slice(0, 2));
    leaderBefore = await cluster.waitForLeader();
    termBefore = (await cluster.heartbeat(ONE))!.term;
  });

  after(() => cluster.stop());

  async function post(path: string, body: unknown): Promise<void> {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const answer = await internalPost(ONE, path, text ?? 'null', undefined, 30_000);
    assert.ok(answer.status < 500, `${path} answered ${answer.status}: ${answer.text.slice(0, 200)} to ${text?.slice(0, 200)}`);
  }

  for (const [path, payloads] of [
    [GOSSIP_PATH, gossips],
    [REPLICA_WRITE_PATH, writes],
    [REPLICA_READ_PATH, reads],
    [SYNC_DIGEST_PATH, syncs],
    [SYNC_KEYS_PATH, syncs],
  ] as const) {
    it(`${path}: valid-shaped, mutated and random payloads never get a 500`, async () => {
      await fc.assert(fc.asyncProperty(fc.oneof(payloads as fc.Arbitrary<unknown>, anything, fc.string({ maxLength: 30 })), (body) => post(path, body)), { numRuns: RUNS });
    });
  }

  it('public routes: random keys and bodies never get a 500', async () => {
    await fc.assert(
      fc.asyncProperty(anyKey, fc.oneof(fc.string({ maxLength: 60 }), fc.json({ maxDepth: 3 })), fc.constantFrom('GET', 'PUT', 'DELETE'), async (key, body, method) => {
        const answer = await http(method as 'GET', `http://${leaderBefore}${documentPath(key)}`, method === 'PUT' ? body : undefined);
        assert.ok(answer.status < 500, `${method} ${key}: ${answer.status} ${answer.text.slice(0, 200)}`);
        if (answer.status >= 400) assert.equal(typeof json(answer).error, 'string');
      }),
      { numRuns: RUNS },
    );
  });

  it('afterwards: the same nodes and leader, and only valid records stored', async () => {
    assert.equal(cluster.running().length, 2, 'no node crashed');
    for (const node of NODES) {
      const beat = (await cluster.heartbeat(node))!;
      assert.deepEqual(beat.nodes.map((info) => info.id).sort(), [...NODES].sort());
      assert.equal(beat.leader, leaderBefore);
      assert.equal(beat.term, termBefore);
    }
    // Every record of every bucket, listed the way anti-entropy lists them.
    for (const node of NODES) {
      const keys: string[] = [];
      for (let start = 0; start < 4096; start += 64) {
        const buckets = Array.from({ length: 64 }, (_, i) => start + i);
        const answer = await internalPost(node, SYNC_KEYS_PATH, JSON.stringify({ from: NODES.find((other) => other !== node), members: NODES, buckets }));
        assert.equal(answer.status, 200, answer.text);
        for (const entry of json(answer).entries as { key: string; version: [number, number, string] }[]) {
          assert.ok(isUuid4(entry.key) && entry.key === entry.key.toLowerCase(), `stored key ${entry.key}`);
          assert.ok(entry.version[0] <= MAX_TERM && entry.version[1] <= (Date.now() + 3_600_000) * 1024, `version ${entry.version.join('.')}`);
          keys.push(entry.key);
        }
      }
      for (let start = 0; start < keys.length; start += 1000) {
        const answer = await internalPost(node, REPLICA_READ_PATH, JSON.stringify({ keys: keys.slice(start, start + 1000) }));
        for (const stored of json(answer).records as ({ value: string | null } | null)[]) {
          if (stored?.value != null) assert.ok(isJson(stored.value) && Buffer.byteLength(stored.value) <= MAX_VALUE, `stored value ${stored.value.slice(0, 80)}`);
        }
      }
    }
  });
});
