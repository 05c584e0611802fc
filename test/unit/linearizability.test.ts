// The chaos harness's checker on hand-made histories whose verdict is known:
// the Wing & Gong / Lowe linearizability search, and the lost-write and
// read-after-write verdicts, including the histories a broken store would
// produce (a lost write, a stale read), since a checker that never fails
// proves nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkRegister, type RegisterOp } from '../../chaos/linearizability.js';
import { checkLinearizability, checkLostWrites, checkReadAfterWrite, partitionWindows, type FinalRead } from '../../chaos/checker.js';
import { FINAL_PROCESS, type HistoryEvent, type Op, type Outcome, pairOps } from '../../chaos/history.js';
import { mulberry32, randomInt } from '../../src/common/random.js';

const K = '0d5d3807-5fbf-4228-a657-5a091c4e497f';
let nextId = 0;

/** An op on key K: [invoke, complete] in ms. */
function op(process: number, f: Op['f'], value: string | null, invoke: number, complete: number, outcome: Outcome = 'ok', key = K): Op {
  return { id: nextId++, process, f, key, value, invoke, complete, outcome };
}
const set = (p: number, v: string, a: number, b: number, o: Outcome = 'ok') => op(p, 'set', v, a, b, o);
const get = (p: number, v: string | null, a: number, b: number, o: Outcome = 'ok') => op(p, 'get', v, a, b, o);
const del = (p: number, a: number, b: number, o: Outcome = 'ok') => op(p, 'delete', null, a, b, o);
const final = (v: string | null, at = 1000): FinalRead => ({ key: K, op: op(FINAL_PROCESS, 'get', v, at, at + 1) });

