// The public API of a cluster started with --cert/--key/--ca and
// --tokens-file, on real processes with certificates made by the documented
// openssl recipe (scripts/dev-certs.sh): plain HTTP gets no answer, the CLI
// needs --tls and the CA, every public route needs a token of a sufficient
// role (401/403 with one-line JSON errors), the dashboard takes its token
// from the page's fragment, and the CLI follows a failover over TLS.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import type { LocalCluster } from '../../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../../src/local-cluster/ports.js';
import { CLI_BIN, CliDriver, NODE_BIN, REPO_ROOT } from '../helpers/cli.js';
import { launchBrowser, noBrowser } from '../helpers/browser.js';
import { type HttpAnswer, fastCluster, http, json, literal, makeKeys, nodeIds, runToExit, tempDir, withLogs } from '../helpers/integration.js';
import { CLUSTER_PATH, HEARTBEAT_PATH, METRICS_PATH, STATS_PATH, documentPath, locatePath } from '../../src/protocol/paths.js';

// Ascending, so ONE leads; the last three are for nodes that must refuse to start or to join.
const [P1, P2, P3, REFUSED_PORT, PLAIN_PORT, NO_CA_PORT] = (await allocatePorts(6)) as [number, number, number, number, number, number];
const PORTS = [P1, P2, P3];
const [ONE, TWO, THREE] = nodeIds(PORTS) as [string, string, string];
const READ = 'read-token-for-the-test-0001';
const WRITE = 'write-token-for-the-test-0002';
const ADMIN = 'admin-token-for-the-test-0003';

function assertRefused(answer: HttpAnswer, status: 401 | 403, pattern: RegExp): void {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.text.split('\n').length, 1);
  assert.match(json(answer).error, pattern);
  assert.match(String(answer.headers['www-authenticate']), /^Bearer realm="warehouse13"/);
}

