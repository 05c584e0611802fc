import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseLeader, claimBeats } from '../../src/membership/election.js';
import { mulberry32, shuffled } from '../../src/common/random.js';

describe('chooseLeader', () => {
  it('orders ports numerically, not as text', () => {
    assert.equal(chooseLeader(['127.0.0.1:10000', '127.0.0.1:9876', '127.0.0.1:8697']), '127.0.0.1:8697');
    assert.equal(chooseLeader(['127.0.0.1:10000', '127.0.0.1:9876']), '127.0.0.1:9876');
    assert.equal(chooseLeader(['127.0.0.1:10000']), '127.0.0.1:10000');
  });

  it('orders by host before port', () => {
    assert.equal(chooseLeader(['127.0.0.2:1000', '127.0.0.1:9000']), '127.0.0.1:9000');
    assert.equal(chooseLeader(['localhost:1', 'a.example:65535']), 'a.example:65535');
  });

  it('does not depend on the order of the list', () => {
    const nodes = ['127.0.0.1:8697', '127.0.0.1:9876', '127.0.0.1:10000', '127.0.0.1:8765', '127.0.0.1:80'];
    const rng = mulberry32(3);
    for (let i = 0; i < 50; i++) assert.equal(chooseLeader(shuffled(rng, nodes)), '127.0.0.1:80', 'seed 3');
  });

  it('refuses an empty election', () => {
    assert.throws(() => chooseLeader([]), /at least one alive node/);
  });
});

describe('claimBeats', () => {
  const a = '127.0.0.1:8697';
  const b = '127.0.0.1:9876';
  const c = '127.0.0.1:10000';

  it('lets a higher term win whatever the ids', () => {
    assert.equal(claimBeats(3, c, 2, a), true);
    assert.equal(claimBeats(2, a, 3, c), false);
  });

  it('within a term, lets the smaller id win', () => {
    assert.equal(claimBeats(2, a, 2, c), true);
    assert.equal(claimBeats(2, c, 2, a), false);
    assert.equal(claimBeats(2, b, 2, c), true, '9876 sorts before 10000');
  });

  it('does not replace an equal claim', () => {
    assert.equal(claimBeats(2, b, 2, b), false);
  });

  it('fills an empty leader slot within the same or a higher term, not a lower one', () => {
    assert.equal(claimBeats(2, c, 2, null), true);
    assert.equal(claimBeats(3, c, 2, null), true);
    assert.equal(claimBeats(1, c, 2, null), false);
  });

  it('picks one winner among competing claims whatever the order they arrive in', () => {
    const claims: Array<[number, string]> = [
      [1, a],
      [2, c],
      [2, b],
      [1, b],
      [0, a],
    ];
    const rng = mulberry32(11);
    for (let i = 0; i < 30; i++) {
      let term = 0;
      let leader: string | null = null;
      for (const [claimTerm, claimLeader] of shuffled(rng, claims)) {
        if (claimBeats(claimTerm, claimLeader, term, leader)) [term, leader] = [claimTerm, claimLeader];
      }
      assert.deepEqual([term, leader], [2, b], 'seed 11');
    }
  });
});
