// The consistent mode's pure decisions: the --coordinator URL, the cluster
// name, the election rule over etcd's member keys, the leader lease, the
// replicas' fence and the strict leader's rules.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCoordinatorUrl, parseClusterName, parseCoordinatorUrl } from '../../src/coordination/coordinator-url.js';
import { readView } from '../../src/coordination/etcd-view.js';
import { CLOCK_RATE_MARGIN, leaseSafeUntil, leaseTtlSeconds } from '../../src/coordination/leader-lease.js';
import { Fence, StaleTermError, staleTermMessage } from '../../src/coordination/fence.js';
import { OWNERS_UNREACHABLE, strictFanoutProblem, strictSurveyProblem } from '../../src/replication/strict.js';
import { historyProblem, settleProblem, withView } from '../../src/coordination/placement-history.js';
import { owners } from '../../src/placement/rendezvous.js';
import { makeKeys } from '../helpers/integration.js';

const member = (id: string, joined: number, createRevision: number) => ({ value: JSON.stringify({ node: { id, joined } }), createRevision });

describe('coordinator URL and cluster name', () => {
  it('parses etcd://HOST:PORT lists into client URLs and back', () => {
    assert.deepEqual(parseCoordinatorUrl('etcd://127.0.0.1:2379'), ['http://127.0.0.1:2379']);
    const endpoints = parseCoordinatorUrl('etcd://10.0.0.1:2379,etcd-b:32379, 10.0.0.3:2379');
    assert.deepEqual(endpoints, ['http://10.0.0.1:2379', 'http://etcd-b:32379', 'http://10.0.0.3:2379']);
    assert.equal(formatCoordinatorUrl(endpoints), 'etcd://10.0.0.1:2379,etcd-b:32379,10.0.0.3:2379');
  });

  it('rejects other schemes, bad members and duplicates with one line', () => {
    for (const text of ['http://127.0.0.1:2379', '127.0.0.1:2379', 'etcd://', 'etcd://a:1,', 'etcd://a:99999', 'etcd://a:1,a:1']) {
      assert.throws(() => parseCoordinatorUrl(text), (error: Error) => !error.message.includes('\n') && error.message.includes(text), text);
    }
  });

  it('accepts short names of letters, digits, dot, dash and underscore', () => {
    assert.equal(parseClusterName('prod-eu.1_a'), 'prod-eu.1_a');
    for (const text of ['', '-x', 'a/b', 'a b', 'x'.repeat(64)]) assert.throws(() => parseClusterName(text), text);
  });
});

describe('election over etcd member keys', () => {
  it('the oldest key leads and its create revision is the term; nodes are listed in join order', () => {
    const view = readView([member('127.0.0.1:2', 50, 12), member('127.0.0.1:1', 70, 9), member('127.0.0.1:3', 10, 30)]);
    assert.equal(view.leader, '127.0.0.1:1');
    assert.equal(view.term, 9);
    assert.deepEqual(view.nodes.map((node) => node.id), ['127.0.0.1:3', '127.0.0.1:2', '127.0.0.1:1']);
    assert.equal(view.revisions.get('127.0.0.1:3'), 30);
  });

  it('when the leader\'s key is gone, the next oldest leads with a higher term', () => {
    const before = readView([member('a:1', 1, 9), member('b:1', 2, 12), member('c:1', 3, 30)]);
    const after = readView([member('b:1', 2, 12), member('c:1', 3, 30), member('a:1', 4, 41)]);
    assert.equal(after.leader, 'b:1');
    assert.ok(after.term > before.term);
  });

  it('ignores keys that are not member records and has no leader without members', () => {
    const view = readView([{ value: 'not json', createRevision: 1 }, { value: '{"node": {"id": "x"}}', createRevision: 2 }]);
    assert.deepEqual(view, { nodes: [], leader: null, term: 0, repairs: new Map(), revisions: new Map() });
  });
});

describe('leader lease', () => {
  it('ends before etcd can expire the lease, even with a clock running slow by less than the margin', () => {
    const ttlMs = 10_000;
    const sentAt = 5_000;
    const until = leaseSafeUntil(sentAt, ttlMs);
    // Our clock measures (until - sentAt); the real time elapsed is at most that divided by (1 - rate error).
    const slowClock = CLOCK_RATE_MARGIN * 0.99;
    assert.ok((until - sentAt) / (1 - slowClock) < ttlMs);
  });

  it('rounds the failure timeout up to whole seconds, at least etcd\'s minimum', () => {
    assert.equal(leaseTtlSeconds(10_000), 10);
    assert.equal(leaseTtlSeconds(2500), 3);
    assert.equal(leaseTtlSeconds(500), 2);
  });
});

