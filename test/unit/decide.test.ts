// The leader's pure decisions: the answers follow the newest copy across the
// owners, a silent owner blocks an answer it could change, retries replay
// their first answer, conditions compare versions, and a fan-out counts only
// the replicas that hold the write.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReplicaRecord, Version } from '../../src/protocol/schemas.js';
import { type Survey, decideRead, decideWrite, judgeFanout, settle } from '../../src/replication/decide.js';

const KEY = '0d5d3807-5fbf-4228-a657-5a091c4e497f';
const v = (term: number, clock: number, writer = 'a:1'): Version => [term, clock, writer];
const live = (version: Version, value = '"x"'): ReplicaRecord => ({ key: KEY, version, value });
const tomb = (version: Version): ReplicaRecord => ({ key: KEY, version, value: null });

function survey(owners: Survey['owners'], extra: Partial<Survey> = {}): Survey {
  return { owners, others: [], known: null, term: 2, lastIssued: undefined, ...extra };
}

describe('answers follow the newest version across the owners', () => {
  it('an owner that missed a DELETE does not make a SET "updated" or a DELETE "deleted"', () => {
    // The bug of issue 8: any live copy used to make the leader answer Updated.
    const s = survey([live(v(1, 5)), tomb(v(1, 9)), tomb(v(1, 9))]);
    assert.deepEqual(decideWrite(s, KEY, '"y"'), { kind: 'write', result: 'created', above: v(1, 9) });
    assert.deepEqual(decideWrite(s, KEY, null), { kind: 'not-found' });
    assert.deepEqual(decideRead(s).kind, 'not-found');
  });

  it('a newer live copy on one owner makes a SET "updated" and a DELETE "deleted"', () => {
    const s = survey([tomb(v(1, 5)), live(v(1, 9)), null]);
    assert.deepEqual(decideWrite(s, KEY, '"y"'), { kind: 'write', result: 'updated', above: v(1, 9) });
    assert.deepEqual(decideWrite(s, KEY, null), { kind: 'write', result: 'deleted', above: v(1, 9) });
    const read = decideRead(s);
    assert.deepEqual(read.kind === 'found' && read.record.version, v(1, 9));
  });

  it('the term orders before the clock, the writer breaks ties', () => {
    assert.deepEqual(settle(survey([live(v(1, 99)), tomb(v(2, 1))])).newest, tomb(v(2, 1)));
    assert.deepEqual(settle(survey([live(v(2, 1, 'a:1')), tomb(v(2, 1, 'b:1'))])).newest, tomb(v(2, 1, 'b:1')));
  });
});

describe('a silent owner', () => {
  it('blocks "Not found" and older values: it may hold the only or the newest copy', () => {
    assert.deepEqual(decideRead(survey([null, undefined])), { kind: 'unavailable', reason: 'An owner of the key did not answer' });
    assert.equal(decideRead(survey([live(v(1, 3)), undefined])).kind, 'unavailable');
    assert.equal(decideWrite(survey([null, undefined]), KEY, '"y"').kind, 'unavailable');
    assert.equal(decideWrite(survey([live(v(1, 3)), undefined]), KEY, null).kind, 'unavailable');
  });

  it('does not block when the newest copy is the last version this leader gave the key in its term', () => {
    const s = survey([live(v(2, 7)), undefined], { lastIssued: v(2, 7) });
    assert.equal(decideRead(s).kind, 'found');
    assert.deepEqual(decideWrite(s, KEY, '"y"'), { kind: 'write', result: 'updated', above: v(2, 7) });
    // A later version of ours may sit on the silent owner only.
    assert.equal(decideRead(survey([live(v(2, 7)), undefined], { lastIssued: v(2, 8) })).kind, 'unavailable');
    // Another term's copy proves nothing.
    assert.equal(decideRead(survey([live(v(1, 7)), undefined], { lastIssued: v(1, 7) })).kind, 'unavailable');
  });

  it('counts a stand-in\'s copy (others) for the newest', () => {
    const s = survey([tomb(v(2, 3)), undefined], { others: [live(v(2, 7))], lastIssued: v(2, 7) });
    assert.equal(decideWrite(s, KEY, null).kind, 'write');
  });

  it('every owner silent is the storage-level failure', () => {
    assert.deepEqual(decideRead(survey([undefined, undefined])), { kind: 'unavailable', reason: 'Failed to read an entry' });
    assert.deepEqual(decideWrite(survey([undefined]), KEY, '1'), { kind: 'unavailable', reason: 'Failed to write an entry' });
  });
});

describe('retries and conditions', () => {
  it('a request some node applied before gets its first answer again', () => {
    const known = { key: KEY, version: v(1, 4), result: 'created' as const };
    // Even though the key now exists (the first attempt created it).
    assert.deepEqual(decideWrite(survey([live(v(1, 4)), null], { known }), KEY, '"y"'), { kind: 'replay', result: 'created', version: v(1, 4) });
    // An id reused for another key is no retry of this one.
    assert.equal(decideWrite(survey([live(v(1, 4))], { known: { ...known, key: 'other' } }), KEY, '"y"').kind, 'write');
  });

  it('If-Match compares with the newest version; If-None-Match: * needs the key absent', () => {
    const s = survey([live(v(1, 4)), live(v(1, 6))]);
    assert.deepEqual(decideWrite(s, KEY, '1', { ifVersion: v(1, 6) }), { kind: 'write', result: 'updated', above: v(1, 6) });
    assert.deepEqual(decideWrite(s, KEY, '1', { ifVersion: v(1, 4) }), { kind: 'version-mismatch', current: v(1, 6) });
    assert.deepEqual(decideWrite(s, KEY, null, { ifVersion: v(1, 6) }), { kind: 'write', result: 'deleted', above: v(1, 6) });
    assert.deepEqual(decideWrite(s, KEY, '1', { ifAbsent: true }), { kind: 'exists', current: v(1, 6) });
    const gone = survey([tomb(v(1, 8)), live(v(1, 6))]);
    assert.deepEqual(decideWrite(gone, KEY, '1', { ifAbsent: true }), { kind: 'write', result: 'created', above: v(1, 8) });
    assert.deepEqual(decideWrite(gone, KEY, '1', { ifVersion: v(1, 6) }), { kind: 'version-mismatch', current: null });
  });
});

describe('judgeFanout', () => {
  it('counts only the replicas that hold the write, and reports what beat it', () => {
    const mine = v(2, 10);
    assert.deepEqual(judgeFanout(mine, [mine, mine], []), { ownersHolding: 2, standInsHolding: 0, beatenBy: null });
    // A replica that held a newer version (a skewed clock, a higher term) did not apply it.
    assert.deepEqual(judgeFanout(mine, [mine, v(3, 1)], [mine]), { ownersHolding: 1, standInsHolding: 1, beatenBy: v(3, 1) });
    assert.deepEqual(judgeFanout(mine, [undefined, v(2, 11), v(2, 12)], []), { ownersHolding: 0, standInsHolding: 0, beatenBy: v(2, 12) });
  });
});
