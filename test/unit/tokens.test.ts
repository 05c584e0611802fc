import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearerToken, checkAccess, grants, parseTokens, requiredRole, roleOf } from '../../src/security/tokens.js';
import { CLUSTER_PATH, EVENTS_PATH, GOSSIP_PATH, HEARTBEAT_PATH, METRICS_PATH, STATS_PATH, documentPath, locatePath } from '../../src/protocol/paths.js';

const FILE = '# who may do what\nread  reader-token-0123456789\n\nwrite writer-token-0123456789\nadmin admin-token-01234567890\n';

describe('tokens file', () => {
  it('reads ROLE TOKEN lines, skipping comments and blank lines', () => {
    const table = parseTokens(FILE, 'tokens');
    assert.equal(table.entries.length, 3);
    assert.equal(roleOf(table, 'reader-token-0123456789'), 'read');
    assert.equal(roleOf(table, 'writer-token-0123456789'), 'write');
    assert.equal(roleOf(table, 'admin-token-01234567890'), 'admin');
    assert.equal(roleOf(table, 'reader-token-012345678'), null);
    assert.equal(roleOf(table, ''), null);
  });

  it('refuses a malformed file with one line naming the line', () => {
    const cases: [string, RegExp][] = [
      ['owner some-long-token-0123456789', /^t line 1: "owner" is not a role \(read, write, admin\)/],
      ['read', /^t line 1: lines read ROLE TOKEN/],
      ['read a-token-0123456789 extra', /^t line 1: lines read ROLE TOKEN/],
      ['# c\nwrite short', /^t line 2: the token is shorter than 16 characters$/],
      ['read same-token-0123456789\nwrite same-token-0123456789', /^t line 2: the token is listed twice$/],
      ['# nothing\n\n', /^t lists no token/],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => parseTokens(text, 't'), (error: Error) => message.test(error.message) && !error.message.includes('\n'), text);
    }
  });
});

describe('roles', () => {
  it('each role grants what the ones before it grant', () => {
    assert.ok(grants('admin', 'write') && grants('admin', 'read') && grants('write', 'read') && grants('read', 'read'));
    assert.ok(!grants('read', 'write') && !grants('write', 'admin') && !grants('read', 'admin'));
  });

  it('document writes need write, every other public route read; the page and internal routes none', () => {
    const key = documentPath('0d5d3807-5fbf-4228-a657-5a091c4e497f');
    assert.equal(requiredRole('GET', key), 'read');
    assert.equal(requiredRole('PUT', key), 'write');
    assert.equal(requiredRole('DELETE', key), 'write');
    assert.equal(requiredRole('POST', key), 'write');
    for (const path of [HEARTBEAT_PATH, CLUSTER_PATH, EVENTS_PATH, STATS_PATH, METRICS_PATH, locatePath('x'), '/no/such/route']) {
      assert.equal(requiredRole('GET', path), 'read', path);
    }
    for (const path of ['/ui', '/ui/', '/ui/app.js', GOSSIP_PATH]) assert.equal(requiredRole('GET', path), null, path);
    // Only the exact prefix is public.
    assert.equal(requiredRole('GET', '/uix'), 'read');
  });
});

describe('access decisions', () => {
  const table = parseTokens(FILE, 'tokens');
  const key = documentPath('0d5d3807-5fbf-4228-a657-5a091c4e497f');

  it('takes the token from the Authorization header, else from access_token', () => {
    assert.equal(bearerToken('Bearer abc', ''), 'abc');
    assert.equal(bearerToken('bearer   abc  ', ''), 'abc');
    assert.equal(bearerToken('Basic abc', 'access_token=x'), null);
    assert.equal(bearerToken(undefined, 'a=1&access_token=x%2By'), 'x+y');
    assert.equal(bearerToken(undefined, 'access_token='), null);
  });

  it('401 without a known token, 403 for too weak a role, allowed otherwise', () => {
    assert.deepEqual(checkAccess(table, 'GET', key, undefined), { allowed: false, status: 401, error: 'Unauthorized: this node needs a token (Authorization: Bearer TOKEN)' });
    assert.deepEqual(checkAccess(table, 'GET', key, 'Bearer nope'), { allowed: false, status: 401, error: 'Unauthorized: unknown token' });
    assert.deepEqual(checkAccess(table, 'PUT', key, 'Bearer reader-token-0123456789'), {
      allowed: false,
      status: 403,
      error: 'Forbidden: a read token cannot write documents (needs write)',
    });
    assert.deepEqual(checkAccess(table, 'GET', key, 'Bearer reader-token-0123456789'), { allowed: true });
    assert.deepEqual(checkAccess(table, 'PUT', key, 'Bearer writer-token-0123456789'), { allowed: true });
    assert.deepEqual(checkAccess(table, 'DELETE', key, 'Bearer admin-token-01234567890'), { allowed: true });
    assert.deepEqual(checkAccess(table, 'GET', `${EVENTS_PATH}?access_token=reader-token-0123456789`, undefined), { allowed: true });
    assert.deepEqual(checkAccess(table, 'GET', '/ui/index.html', undefined), { allowed: true });
  });
});
