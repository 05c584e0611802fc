// Repair's pace: batches wait their turn at the configured rate, and no limit means no wait.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RateLimit } from '../../src/common/rate-limit.js';
import type { Timers } from '../../src/common/timers.js';

/** A clock that only moves when a timer fires, and the waits asked for. */
function virtualTime() {
  let now = 0;
  const waits: number[] = [];
  const timers: Timers = {
    every: () => () => {},
    after: (ms, fn) => {
      waits.push(ms);
      now += ms;
      queueMicrotask(fn);
      return () => {};
    },
  };
  return { now: () => now, timers, waits };
}

it('spreads batches evenly at the rate, without a burst', async () => {
  const time = virtualTime();
  const limit = new RateLimit(1000, time.now, time.timers);
  for (let i = 0; i < 4; i++) await limit.take(250);
  assert.deepEqual(time.waits, [250, 250, 250]);
  assert.equal(time.now(), 750);
});

it('a quiet spell does not save up a burst', async () => {
  const time = virtualTime();
  const limit = new RateLimit(100, time.now, time.timers);
  await limit.take(10);
  time.timers.after(5000, () => {});
  await limit.take(10);
  await limit.take(10);
  assert.deepEqual(time.waits, [5000, 100]);
});

it('Infinity never waits', async () => {
  const time = virtualTime();
  const limit = new RateLimit(Infinity, time.now, time.timers);
  for (let i = 0; i < 10; i++) await limit.take(1_000_000);
  assert.deepEqual(time.waits, []);
});