describe('replica fence', () => {
  function memoryStore() {
    const meta = new Map<string, unknown>();
    return { meta, getMeta: <T>(key: string) => meta.get(key) as T | undefined, putMeta: (key: string, value: unknown) => Promise.resolve(void meta.set(key, value)) };
  }

  it('admits unfenced writes and rising terms, records the highest, and refuses older terms with a clear 409', async () => {
    const store = memoryStore();
    const fence = new Fence(store);
    await fence.admit(undefined);
    await fence.admit(7);
    await fence.admit(7);
    await fence.admit(12);
    assert.equal(store.meta.get('fence'), 12);
    await assert.rejects(fence.admit(9), (error: StaleTermError) => error.statusCode === 409 && error.message === staleTermMessage(9, 12));
    // A restarted replica remembers it.
    await assert.rejects(new Fence(store).admit(11), StaleTermError);
  });

  it('refuses a lower term that arrives while a higher one is still being written', async () => {
    let release!: () => void;
    const slow = { getMeta: () => undefined, putMeta: () => new Promise<void>((resolve) => (release = resolve)) };
    const fence = new Fence(slow);
    const raising = fence.admit(20);
    await assert.rejects(fence.admit(19), StaleTermError);
    release();
    await raising;
  });
});

describe('strict (consistent mode) decisions', () => {
  const record = { key: 'k', version: [3, 1, 'a:1'] as [number, number, string], value: '{}' };

  it('acts only when every owner answered', () => {
    const placement = { owners: ['a:1', 'b:1'], rest: ['c:1'] };
    const history = [['a:1', 'b:1', 'c:1']];
    assert.equal(strictSurveyProblem('k', { owners: [record, null], others: [undefined] }, placement, history, 2), null);
    assert.equal(strictSurveyProblem('k', { owners: [record, undefined], others: [null] }, placement, history, 2), OWNERS_UNREACHABLE);
  });

  it('acts only when an owner of every view since the settled one answered, stand-ins included', () => {
    const nodes = ['a:1', 'b:1', 'c:1'];
    // A key the settled view placed on b and c, asked while only a is in the view.
    const key = makeKeys(77, 500).find((candidate) => !owners(candidate, nodes, 2).includes('a:1'))!;
    const history = [nodes, ['a:1']];
    const alone = { owners: ['a:1'], rest: [] };
    assert.match(strictSurveyProblem(key, { owners: [null], others: [] }, alone, history, 2)!, /may sit only on nodes that are gone or silent/);
    // Back in the view but not among the current owners, b still counts for the settled view.
    const back = { owners: ['a:1', 'c:1'], rest: ['b:1'] };
    assert.equal(strictSurveyProblem(key, { owners: [null, null], others: [record] }, back, [nodes, ['a:1'], ['a:1', 'b:1', 'c:1']], 2), null);
  });

  it('acknowledges only when every owner holds the write', () => {
    assert.equal(strictFanoutProblem({ ownersHolding: 2, standInsHolding: 0, beatenBy: null }, 2), null);
    assert.match(strictFanoutProblem({ ownersHolding: 1, standInsHolding: 1, beatenBy: null }, 2)!, /1 of 2 owners do not hold it/);
    assert.notEqual(strictFanoutProblem({ ownersHolding: 2, standInsHolding: 0, beatenBy: [9, 9, 'b:1'] }, 2), null);
  });
});

describe('placement history (consistent mode)', () => {
  const nodes = ['a:1', 'b:1', 'c:1'];
  const keys = makeKeys(78, 300);

  it('records a view once, sorted, and keeps the settled one first', () => {
    const settled = [nodes];
    assert.equal(withView(settled, ['c:1', 'a:1', 'b:1']), settled);
    assert.deepEqual(withView(settled, ['c:1', 'a:1']), [nodes, ['a:1', 'c:1']]);
  });

  it('asks for an owner of every view: two nodes gone in a row leave no answer to trust', () => {
    // The key lived on b and c; both leases lapsed, a alone is the view.
    const history = [nodes, ['a:1']];
    for (const key of keys) {
      const settledOwners = owners(key, nodes, 2);
      const onlyA = historyProblem(key, history, (node) => node === 'a:1', 2);
      assert.equal(onlyA === null, settledOwners.includes('a:1'), key);
      assert.equal(historyProblem(key, history, () => true, 2), null);
    }
  });

  it('settles a view only when every earlier view keeps a copy of every key inside it', () => {
    assert.equal(settleProblem([nodes], ['a:1', 'b:1'], 2), null, 'one node gone at RF 2: the other copy is inside');
    assert.match(settleProblem([nodes], ['a:1'], 2)!, /b:1, c:1 left at once/);
    assert.equal(settleProblem([nodes, ['a:1', 'b:1']], ['a:1', 'b:1'], 2), null);
    // Gone one at a time across views, the first view still has only one node outside.
    assert.equal(settleProblem([nodes, ['a:1', 'c:1']], ['a:1', 'c:1'], 2), null);
    assert.equal(settleProblem([['a:1', 'b:1', 'c:1', 'd:1'], ['a:1', 'b:1']], ['a:1', 'b:1'], 3), null, 'two of four gone at RF 3');
    assert.match(settleProblem([['a:1', 'b:1', 'c:1', 'd:1'], ['a:1', 'b:1']], ['a:1'], 3)!, /left at once/);
    assert.match(settleProblem([['a:1']], ['b:1'], 2)!, /a:1 left at once/);
  });
});
