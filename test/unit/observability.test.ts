// The pure parts of metrics and the dashboard: outcome labels, the windowed
// p99 estimate from histogram buckets, and the node states shown on the page.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { operationOf, outcomeOf } from '../../src/observability/outcome.js';
import { difference, quantile } from '../../src/observability/traffic.js';
import { nodeViews, unreachableAfterMs } from '../../src/dashboard/snapshot.js';

describe('request labels', () => {
  it('maps methods to operations and statuses to a fixed set of outcomes', () => {
    assert.equal(operationOf('PUT'), 'SET');
    assert.equal(operationOf('GET'), 'GET');
    assert.equal(operationOf('DELETE'), 'DELETE');
    assert.equal(operationOf('PATCH'), undefined);
    const cases: [number, string][] = [
      [200, 'ok'], [201, 'ok'], [307, 'redirected'], [400, 'bad_request'], [404, 'not_found'], [405, 'bad_request'],
      [409, 'conflict'], [412, 'conflict'], [413, 'too_large'], [500, 'error'], [503, 'unavailable'],
    ];
    for (const [status, outcome] of cases) assert.equal(outcomeOf(status), outcome, String(status));
  });
});

describe('quantile from histogram buckets', () => {
  const bounds = [0.001, 0.01, 0.1, 1];

  it('interpolates inside the bucket that holds the rank, as histogram_quantile does', () => {
    // 100 requests: 50 under 1 ms, 40 more under 10 ms, 10 more under 100 ms.
    const window = { bounds, cumulative: [50, 90, 100, 100], total: 100 };
    assert.equal(quantile(window, 0.5), 0.001);
    assert.ok(Math.abs(quantile(window, 0.99)! - (0.01 + 0.09 * 0.9)) < 1e-12);
    assert.ok(Math.abs(quantile(window, 0.25)! - 0.0005) < 1e-12);
  });

  it('is null without requests and the last bound past it', () => {
    assert.equal(quantile({ bounds, cumulative: [0, 0, 0, 0], total: 0 }, 0.99), null);
    assert.equal(quantile({ bounds, cumulative: [0, 0, 0, 1], total: 10 }, 0.99), 1);
  });

  it('a window is the difference of two cumulative readings', () => {
    const earlier = { bounds, cumulative: [5, 6, 7, 7], total: 8 };
    const later = { bounds, cumulative: [5, 16, 27, 27], total: 28 };
    assert.deepEqual(difference(later, earlier), { bounds, cumulative: [0, 10, 20, 20], total: 20 });
  });
});

describe('node states on the dashboard', () => {
  const base = { self: 'a:1', leader: 'b:1', term: 4, now: 10_000, heartbeatIntervalMs: 1000 };

  it('a peer silent for more than a heartbeat and a half is unreachable at once; a dropped one is down and keeps its last time', () => {
    const lastHeard = new Map<string, number>();
    const first = nodeViews({
      ...base,
      lastHeard,
      peers: [
        { id: 'b:1', lastHeard: 9_500, term: 4, departed: false },
        { id: 'c:1', lastHeard: 9_000, term: 4, departed: false },
      ],
    });
    assert.deepEqual(first, [
      { id: 'a:1', role: 'follower', state: 'alive', term: 4, lastHeardMsAgo: 0 },
      { id: 'b:1', role: 'leader', state: 'alive', term: 4, lastHeardMsAgo: 500 },
      { id: 'c:1', role: 'follower', state: 'alive', term: 4, lastHeardMsAgo: 1000 },
    ]);
    assert.equal(unreachableAfterMs(1000), 1700);
    const later = nodeViews({
      ...base,
      now: 11_000,
      lastHeard,
      peers: [
        { id: 'b:1', lastHeard: 9_500, term: 4, departed: false },
        { id: 'c:1', lastHeard: null, term: null, departed: true },
        { id: 'd:1', lastHeard: null, term: null, departed: false },
      ],
    });
    assert.deepEqual(later.slice(1), [
      { id: 'b:1', role: 'leader', state: 'alive', term: 4, lastHeardMsAgo: 1500 },
      { id: 'c:1', role: 'follower', state: 'down', term: null, lastHeardMsAgo: 2000 },
      { id: 'd:1', role: 'follower', state: 'unreachable', term: null, lastHeardMsAgo: null },
    ]);
    const silent = nodeViews({ ...base, now: 11_300, lastHeard, peers: [{ id: 'b:1', lastHeard: 9_500, term: 4, departed: false }] });
    assert.equal(silent[1]!.state, 'unreachable');
  });
});