describe('linearizability search (register)', () => {
  it('accepts a sequential history', () => {
    const r = checkRegister([set(0, 'a', 0, 1), get(0, 'a', 2, 3), del(0, 4, 5), get(0, null, 6, 7)]);
    assert.equal(r.verdict, 'linearizable');
  });

  it('accepts concurrent overlapping ops that can be ordered', () => {
    // SET a and SET b overlap; readers see b then a... impossible; but b then b, or a then b, are fine.
    const ok = checkRegister([set(0, 'a', 0, 10), set(1, 'b', 2, 8), get(2, 'b', 3, 4), get(2, 'a', 5, 12), get(3, 'a', 13, 14)]);
    assert.equal(ok.verdict, 'linearizable', 'a linearizes after b: b is read first, then a');
    // A read overlapping a write may see the old or the new value.
    assert.equal(checkRegister([set(0, 'a', 0, 1), set(1, 'b', 2, 10), get(2, 'a', 3, 4), get(3, 'b', 5, 6)]).verdict, 'linearizable');
  });

  it('rejects a stale read', () => {
    // b was acknowledged before the read began; the read returns the older a.
    const r = checkRegister([set(0, 'a', 0, 1), set(0, 'b', 2, 3), get(1, 'a', 4, 5)]);
    assert.equal(r.verdict, 'not-linearizable');
    assert.ok(r.failure);
    assert.equal(r.failure.state, 'b', 'the register holds b when the read must happen');
  });

  it('rejects a lost write seen by a later read', () => {
    // a then b acknowledged in sequence, then every read sees a: b was lost.
    const ops = [set(0, 'a', 0, 1), set(1, 'b', 2, 3), get(2, 'a', 10, 11), get(2, 'a', 12, 13)];
    assert.equal(checkRegister(ops).verdict, 'not-linearizable');
  });

  it('rejects a read of a value that never was written, and a read from the future', () => {
    assert.equal(checkRegister([set(0, 'a', 0, 1), get(1, 'zzz', 2, 3)]).verdict, 'not-linearizable');
    assert.equal(checkRegister([get(1, 'a', 0, 1), set(0, 'a', 2, 3)]).verdict, 'not-linearizable');
  });

  it('rejects reads that see two concurrent writes in opposite orders', () => {
    const ops = [set(0, 'a', 0, 10), set(1, 'b', 0, 10), get(2, 'a', 11, 12), get(3, 'b', 13, 14), get(2, 'a', 15, 16)];
    assert.equal(checkRegister(ops).verdict, 'not-linearizable');
  });

  it('treats DELETE as a write of absent', () => {
    assert.equal(checkRegister([set(0, 'a', 0, 1), del(1, 2, 3), get(2, null, 4, 5)]).verdict, 'linearizable');
    assert.equal(checkRegister([set(0, 'a', 0, 1), del(1, 2, 3), get(2, 'a', 4, 5)]).verdict, 'not-linearizable');
    assert.equal(checkRegister([get(0, null, 0, 1)]).verdict, 'linearizable', 'the initial state is absent');
  });

  it('lets an info write take effect any time after its invocation, or never', () => {
    // The info SET b took effect after its client gave up.
    assert.equal(checkRegister([set(0, 'a', 0, 1), set(1, 'b', 2, 3, 'info'), get(2, 'a', 4, 5), get(2, 'b', 100, 101)]).verdict, 'linearizable');
    // It never took effect.
    assert.equal(checkRegister([set(0, 'a', 0, 1), set(1, 'b', 2, 3, 'info'), get(2, 'a', 100, 101)]).verdict, 'linearizable');
    // But not before it was invoked.
    assert.equal(checkRegister([get(2, 'b', 0, 1), set(1, 'b', 2, 3, 'info')]).verdict, 'not-linearizable');
    // And once a later write is read, the info write cannot come back unless it really could be later.
    assert.equal(checkRegister([set(1, 'b', 0, 1, 'info'), set(0, 'a', 2, 3), get(2, 'b', 4, 5)]).verdict, 'linearizable', 'b may land after a');
    assert.equal(checkRegister([set(1, 'b', 0, 1, 'info'), set(0, 'a', 2, 3), get(2, 'b', 4, 5), get(2, 'a', 6, 7)]).verdict, 'not-linearizable');
  });

  it('ignores failed ops and info reads', () => {
    assert.equal(checkRegister([set(0, 'a', 0, 1), set(1, 'b', 2, 3, 'fail'), get(2, 'a', 4, 5), get(3, 'zzz', 6, 7, 'info')]).verdict, 'linearizable');
    assert.equal(checkRegister([set(1, 'b', 2, 3, 'fail'), get(2, 'b', 4, 5)]).verdict, 'not-linearizable', 'a failed write must not be seen');
  });

  it('reports the blocked op and the longest linearizable prefix', () => {
    const a = set(0, 'a', 0, 1);
    const b = set(0, 'b', 2, 3);
    const stale = get(1, 'a', 4, 5);
    const r = checkRegister([a, b, stale]);
    assert.equal(r.failure?.blocked, stale.id);
    assert.deepEqual(r.failure?.linearized, [a.id, b.id]);
  });

  it('agrees with a brute-force search on random small histories', () => {
    const rng = mulberry32(7);
    let bad = 0;
    for (let trial = 0; trial < 400; trial++) {
      const ops: RegisterOp[] = [];
      const values = ['a', 'b', 'c'];
      for (let i = 0; i < randomInt(rng, 1, 6); i++) {
        const start = randomInt(rng, 0, 20);
        const end = start + randomInt(rng, 0, 8);
        const kind = randomInt(rng, 0, 2);
        const outcome: Outcome = rng() < 0.15 ? 'info' : 'ok';
        if (kind === 0) ops.push(set(i, values[randomInt(rng, 0, 2)]!, start, end, outcome));
        else if (kind === 1) ops.push(del(i, start, end, outcome));
        else ops.push(get(i, rng() < 0.25 ? null : values[randomInt(rng, 0, 2)]!, start, end, outcome));
      }
      const expected = bruteForce(ops);
      const actual = checkRegister(ops).verdict === 'linearizable';
      assert.equal(actual, expected, `trial ${trial}: ${JSON.stringify(ops)}`);
      if (!expected) bad++;
    }
    assert.ok(bad > 20, `the random histories include non-linearizable ones (${bad})`);
  });

  it('gives up with "unknown" when the search budget is exhausted', () => {
    const ops: Op[] = [];
    for (let i = 0; i < 12; i++) ops.push(set(i, `v${i}`, 0, 100));
    ops.push(get(20, 'nope', 200, 201));
    assert.equal(checkRegister(ops, { maxSteps: 50 }).verdict, 'unknown');
    assert.equal(checkRegister(ops).verdict, 'not-linearizable');
  });

  it('checks a long linearizable history quickly', () => {
    const ops: Op[] = [];
    let value: string | null = null;
    for (let i = 0; i < 3000; i++) {
      const t = i * 10;
      // Three processes, each op overlapping its neighbours; the effect happens at t + 5.
      if (i % 3 === 0) {
        value = `v${i}`;
        ops.push(set(i % 3, value, t, t + 12));
      } else {
        ops.push(get(i % 3, value, t + 6, t + 13));
      }
    }
    const started = Date.now();
    assert.equal(checkRegister(ops).verdict, 'linearizable');
    assert.ok(Date.now() - started < 5000);
  });
});

