import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { owners, preferenceList } from '../../src/placement/rendezvous.js';
import { isUuid4 } from '../../src/common/uuid.js';
import { mulberry32, shuffled, uuid4 } from '../../src/common/random.js';

const SEED = 0x5eed_0013;
const KEY_COUNT = 100_000;
const NODES = ['127.0.0.1:8001', '127.0.0.1:8002', '127.0.0.1:8003', '127.0.0.1:8004', '127.0.0.1:8005'];
const SIXTH = '127.0.0.1:8006';

const rng = mulberry32(SEED);
const KEYS: string[] = Array.from({ length: KEY_COUNT }, () => uuid4(rng));

function shares(replicationFactor: number, nodes: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>(nodes.map((node) => [node, 0]));
  for (const key of KEYS) for (const owner of owners(key, nodes, replicationFactor)) counts.set(owner, counts.get(owner)! + 1);
  return counts;
}

function describeShares(counts: Map<string, number>): string {
  return [...counts].map(([node, count]) => `${node}=${((100 * count) / KEY_COUNT).toFixed(2)}%`).join(', ');
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((node) => b.includes(node));
}

describe('rendezvous placement', () => {
  it('generates proper, distinct UUID4 keys from the seed', () => {
    assert.ok(KEYS.every(isUuid4), `a generated key is not a UUID4 (seed ${SEED})`);
    assert.equal(new Set(KEYS).size, KEY_COUNT);
    const replay = mulberry32(SEED);
    assert.deepEqual([uuid4(replay), uuid4(replay), uuid4(replay)], KEYS.slice(0, 3));
  });

  for (const replicationFactor of [1, 2]) {
    it(`spreads keys evenly over 5 nodes with RF=${replicationFactor} (each within ±10% of ${replicationFactor}/5)`, (t) => {
      const counts = shares(replicationFactor, NODES);
      const expected = (KEY_COUNT * replicationFactor) / NODES.length;
      const report = `RF=${replicationFactor}, ${KEY_COUNT} keys (seed ${SEED}): ${describeShares(counts)}; expected ${((100 * replicationFactor) / NODES.length).toFixed(0)}% each`;
      t.diagnostic(report);
      for (const [node, count] of counts) {
        assert.ok(Math.abs(count - expected) <= 0.1 * expected, `${node} is off by more than 10%: ${report}`);
      }
      const total = [...counts.values()].reduce((sum, count) => sum + count, 0);
      assert.equal(total, KEY_COUNT * replicationFactor, report);
    });
  }

  it('gives each key RF distinct owners, and fewer when fewer nodes are alive', () => {
    for (const key of KEYS.slice(0, 10_000)) {
      for (let replicationFactor = 1; replicationFactor <= 6; replicationFactor++) {
        const found = owners(key, NODES, replicationFactor);
        assert.equal(found.length, Math.min(replicationFactor, NODES.length));
        assert.equal(new Set(found).size, found.length, `duplicate owners for ${key}: ${found.join(', ')}`);
        assert.ok(found.every((node) => NODES.includes(node)));
        // owners are the head of the preference list, so RF=k is a prefix of RF=k+1
        assert.deepEqual(found, preferenceList(key, NODES).slice(0, replicationFactor));
      }
    }
    const key = KEYS[0]!;
    assert.deepEqual(owners(key, [NODES[2]!], 2), [NODES[2]]);
    assert.deepEqual(owners(key, [], 2), []);
    assert.equal(owners(key, NODES.slice(0, 2), 3).length, 2);
  });

  it('is deterministic whatever the order of the node list', () => {
    const orderRng = mulberry32(SEED + 1);
    for (const key of KEYS.slice(0, 5_000)) {
      const expected = preferenceList(key, NODES);
      const order = shuffled(orderRng, NODES);
      assert.deepEqual(preferenceList(key, order), expected, `order ${order.join(',')} changed the preference list of ${key}`);
      assert.deepEqual(owners(key, order, 2), expected.slice(0, 2));
    }
  });

  it('moves about RF/N of the keys to a sixth node, and only onto it (RF=2)', (t) => {
    const replicationFactor = 2;
    const grown = [...NODES, SIXTH];
    let moved = 0;
    for (const key of KEYS) {
      const before = owners(key, NODES, replicationFactor);
      const after = owners(key, grown, replicationFactor);
      if (sameSet(before, after)) continue;
      moved++;
      assert.ok(after.includes(SIXTH), `${key} moved from ${before.join(',')} to ${after.join(',')} without the new node (seed ${SEED})`);
      const kept = before.filter((node) => after.includes(node));
      assert.equal(kept.length, replicationFactor - 1, `${key} kept ${kept.length} of its old owners (seed ${SEED})`);
    }
    const expected = (KEY_COUNT * replicationFactor) / grown.length;
    const ratio = moved / expected;
    t.diagnostic(`adding ${SIXTH}: ${moved} of ${KEY_COUNT} keys changed owners (${((100 * moved) / KEY_COUNT).toFixed(2)}%, RF/N = 33.33%)`);
    assert.ok(
      ratio >= 0.8 && ratio <= 1.2,
      `${moved} of ${KEY_COUNT} keys moved (${((100 * moved) / KEY_COUNT).toFixed(2)}%), expected about ${expected.toFixed(0)} = RF/N = 2/6 (ratio ${ratio.toFixed(3)}, seed ${SEED})`,
    );
  });

  it('moves only the keys a removed node owned, keeping their other owners (RF=2)', (t) => {
    const replicationFactor = 2;
    const removed = NODES[1]!;
    const shrunk = NODES.filter((node) => node !== removed);
    let moved = 0;
    for (const key of KEYS) {
      const before = owners(key, NODES, replicationFactor);
      const after = owners(key, shrunk, replicationFactor);
      if (!before.includes(removed)) {
        assert.deepEqual(after, before, `${key} moved although ${removed} did not own it (seed ${SEED})`);
        continue;
      }
      moved++;
      const survivors = before.filter((node) => node !== removed);
      assert.ok(survivors.every((node) => after.includes(node)), `${key} lost a surviving owner: ${before.join(',')} -> ${after.join(',')}`);
      assert.equal(after.length, replicationFactor);
      assert.equal(after[replicationFactor - 1], preferenceList(key, NODES).filter((node) => node !== removed)[replicationFactor - 1]);
    }
    const expected = (KEY_COUNT * replicationFactor) / NODES.length;
    t.diagnostic(`removing ${removed}: ${moved} of ${KEY_COUNT} keys changed owners (${((100 * moved) / KEY_COUNT).toFixed(2)}%, RF/N = 40%)`);
    assert.ok(Math.abs(moved - expected) <= 0.1 * expected, `${moved} keys moved, expected about ${expected} (seed ${SEED})`);
  });
});
