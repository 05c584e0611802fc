import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HybridClock, compareVersions, isNewer } from '../../src/replication/version.js';
import type { Version } from '../../src/protocol/schemas.js';
import { mulberry32, shuffled } from '../../src/common/random.js';

const sign = (n: number): number => Math.sign(n);

describe('compareVersions', () => {
  it('orders by term first, whatever the clock and writer', () => {
    assert.equal(sign(compareVersions([2, 0, '127.0.0.1:1'], [1, 9_999_999, '127.0.0.1:9'])), 1);
    assert.equal(sign(compareVersions([1, 9_999_999, '127.0.0.1:9'], [2, 0, '127.0.0.1:1'])), -1);
  });

  it('orders by clock within a term, whatever the writer', () => {
    assert.equal(sign(compareVersions([3, 101, '127.0.0.1:1'], [3, 100, '127.0.0.1:9'])), 1);
    assert.equal(sign(compareVersions([3, 100, '127.0.0.1:9'], [3, 101, '127.0.0.1:1'])), -1);
  });

  it('breaks a tie of term and clock by writer id, and is zero only for equal versions', () => {
    assert.equal(sign(compareVersions([3, 100, '127.0.0.1:9'], [3, 100, '127.0.0.1:1'])), 1);
    assert.equal(sign(compareVersions([3, 100, '127.0.0.1:1'], [3, 100, '127.0.0.1:9'])), -1);
    assert.equal(compareVersions([3, 100, '127.0.0.1:5'], [3, 100, '127.0.0.1:5']), 0);
  });

  it('is a total order: antisymmetric and consistent with sorting', () => {
    const versions: Version[] = [];
    for (const term of [0, 1, 7]) for (const clock of [0, 5, 1 << 30]) for (const writer of ['a:1', 'b:10', 'b:2']) versions.push([term, clock, writer]);
    const rng = mulberry32(42);
    for (let round = 0; round < 20; round++) {
      const sorted = shuffled(rng, versions).sort(compareVersions);
      assert.deepEqual(sorted, versions, 'the nested loops list versions in ascending order; writer ids compare as text (seed 42)');
    }
    for (const a of versions) for (const b of versions) assert.equal(sign(compareVersions(a, b)) + sign(compareVersions(b, a)), 0);
  });
});

describe('isNewer', () => {
  it('accepts anything over a missing version', () => {
    assert.equal(isNewer([0, 0, 'a:1'], undefined), true);
  });
  it('accepts only strictly newer versions', () => {
    assert.equal(isNewer([1, 2, 'a:1'], [1, 1, 'a:1']), true);
    assert.equal(isNewer([1, 1, 'a:1'], [1, 1, 'a:1']), false);
    assert.equal(isNewer([1, 0, 'a:1'], [1, 1, 'a:1']), false);
    assert.equal(isNewer([2, 0, 'a:1'], [1, 50, 'z:1']), true);
  });
});

describe('HybridClock', () => {
  it('follows the wall clock, scaled by 1024', () => {
    let wall = 1_700_000_000_000;
    const clock = new HybridClock(() => wall);
    assert.equal(clock.next(), wall * 1024);
    wall += 5;
    assert.equal(clock.next(), wall * 1024);
  });

  it('keeps increasing while the wall clock stalls, even past 1024 calls in one millisecond', () => {
    const wall = 1_700_000_000_000;
    const clock = new HybridClock(() => wall);
    let previous = clock.next();
    for (let i = 0; i < 3000; i++) {
      const current = clock.next();
      assert.ok(current > previous, `call ${i}: ${current} <= ${previous}`);
      previous = current;
    }
    assert.equal(previous, wall * 1024 + 3000);
    assert.ok(Number.isSafeInteger(previous));
  });

  it('keeps increasing when the wall clock steps back', () => {
    let wall = 1_700_000_000_000;
    const clock = new HybridClock(() => wall);
    const before = clock.next();
    wall -= 60_000;
    const after = clock.next();
    assert.ok(after > before, `${after} <= ${before} after a step back`);
    wall += 120_000;
    assert.equal(clock.next(), wall * 1024, 'catches up with the wall clock once it is ahead again');
  });

  it('is strictly increasing under a random walk of the wall clock', () => {
    const rng = mulberry32(7);
    let wall = 1_700_000_000_000;
    const clock = new HybridClock(() => wall);
    let previous = -1;
    for (let i = 0; i < 10_000; i++) {
      wall += Math.floor(rng() * 7) - 3; // stalls, steps forward and back
      const current = clock.next();
      assert.ok(current > previous, `step ${i} (seed 7): ${current} <= ${previous}`);
      previous = current;
    }
  });

  it('observe() moves the clock past a timestamp seen in a record, and ignores older ones', () => {
    const wall = 1_700_000_000_000;
    const clock = new HybridClock(() => wall);
    const seen = (wall + 10_000) * 1024 + 17; // written by a node whose clock runs ahead
    clock.observe(seen);
    assert.equal(clock.next(), seen + 1);
    clock.observe(wall * 1024);
    assert.equal(clock.next(), seen + 2);
  });

  it('uses Date.now by default', () => {
    const before = Date.now() * 1024;
    const value = new HybridClock().next();
    assert.ok(value >= before && value <= (Date.now() + 1) * 1024);
  });
});