describe('TLS and client tokens (3 nodes, RF 2)', { timeout: 90_000 }, () => {
  const certs = tempDir('certs');
  const ca = join(certs, 'ca.crt');
  const tokens = join(certs, 'tokens');
  let cluster: LocalCluster;
  let agent: Agent;
  let cli: CliDriver | undefined;
  /** An HTTPS request trusting the test CA, with a token or none. */
  const call = (method: 'GET' | 'PUT' | 'DELETE', url: string, token: string | null, body?: string) =>
    http(method, `https://${url}`, body, token === null ? {} : { authorization: `Bearer ${token}` }, 5000, agent);

  before(async () => {
    const made = spawnSync('sh', [join(REPO_ROOT, 'scripts/dev-certs.sh'), certs, '127.0.0.1'], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    writeFileSync(tokens, `# role token\nread ${READ}\nwrite ${WRITE}\nadmin ${ADMIN}\n`, { mode: 0o600 });
    agent = new Agent({ connect: { ca: readFileSync(ca) } });
    cluster = fastCluster('clientsec', 2, {
      tls: { cert: join(certs, 'node.crt'), key: join(certs, 'node.key'), ca },
      tokens: { file: tokens, token: READ },
    });
    await cluster.start(PORTS);
    assert.equal(await cluster.waitForLeader(undefined, 15_000), ONE);
  });

  after(async () => {
    await cli?.kill();
    await cluster.stop();
    await agent.close();
  });

  it('a node refuses unusable TLS or token files with one line and exit status 2', async () => {
    const node = (...flags: string[]) => runToExit(NODE_BIN, ['--port', String(REFUSED_PORT), '--data-dir', join(certs, 'refused'), ...flags], 20_000);
    const cases: [string[], RegExp][] = [
      [['--cert', join(certs, 'node.crt')], /^Error: --cert and --key go together$/],
      [['--cert', join(certs, 'nope.crt'), '--key', join(certs, 'node.key')], /^Error: cannot read the certificate .*nope\.crt \(ENOENT\)$/],
      [['--cert', join(certs, 'node.crt'), '--key', join(certs, 'ca.key')], /^Error: the certificate .* and key .* are not usable together \(key values mismatch\)$/],
      [['--cert', join(certs, 'node.crt'), '--key', join(certs, 'node.key'), '--ca', join(certs, 'tokens')], /^Error: the CA certificate .*tokens is not a PEM file$/],
      [['--tokens-file', ca], /^Error: .*ca\.crt line 1: "-----BEGIN" is not a role \(read, write, admin\)/],
    ];
    for (const [flags, message] of cases) {
      const refused = await node(...flags);
      assert.equal(refused.code, 2, refused.stderr);
      assert.equal(refused.stderr.split('\n').length, 2, refused.stderr);
      assert.match(refused.stderr.trim(), message);
    }
  });

  it('a node without TLS, or without the CA, cannot join, and says why in one line', async () => {
    const joiner = (port: number, ...flags: string[]) =>
      runToExit(NODE_BIN, ['--port', String(port), '--join', ONE, '--data-dir', join(certs, `joiner-${port}`), '--cluster-secret-file', cluster.secretFile, ...flags], 30_000);
    const [plain, noCa] = await Promise.all([joiner(PLAIN_PORT), joiner(NO_CA_PORT, '--cert', join(certs, 'node.crt'), '--key', join(certs, 'node.key'))]);
    assert.equal(plain.code, 1, plain.stderr);
    assert.match(plain.stderr, new RegExp(`^Error: cannot reach ${literal(ONE)} to join \\(.*socket hang up; if the cluster serves HTTPS, this node needs --cert, --key and --ca too\\)\n$`));
    assert.equal(noCa.code, 1, noCa.stderr);
    assert.match(noCa.stderr, new RegExp(`^Error: cannot reach ${literal(ONE)} to join \\(.*the node's certificate is not trusted; give this node the CA that signed the cluster's certificates with --ca\\)\n$`));
    for (const beat of await cluster.heartbeats()) assert.deepEqual(beat.nodes.map((node) => node.id), [ONE, TWO, THREE]);
  });

  it('answers no plain HTTP request; the CLI says what is missing in one line', async () => {
    await assert.rejects(http('GET', `http://${ONE}${HEARTBEAT_PATH}`));
    const plain = await runToExit(CLI_BIN, ['-P', String(P2), 'STATUS'], 20_000, { WAREHOUSE_TOKEN: READ });
    assert.equal(plain.code, 1, plain.stderr);
    assert.match(plain.stderr, new RegExp(`^Error: cannot connect to a database of Warehouse 13 at ${literal(TWO)} \\(.*; a node serving HTTPS needs --tls\\)\n$`));
    const untrusted = await runToExit(CLI_BIN, ['-P', String(P2), '--tls', 'STATUS'], 20_000, { WAREHOUSE_TOKEN: READ });
    assert.equal(untrusted.code, 1, untrusted.stderr);
    assert.match(untrusted.stderr, /^Error: cannot connect .*the node's certificate is not trusted; pass the cluster's CA with --ca FILE\)\n$/);
  });

  it('every public route needs a token; reading needs read, writing write; 401 and 403 are one-line JSON errors', async () => {
    const [key] = makeKeys(7, 1);
    const document = `${ONE}${documentPath(key)}`;
    assertRefused(await call('GET', `${ONE}${HEARTBEAT_PATH}`, null), 401, /^Unauthorized: this node needs a token/);
    assertRefused(await call('GET', document, 'not-a-token-of-this-cluster'), 401, /^Unauthorized: unknown token$/);
    assertRefused(await call('PUT', document, READ, '{"a": 1}'), 403, /^Forbidden: a read token cannot write documents \(needs write\)$/);
    assertRefused(await call('DELETE', document, READ), 403, /^Forbidden/);
    assert.equal((await call('GET', document, READ)).status, 404);
    assert.equal((await call('PUT', document, WRITE, '{"a": 1}')).status, 201);
    assert.equal((await call('PUT', document, ADMIN, '{"a": 2}')).status, 200);
    assert.equal((await call('GET', document, READ)).text, '{"a": 2}');
    // A follower checks the token before it redirects, and redirects over HTTPS.
    assertRefused(await call('PUT', `${TWO}${documentPath(key)}`, null, '{}'), 401, /^Unauthorized/);
    const redirected = await call('GET', `${TWO}${documentPath(key)}`, READ);
    assert.equal(redirected.status, 307);
    assert.equal(redirected.headers.location, `https://${ONE}${documentPath(key)}`);
    for (const path of [METRICS_PATH, CLUSTER_PATH, STATS_PATH, locatePath(key)]) {
      assertRefused(await call('GET', `${THREE}${path}`, null), 401, /^Unauthorized/);
      assert.equal((await call('GET', `${THREE}${path}`, READ)).status, 200, path);
    }
    // The dashboard's page holds no data; its event stream takes the token as a query parameter.
    assert.equal((await call('GET', `${THREE}/ui/`, null)).status, 200);
    assert.equal((await call('GET', `${THREE}${CLUSTER_PATH}?access_token=${READ}`, null)).status, 200);
  });

  it('the dashboard works with its token in the page\'s fragment, the leader\'s traffic included', { skip: noBrowser }, async () => {
    const context = await launchBrowser({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      await page.goto(`https://${TWO}/ui/#token=${READ}`);
      await page.locator('#nodes tbody tr.alive').nth(2).waitFor({ timeout: 10_000 });
      assert.equal(await page.locator('#leader').textContent(), ONE);
      for (const key of makeKeys(9, 20)) assert.equal((await call('PUT', `${ONE}${documentPath(key)}`, WRITE, '{"n": 1}')).status, 201);
      // The follower serving the page asks the leader for these figures over the signed internal route.
      await page.waitForFunction((leader) => new RegExp(`\\d+/s on ${leader}`).test(document.getElementById('rate')?.textContent ?? ''), ONE, { timeout: 10_000 });
    } finally {
      await context.close();
    }
  });

  it('SIGHUP reads the tokens file again: a revoked token is refused at once; a broken file keeps the tokens in force', async () => {
    const node = cluster.get(THREE);
    const heartbeat = (token: string) => call('GET', `${THREE}${HEARTBEAT_PATH}`, token);
    /** Sends SIGHUP and waits for the node to log `outcome` once more. */
    const hangUp = async (outcome: 'tokens reloaded' | 'tokens not reloaded') => {
      const seen = () => node.lastOutput(500).split(`"msg":"${outcome}`).length;
      const before = seen();
      node.signal('SIGHUP');
      await cluster.waitFor(() => seen() > before, { timeoutMs: 5000, message: outcome });
    };
    const fresh = 'a-token-added-without-restart';
    writeFileSync(tokens, `write ${WRITE}\nadmin ${ADMIN}\nread ${fresh}\n`);
    await hangUp('tokens reloaded');
    assertRefused(await heartbeat(READ), 401, /^Unauthorized: unknown token$/);
    assert.equal((await heartbeat(fresh)).status, 200);
    writeFileSync(tokens, 'reader nonsense\n');
    await hangUp('tokens not reloaded');
    assert.equal((await heartbeat(fresh)).status, 200);
    writeFileSync(tokens, `read ${READ}\nwrite ${WRITE}\nadmin ${ADMIN}\n`);
    await hangUp('tokens reloaded');
    assert.equal((await heartbeat(READ)).status, 200);
  });

  it('the CLI with --ca and a token writes and reads, a read token cannot write, and it follows a failover over TLS', async () => {
    const [key] = makeKeys(8, 1);
    const readOnly = await runToExit(CLI_BIN, ['-P', String(P3), '--ca', ca, 'SET', key!, '{"x": 0}'], 20_000, { WAREHOUSE_TOKEN: READ });
    assert.equal(readOnly.code, 1, readOnly.stderr);
    assert.equal(readOnly.stderr, 'Error: Forbidden: a read token cannot write documents (needs write)\n');

    cli = CliDriver.start(['-P', String(P3), '--ca', ca, '--token', WRITE, '--heartbeat-interval', '200ms']);
    try {
      await cli.lineMatching(new RegExp(`^Connected to a database of Warehouse 13 at ${literal(ONE)}$`), 20_000);
      assert.deepEqual(await cli.lines(4), ['Known nodes:', ONE, TWO, THREE]);
      assert.deepEqual(await cli.ask(`SET ${key} {"x": 1}`), ['Created (2 replicas)']);
      assert.deepEqual(await cli.ask(`GET ${key}`), [`'{"x": 1}'`]);
      await cluster.get(ONE).stop('SIGKILL');
      await cli.lineMatching(new RegExp(`^Reconnected to a database of Warehouse 13 at (${literal(TWO)}|${literal(THREE)})$`), 20_000);
      cli.send(`SET ${key} {"x": 2}`);
      await cli.lineMatching(/^Updated \([12] replicas?\)$/, 20_000);
      cli.send(`GET ${key}`);
      await cli.lineMatching(`'{"x": 2}'`, 20_000);
    } catch (error) {
      throw withLogs(cluster, new Error(`${(error as Error).message}\n${cli.describe()}`));
    }
  });
});