describe('the store is held to its answers', () => {
  const answered = <T extends Op>(o: T, result: string): T => ({ ...o, result });

  it('accepts answers that follow the state at the linearization point', () => {
    const ops = [
      answered(set(0, 'a', 0, 1), 'created'),
      answered(set(0, 'b', 2, 3), 'updated'),
      answered(del(0, 4, 5), 'deleted'),
      answered(del(0, 6, 7), 'not-found'),
      answered(set(0, 'c', 8, 9), 'created'),
    ];
    assert.equal(checkRegister(ops).verdict, 'linearizable');
  });

  it('rejects "updated" for a deleted key and "deleted" for an absent one (an owner that missed a DELETE)', () => {
    const updated = [answered(set(0, 'a', 0, 1), 'created'), answered(del(0, 2, 3), 'deleted'), answered(set(0, 'b', 4, 5), 'updated')];
    assert.equal(checkRegister(updated).verdict, 'not-linearizable');
    const deleted = [answered(set(0, 'a', 0, 1), 'created'), answered(del(0, 2, 3), 'deleted'), answered(del(0, 4, 5), 'deleted')];
    const verdict = checkRegister(deleted);
    assert.equal(verdict.verdict, 'not-linearizable');
    assert.match(verdict.failure!.message, /DELETE answered deleted/);
  });

  it('rejects answers no state explains: "updated" for a key never written, two sequential "created"', () => {
    const ops = [answered(set(0, 'a', 0, 10), 'updated'), answered(get(1, null, 11, 12), 'not-found')];
    assert.equal(checkRegister(ops).verdict, 'not-linearizable', 'updated needs the key present before');
    assert.equal(checkRegister([answered(set(0, 'a', 0, 1), 'created'), answered(set(1, 'b', 2, 3), 'created')]).verdict, 'not-linearizable');
  });

  it('lets concurrent writers explain each other\'s answers in either order', () => {
    const ops = [answered(set(0, 'a', 0, 10), 'created'), answered(set(1, 'b', 1, 9), 'updated')];
    assert.equal(checkRegister(ops).verdict, 'linearizable', 'a before b');
    assert.equal(checkRegister([answered(del(0, 0, 10), 'not-found'), answered(set(1, 'b', 1, 9), 'created')]).verdict, 'linearizable');
  });

  it('an info write may explain an answer that needs the key present, even unread; a failed one never does', () => {
    const info = [answered(set(0, 'a', 0, 1), 'created'), answered(del(0, 2, 3), 'deleted'), set(1, 'x', 4, 5, 'info'), answered(set(0, 'b', 6, 7), 'updated')];
    assert.equal(checkRegister(info).verdict, 'linearizable', 'the info SET x took effect before b');
    const failed = [answered(set(0, 'a', 0, 1), 'created'), answered(del(0, 2, 3), 'deleted'), set(1, 'x', 4, 5, 'fail'), answered(set(0, 'b', 6, 7), 'updated')];
    assert.equal(checkRegister(failed).verdict, 'not-linearizable', 'a failed SET never happened');
    // An info op's own answer is unknown and constrains nothing.
    assert.equal(checkRegister([answered(set(0, 'a', 0, 1), 'created'), answered(set(1, 'b', 2, 3, 'info'), 'created')]).verdict, 'linearizable');
  });
});

