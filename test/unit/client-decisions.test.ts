import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeAnswer } from '../../src/client/answers.js';
import { claimsLeadership, failoverTimeoutMs, nodesNamedBy, parseHeartbeat, rankLeaderCandidates } from '../../src/client/discovery.js';
import type { Heartbeat } from '../../src/protocol/schemas.js';

function heartbeat(node: string, leader: string | null, term: number, nodes: string[] = [node]): Heartbeat {
  return {
    cluster: 'Warehouse 13',
    node,
    leader,
    term,
    replicationFactor: 2,
    heartbeatIntervalMs: 1000,
    failureTimeoutMs: 10_000,
    nodes: nodes.map((id, joined) => ({ id, joined, state: 'alive' as const })),
    warnings: [],
  };
}

describe('rankLeaderCandidates', () => {
  it('prefers the leader of the highest term over a deposed one that still believes in itself', () => {
    const answers = [heartbeat('a:1', 'a:1', 3), heartbeat('b:1', 'c:1', 4), heartbeat('c:1', 'c:1', 4)];
    assert.deepEqual(rankLeaderCandidates(answers), ['c:1', 'a:1']);
  });

  it('breaks term ties by votes, then by first mention', () => {
    const answers = [heartbeat('a:1', 'x:1', 2), heartbeat('b:1', 'y:1', 2), heartbeat('c:1', 'y:1', 2), heartbeat('d:1', 'z:1', 2)];
    assert.deepEqual(rankLeaderCandidates(answers), ['y:1', 'x:1', 'z:1']);
  });

  it('ignores nodes that know no leader (election under way)', () => {
    assert.deepEqual(rankLeaderCandidates([heartbeat('a:1', null, 5), heartbeat('b:1', null, 5)]), []);
    assert.deepEqual(rankLeaderCandidates([]), []);
  });
});

describe('heartbeat helpers', () => {
  it('knows when a node claims to lead', () => {
    assert.equal(claimsLeadership(heartbeat('a:1', 'a:1', 1)), true);
    assert.equal(claimsLeadership(heartbeat('a:1', 'b:1', 1)), false);
    assert.equal(claimsLeadership(heartbeat('a:1', null, 1)), false);
  });

  it('collects every node a heartbeat names, once', () => {
    assert.deepEqual(nodesNamedBy(heartbeat('b:1', 'a:1', 1, ['a:1', 'b:1', 'c:1'])), ['b:1', 'a:1', 'c:1']);
    assert.deepEqual(nodesNamedBy(heartbeat('b:1', 'z:9', 1, ['b:1'])), ['b:1', 'z:9']);
  });

  it('accepts only well-formed Warehouse 13 heartbeats', () => {
    const valid = heartbeat('a:1', 'a:1', 1);
    assert.deepEqual(parseHeartbeat(JSON.stringify(valid)), valid);
    assert.equal(parseHeartbeat(JSON.stringify({ ...valid, cluster: 'Warehouse 12' })), null);
    assert.equal(parseHeartbeat('<html>'), null);
  });
});

describe('failoverTimeoutMs', () => {
  it('allows two failure timeouts plus slack, or what the caller asked for', () => {
    assert.equal(failoverTimeoutMs(heartbeat('a:1', 'a:1', 1)), 25_000);
    assert.equal(failoverTimeoutMs({ ...heartbeat('a:1', 'a:1', 1), failureTimeoutMs: 2000 }), 9000);
    assert.equal(failoverTimeoutMs(heartbeat('a:1', 'a:1', 1), 3000), 3000);
    assert.equal(failoverTimeoutMs(undefined), 25_000);
  });
});

describe('judgeAnswer', () => {
  const answer = (status: number, body: unknown) => ({ status, text: typeof body === 'string' ? body : JSON.stringify(body) });

  it('accepts successes and not-found', () => {
    assert.deepEqual(judgeAnswer(answer(200, '{"a":1}')), { kind: 'ok' });
    assert.deepEqual(judgeAnswer(answer(201, { result: 'created', replicas: 2 })), { kind: 'ok' });
    assert.deepEqual(judgeAnswer(answer(404, { error: 'Not found' })), { kind: 'not-found' });
  });

  it('follows redirects to the named leader', () => {
    assert.deepEqual(judgeAnswer(answer(307, { error: 'Not the leader', leader: 'b:2' })), { kind: 'redirect', leader: 'b:2' });
    assert.deepEqual(judgeAnswer(answer(307, { error: 'Not the leader', leader: null })), { kind: 'retry', reason: 'HTTP 307 Not the leader' });
  });

  it('retries while no leader is elected or owners are unreachable', () => {
    assert.deepEqual(judgeAnswer(answer(503, { error: 'No leader elected yet', leader: null })), {
      kind: 'retry',
      reason: 'HTTP 503 No leader elected yet',
    });
    assert.deepEqual(judgeAnswer(answer(503, 'busy')), { kind: 'retry', reason: 'HTTP 503' });
  });

  it("passes the server's message of a rejected request", () => {
    assert.deepEqual(judgeAnswer(answer(400, { error: 'Value is not valid JSON' })), { kind: 'invalid', message: 'Value is not valid JSON' });
    assert.deepEqual(judgeAnswer(answer(413, { error: 'Value is larger than the limit of 10 bytes' })), {
      kind: 'invalid',
      message: 'Value is larger than the limit of 10 bytes',
    });
    assert.deepEqual(judgeAnswer(answer(415, '')), { kind: 'invalid', message: 'The request was rejected (HTTP 415)' });
  });

  it('reports a refused token with the server\'s line: retrying cannot help', () => {
    assert.deepEqual(judgeAnswer(answer(401, { error: 'Unauthorized: unknown token' })), { kind: 'denied', status: 401, message: 'Unauthorized: unknown token' });
    assert.deepEqual(judgeAnswer(answer(403, { error: 'Forbidden: x' })), { kind: 'denied', status: 403, message: 'Forbidden: x' });
    assert.deepEqual(judgeAnswer(answer(403, 'not json')), { kind: 'denied', status: 403, message: 'Forbidden' });
  });

  it('reports anything else as unexpected', () => {
    assert.deepEqual(judgeAnswer(answer(500, { error: 'boom' })), { kind: 'unexpected', message: 'Unexpected answer: HTTP 500 boom' });
  });
});
