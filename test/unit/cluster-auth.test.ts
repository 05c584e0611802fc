import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AUTH_HEADER,
  MAX_CLOCK_SKEW_MS,
  TIME_HEADER,
  checkRequestHeaders,
  signRequest,
  signResponse,
  verifyRequest,
  verifyResponse,
} from '../../src/security/cluster-auth.js';
import { GOSSIP_PATH, REPLICA_READ_PATH, REPLICA_WRITE_PATH } from '../../src/protocol/paths.js';

const SECRET = 'a-secret-of-enough-length';
const BODY = '{"keys":[]}';

describe('cluster request signatures', () => {
  it('accepts a request signed with the secret, and nothing changed on the way', () => {
    const headers = signRequest(SECRET, 'POST', REPLICA_READ_PATH, BODY);
    assert.equal(checkRequestHeaders(headers), null);
    assert.equal(verifyRequest(SECRET, 'POST', REPLICA_READ_PATH, headers, BODY), headers[AUTH_HEADER]);
    assert.equal(verifyRequest('another-secret-entirely', 'POST', REPLICA_READ_PATH, headers, BODY), null);
    assert.equal(verifyRequest(SECRET, 'POST', REPLICA_WRITE_PATH, headers, BODY), null, 'another path');
    assert.equal(verifyRequest(SECRET, 'POST', REPLICA_READ_PATH, headers, '{"keys":[1]}'), null, 'another body');
    assert.equal(verifyRequest(SECRET, 'POST', REPLICA_READ_PATH, { ...headers, [TIME_HEADER]: String(Number(headers[TIME_HEADER]) + 1) }, BODY), null, 'another time');
    assert.equal(verifyRequest(SECRET, 'POST', REPLICA_READ_PATH, { [TIME_HEADER]: headers[TIME_HEADER] }, BODY), null, 'no MAC');
    assert.equal(verifyRequest(SECRET, 'POST', REPLICA_READ_PATH, { ...headers, [AUTH_HEADER]: 'short' }, BODY), null, 'MAC of another length');
  });

  it('refuses missing headers and timestamps outside the skew window', () => {
    assert.match(checkRequestHeaders({}) ?? '', /cluster secret/);
    const now = 1_800_000_000_000;
    for (const time of [now - MAX_CLOCK_SKEW_MS - 1, now + MAX_CLOCK_SKEW_MS + 1]) {
      assert.match(checkRequestHeaders(signRequest(SECRET, 'POST', '/x', BODY, time), now) ?? '', /timestamp/);
    }
    for (const time of ['1e308', '-5', 'NaN', '99999999999999999999', '']) {
      assert.notEqual(checkRequestHeaders({ [TIME_HEADER]: time, [AUTH_HEADER]: 'x' }, now), null, time);
    }
    assert.equal(checkRequestHeaders(signRequest(SECRET, 'POST', '/x', BODY, now - MAX_CLOCK_SKEW_MS), now), null);
  });

  it('binds an answer to its request, status and body', () => {
    const requestMac = signRequest(SECRET, 'POST', GOSSIP_PATH, BODY)[AUTH_HEADER];
    const answer = signResponse(SECRET, requestMac, 409, '{"error":"x"}');
    assert.ok(verifyResponse(SECRET, requestMac, 409, '{"error":"x"}', answer));
    assert.ok(!verifyResponse(SECRET, requestMac, 200, '{"error":"x"}', answer), 'another status');
    assert.ok(!verifyResponse(SECRET, requestMac, 409, '{"error":"y"}', answer), 'another body');
    assert.ok(!verifyResponse(SECRET, signRequest(SECRET, 'POST', '/other', BODY)[AUTH_HEADER], 409, '{"error":"x"}', answer), 'another request');
    assert.ok(!verifyResponse(SECRET, requestMac, 409, '{"error":"x"}', undefined), 'unsigned');
  });
});