/** Every permutation respecting real time (small histories only). */
function bruteForce(ops: readonly RegisterOp[]): boolean {
  const relevant = ops.filter((o) => o.outcome !== 'fail' && !(o.outcome === 'info' && o.f === 'get'));
  const definite = relevant.filter((o) => o.outcome === 'ok').length;
  const end = (o: RegisterOp) => (o.outcome === 'info' ? Infinity : o.complete);
  const used = new Set<RegisterOp>();
  const search = (state: string | null, done: number, placed: RegisterOp[]): boolean => {
    if (done === definite) return true;
    for (const o of relevant) {
      if (used.has(o)) continue;
      // o may go next only if no unplaced op completed before o was invoked.
      if (relevant.some((p) => p !== o && !used.has(p) && end(p) < o.invoke)) continue;
      if (o.f === 'get' && o.value !== state) continue;
      used.add(o);
      const next = o.f === 'set' ? o.value : o.f === 'delete' ? null : state;
      if (search(next, done + (o.outcome === 'ok' ? 1 : 0), [...placed, o])) return true;
      used.delete(o);
    }
    return false;
  };
  return search(null, 0, []);
}

describe('verdict 1: no acknowledged write lost', () => {
  it('passes when the final value is the last acknowledged write', () => {
    const ops = [set(0, 'a', 0, 1), set(1, 'b', 2, 3)];
    assert.equal(checkLostWrites(ops, [final('b')], [], false).status, 'pass');
  });

  it('passes for either of two concurrent writes', () => {
    const ops = [set(0, 'a', 0, 10), set(1, 'b', 2, 8)];
    assert.equal(checkLostWrites(ops, [final('a')], [], false).status, 'pass');
    assert.equal(checkLostWrites(ops, [final('b')], [], false).status, 'pass');
  });

  it('fails on a lost write: an older value survives a later acknowledged SET (e.g. repair disabled)', () => {
    // The synthetic history a build without repair produces: b was acknowledged on
    // one replica that then died, the survivors keep a, and nobody copies b back.
    const a = set(0, 'a', 0, 1);
    const b = set(1, 'b', 5, 6);
    const verdict = checkLostWrites([a, b], [final('a')], [], false);
    assert.equal(verdict.status, 'fail');
    assert.equal(verdict.violations.length, 1);
    assert.deepEqual(verdict.violations[0]!.ops.slice(0, 2), [a, b]);
    assert.match(verdict.violations[0]!.message, /lost/);
  });

  it('fails on a resurrected delete and on a lost delete', () => {
    const ops = [set(0, 'a', 0, 1), del(1, 2, 3)];
    assert.equal(checkLostWrites(ops, [final('a')], [], false).status, 'fail');
    assert.equal(checkLostWrites(ops, [final(null)], [], false).status, 'pass');
  });

  it('fails when a key written and never deleted reads as not found', () => {
    assert.equal(checkLostWrites([set(0, 'a', 0, 1)], [final(null)], [], false).status, 'fail');
    assert.equal(checkLostWrites([set(0, 'a', 0, 1, 'info')], [final(null)], [], false).status, 'pass', 'an info write may never have happened');
  });

  it('fails on a value from a failed write or one never written', () => {
    assert.equal(checkLostWrites([set(0, 'a', 0, 1, 'fail')], [final('a')], [], false).status, 'fail');
    assert.equal(checkLostWrites([set(0, 'a', 0, 1)], [final('zzz')], [], false).status, 'fail');
  });

  it('accepts an info write as the final value even if acknowledged writes followed its invocation', () => {
    const ops = [set(0, 'a', 0, 1, 'info'), set(1, 'b', 5, 6)];
    assert.equal(checkLostWrites(ops, [final('a')], [], false).status, 'pass');
  });

  it('counts a loss inside a partition window as an anomaly, and as a failure in strict mode', () => {
    const events: HistoryEvent[] = [
      { type: 'nemesis', fault: 0, phase: 'start', kind: 'partition', nodes: [], time: 4 },
      { type: 'nemesis', fault: 0, phase: 'end', kind: 'partition', nodes: [], time: 20 },
    ];
    const windows = partitionWindows(events, 5);
    assert.deepEqual(windows, [{ fault: 0, start: 4, end: 25 }]);
    const ops = [set(0, 'a', 0, 1), set(1, 'b', 5, 6)];
    const lenient = checkLostWrites(ops, [final('a')], windows, false);
    assert.equal(lenient.status, 'anomalies');
    assert.equal(lenient.anomalies.length, 1);
    assert.equal(checkLostWrites(ops, [final('a')], windows, true).status, 'fail');
  });
});

describe('verdict 2: read-after-write for new keys', () => {
  it('passes when reads after the creating SET see it or a later write', () => {
    const ops = [set(0, 'a', 0, 1), get(1, 'a', 2, 3), set(2, 'b', 4, 5), get(1, 'b', 6, 7), del(0, 8, 9), get(1, null, 10, 11)];
    assert.equal(checkReadAfterWrite(ops, [], false).status, 'pass');
  });

  it('fails on a stale "not found" right after a key was created', () => {
    const create = set(0, 'a', 0, 1);
    const stale = get(1, null, 2, 3);
    const verdict = checkReadAfterWrite([create, stale], [], false);
    assert.equal(verdict.status, 'fail');
    assert.deepEqual(verdict.violations[0]!.ops, [create, stale]);
  });

  it('does not judge reads that overlap the creating SET, or keys whose first write was not acknowledged', () => {
    assert.equal(checkReadAfterWrite([set(0, 'a', 0, 10), get(1, null, 2, 3)], [], false).status, 'pass');
    assert.equal(checkReadAfterWrite([set(0, 'a', 0, 1, 'info'), set(1, 'b', 2, 3), get(1, null, 4, 5)], [], false).counts.creatingSets, 0);
  });

  it('accepts a concurrent DELETE as the reason for "not found"', () => {
    assert.equal(checkReadAfterWrite([set(0, 'a', 0, 1), del(1, 0.5, 4), get(1, null, 5, 6)], [], false).status, 'pass');
  });
});

describe('verdict 4 over a history', () => {
  it('counts non-linearizable keys as anomalies in the default mode and failures in strict mode', () => {
    const other = '1d5d3807-5fbf-4228-a657-5a091c4e497f';
    const ops = [set(0, 'a', 0, 1), set(0, 'b', 2, 3), get(1, 'a', 4, 5), op(0, 'set', 'x', 0, 1, 'ok', other), op(1, 'get', 'x', 2, 3, 'ok', other)];
    const lenient = checkLinearizability(ops, [], false);
    assert.equal(lenient.status, 'anomalies');
    assert.equal(lenient.counts.notLinearizable, 1);
    assert.equal(lenient.counts.linearizable, 1);
    assert.equal(lenient.hard, false);
    const strict = checkLinearizability(ops, [], true);
    assert.equal(strict.status, 'fail');
    assert.equal(strict.violations[0]!.key, K);
  });
});

describe('verdict 4: explaining a violation', () => {
  it('names the write a blocked read returned, and flags a write the client retried', () => {
    // SET a spans a failover (4 s): its first attempt is read, b is acknowledged, then a comes back.
    const a = set(0, 'a', 0, 4000);
    const seen = get(1, 'a', 1000, 1001);
    const b = set(2, 'b', 2000, 2001);
    const back = get(1, 'a', 4100, 4101);
    const verdict = checkLinearizability([a, seen, b, back], [], false, { retryAfterMs: 1500 });
    assert.equal(verdict.status, 'anomalies');
    const anomaly = verdict.anomalies[0]!;
    assert.ok(anomaly.ops.includes(a), 'the SET whose value the blocked read returned is among the offending ops');
    assert.match(anomaly.message, /retried/);
    assert.equal(verdict.counts.involvingRetriedWrites, 1);
    // The same history with quick writes is not excused as a retry.
    const quick = checkLinearizability([set(0, 'a', 0, 1), get(1, 'a', 2, 3), set(2, 'b', 4, 5), get(1, 'a', 6, 7)], [], false, { retryAfterMs: 1500 });
    assert.doesNotMatch(quick.anomalies[0]!.message, /retried/);
  });
});

describe('history pairing', () => {
  it('pairs invocations with completions and turns unfinished ops into info', () => {
    const events: HistoryEvent[] = [
      { type: 'invoke', id: 1, process: 0, f: 'set', key: K, value: 'a', time: 0 },
      { type: 'invoke', id: 2, process: 1, f: 'get', key: K, value: null, time: 1 },
      { type: 'ok', id: 1, process: 0, f: 'set', key: K, value: 'a', time: 2 },
      { type: 'info', id: 2, process: 1, f: 'get', key: K, value: null, time: 3, error: 'timeout' },
      { type: 'invoke', id: 3, process: 0, f: 'delete', key: K, value: null, time: 4 },
    ];
    const ops = pairOps(events);
    assert.deepEqual(ops.map((o) => [o.id, o.outcome, o.invoke, o.complete]), [[1, 'ok', 0, 2], [2, 'info', 1, 3], [3, 'info', 4, 4]]);
  });
});
