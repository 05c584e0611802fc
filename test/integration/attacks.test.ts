// The attack corpus of issue 12, replayed against three real nodes holding 200
// known documents: every scenario once as an outsider (no cluster secret) and,
// where a payload could get past authentication, once more signed like a
// member, so that each check stands on its own. Every attack must fail
// cleanly (a one-line JSON error, or a one-line `Error:` and a non-zero exit),
// no node may crash, and the 200 documents must survive.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { openSync, ftruncateSync, closeSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalCluster } from '../../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../../src/local-cluster/ports.js';
import { Type } from '@sinclair/typebox';
import { signRequest } from '../../src/security/cluster-auth.js';
import { servePeerStreams } from '../../src/server/peer-streams.js';
import type { InternalRoute } from '../../src/server/internal-routes.js';
import { createLogger } from '../../src/common/logger.js';
import { NODE_BIN } from '../helpers/cli.js';
import { TEST_SECRET, fastCluster, http, inParallel, internalPost, json, literal, makeKeys, nodeIds, runToExit, type HttpAnswer, type Finished } from '../helpers/integration.js';
import { GOSSIP_PATH, HEARTBEAT_PATH, PEER_STREAM_PATH, PEER_STREAM_PROTOCOL, REPLICA_READ_PATH, REPLICA_WRITE_PATH, SYNC_DIGEST_PATH, SYNC_KEYS_PATH, documentPath } from '../../src/protocol/paths.js';

// Ascending: the cluster's own nodes sort before the fake members, so no fake takes the lead by its id.
const ALL_PORTS = await allocatePorts(14);
const PORTS = ALL_PORTS.slice(0, 3);
const NODES = nodeIds(PORTS);
const [A, B, C] = NODES as [string, string, string];
/** For nodes that must refuse to start, and for another cluster's node. */
const [SAME_DIR_PORT, BAD_FLAGS_PORT, STRANGER_PORT] = ALL_PORTS.slice(3, 6) as [number, number, number];
const STRANGER = `127.0.0.1:${STRANGER_PORT}`;
const FAKES = nodeIds(ALL_PORTS.slice(6));
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

const docs = makeKeys(1212, 200).map((key, i) => ({ key, value: JSON.stringify({ artifact: i, name: `item ${i}` }) }));

function gossip(overrides: Record<string, unknown> = {}): string {
  const from = { id: FAKES[0], joined: 1 };
  return JSON.stringify({ cluster: 'Warehouse 13', from, leader: null, term: 1, replicationFactor: 2, nodes: [from], ...overrides });
}

function record(key: unknown, version: unknown, value: unknown): string {
  return JSON.stringify({ records: [{ key, version, value }] });
}

/** A refusal as the API promises it: the status, and one line of JSON with an error. */
function assertRefused(answer: HttpAnswer, statuses: readonly number[]): void {
  assert.ok(statuses.includes(answer.status), `HTTP ${answer.status} (expected ${statuses.join('/')}): ${answer.text.slice(0, 200)}`);
  assert.equal(answer.text.split('\n').length, 1);
  assert.equal(typeof json(answer).error, 'string');
}

function assertOneLineError(run: Finished, pattern: RegExp): void {
  assert.notEqual(run.code, 0, run.stderr);
  assert.equal(run.signal, null, `killed by ${run.signal}`);
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0]!, pattern);
}

/** An upgrade to a peer stream with the given headers, answered with an HTTP error (or the 101, as status 101). */
function upgradeTo(node: string, headers: Record<string, string>): Promise<HttpAnswer> {
  const [host, port] = node.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const asking = request({ host, port: Number(port), path: PEER_STREAM_PATH, agent: false, headers: { connection: 'Upgrade', upgrade: PEER_STREAM_PROTOCOL, ...headers } });
    asking.on('upgrade', (_response, socket) => {
      socket.destroy();
      resolve({ status: 101, headers: {}, text: '{"error":"upgraded"}' });
    });
    asking.on('response', (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, text }));
    });
    asking.on('error', reject);
    asking.end();
  });
}

/**
 * Fake nodes speaking the peer-stream protocol. With `respond`, they hold the
 * cluster secret (a misconfigured member) and answer every internal request
 * with it, counting the requests by path. Without (null), they are outsiders:
 * they refuse every stream, as any server without the secret does, and count
 * the attempts as hits of PEER_STREAM_PATH.
 */
async function fakeNodes(ids: readonly string[], respond: ((path: string) => { status: number; body: string }) | null) {
  const hits = new Map<string, number>();
  const count = (path: string) => hits.set(path, (hits.get(path) ?? 0) + 1);
  const servers: Server[] = [];
  const streams: { close(): void }[] = [];
  const routes: InternalRoute[] = respond
    ? [GOSSIP_PATH, REPLICA_WRITE_PATH, REPLICA_READ_PATH, SYNC_DIGEST_PATH, SYNC_KEYS_PATH].map((path) => ({
        path,
        body: Type.Unknown(),
        responses: {},
        handle: () => {
          count(path);
          const { status, body } = respond(path);
          return { status, body: JSON.parse(body) as unknown };
        },
      }))
    : [];
  for (const id of ids) {
    const server = createServer((_request, response) => response.writeHead(404).end());
    if (!respond) server.on('upgrade', () => count(PEER_STREAM_PATH));
    streams.push(servePeerStreams(server, routes, { secret: respond ? TEST_SECRET : 'a-secret-that-is-not-the-cluster-one', maxPayloadBytes: 1 << 20, logger: createLogger('fake-node', 'silent') }));
    server.listen(Number(id.split(':')[1]), '127.0.0.1');
    await once(server, 'listening');
    servers.push(server);
  }
  return {
    hits: (path: string) => hits.get(path) ?? 0,
    close: async () => {
      for (const stream of streams) stream.close();
      for (const server of servers) server.closeAllConnections();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    },
  };
}

describe('attack corpus (3 nodes, RF 2, 200 documents)', { timeout: 300_000 }, () => {
  let cluster: LocalCluster;
  let leader: string;
  const results: { name: string; error?: string }[] = [];

  before(async () => {
    cluster = fastCluster('attacks', 2);
    await cluster.start(PORTS);
    leader = await cluster.waitForLeader();
    await inParallel(docs, 16, async ({ key, value }) => {
      const answer = await http('PUT', `http://${leader}${documentPath(key)}`, value);
      assert.equal(answer.status, 201, answer.text);
    });
  });

  after(() => cluster.stop());

  /** Runs one attack; its failure is recorded, the corpus goes on. */
  async function attack(name: string, run: () => Promise<void>): Promise<void> {
    try {
      await run();
      results.push({ name });
    } catch (error) {
      results.push({ name, error: (error as Error).message.split('\n').slice(0, 3).join(' ') });
    }
  }

  async function heartbeatOf(node: string) {
    const beat = await cluster.heartbeat(node);
    assert.ok(beat, `${node} answers its heartbeat`);
    return beat;
  }

  /** The cluster as it should stay: the same three nodes, one leader, the leader's term. */
  async function assertClusterIntact(term?: number): Promise<void> {
    for (const node of NODES) {
      const beat = await heartbeatOf(node);
      assert.deepEqual(beat.nodes.map((info) => info.id).sort(), [...NODES].sort(), `${node} lists only the members`);
      assert.equal(beat.leader, leader, `${node} follows ${leader}`);
      if (term !== undefined) assert.equal(beat.term, term, `${node} keeps term ${term}`);
    }
  }

  /** Waits until each node has gossiped a few more rounds. */
  async function someRounds(rounds = 5): Promise<void> {
    const until = Date.now() + rounds * 200;
    await cluster.waitFor(() => Date.now() > until, { timeoutMs: 10_000, intervalMs: 50 });
  }

  it('every attack fails cleanly, no node crashes, and the 200 documents survive', async (t) => {
    const { term } = await heartbeatOf(leader);

    await attack('an outsider opening a peer stream: unsigned, with another secret, or a forged nonce', async () => {
      const signedUpgrade = { 'x-warehouse-nonce': 'ab'.repeat(32), ...signRequest(TEST_SECRET, 'GET', PEER_STREAM_PATH, 'ab'.repeat(32)) };
      for (const node of NODES) {
        assertRefused(await upgradeTo(node, {}), [401]);
        assertRefused(await upgradeTo(node, { 'x-warehouse-nonce': 'ab'.repeat(32), ...signRequest('not-the-cluster-secret', 'GET', PEER_STREAM_PATH, 'ab'.repeat(32)) }), [403]);
        assertRefused(await upgradeTo(node, { ...signedUpgrade, 'x-warehouse-nonce': 'cd'.repeat(32) }), [403]);
      }
      await assertClusterIntact(term);
    });

    await attack('gossip from an outsider naming a fake peer, an outsider too', async () => {
      const fakes = await fakeNodes(FAKES.slice(0, 1), null);
      try {
        for (const node of NODES) assertRefused(await internalPost(node, GOSSIP_PATH, gossip(), null), [401]);
        // A member naming it: the nodes try to open a stream to it, it refuses them, and that stops nobody.
        for (const node of NODES) assert.equal((await internalPost(node, GOSSIP_PATH, gossip())).status, 200);
        await cluster.waitFor(() => fakes.hits(PEER_STREAM_PATH) >= 6, { timeoutMs: 10_000, message: 'the nodes to contact the fake peer' });
        await someRounds();
        assert.equal(cluster.running().length, 3);
        await assertClusterIntact(term);
      } finally {
        await fakes.close();
      }
    });

    await attack('a signed 409 from a smaller group (one misconfigured member) stops nobody', async () => {
      const fakes = await fakeNodes(FAKES.slice(1, 2), () => ({ status: 409, body: '{"error":"replication factor 3 does not match","alive":1}' }));
      try {
        for (const node of NODES) assert.equal((await internalPost(node, GOSSIP_PATH, gossip({ from: { id: FAKES[1], joined: 1 }, nodes: [] }))).status, 200);
        await cluster.waitFor(() => fakes.hits(GOSSIP_PATH) >= 6, { timeoutMs: 10_000, message: 'the nodes to hear the 409' });
        await someRounds();
        assert.equal(cluster.running().length, 3);
        await assertClusterIntact(term);
      } finally {
        await fakes.close();
      }
    });

    await attack('a fake leader with term 1e308, 2^53-1 or a jump of 2^50', async () => {
      for (const fakeTerm of [1e308, MAX_SAFE, term + 2 ** 50]) {
        const body = gossip({ leader: FAKES[0], term: fakeTerm });
        for (const node of NODES) {
          assertRefused(await internalPost(node, GOSSIP_PATH, body, null), [401]);
          assertRefused(await internalPost(node, GOSSIP_PATH, body), [400, 409]);
        }
      }
      // A real member's id claiming leadership with a huge term, from a request: not adopted either.
      assertRefused(await internalPost(A, GOSSIP_PATH, gossip({ from: { id: B, joined: 1 }, leader: B, term: term + 2_000_000 })), [409]);
      await someRounds();
      await assertClusterIntact(term);
    });

    await attack('8 fake members, outsiders, named by a member', async () => {
      const fakes = await fakeNodes(FAKES, null);
      try {
        const members = FAKES.map((id) => ({ id, joined: 1 }));
        for (const node of NODES) {
          assertRefused(await internalPost(node, GOSSIP_PATH, gossip({ nodes: members }), null), [401]);
          assert.equal((await internalPost(node, GOSSIP_PATH, gossip({ nodes: members }))).status, 200);
        }
        await cluster.waitFor(() => fakes.hits(PEER_STREAM_PATH) >= 16, { timeoutMs: 10_000, message: 'the nodes to contact the fakes' });
        await someRounds(10);
        await assertClusterIntact(term);
      } finally {
        await fakes.close();
      }
    });

    await attack('an immortal value: a replica write with version [2^53-1, 2^53-1, …]', async () => {
      const { key } = docs[0]!;
      for (const version of [[MAX_SAFE, MAX_SAFE, 'x:1'], [term, MAX_SAFE, A], [term + 2_000_000, 1, A], [term, (Date.now() + 86_400_000) * 1024, A]]) {
        const body = record(key, version, '{"immortal": true}');
        for (const node of NODES) {
          assertRefused(await internalPost(node, REPLICA_WRITE_PATH, body, null), [401]);
          assertRefused(await internalPost(node, REPLICA_WRITE_PATH, body), [400]);
        }
      }
      // The public API still replaces and deletes, and the leader's clock is not frozen.
      const url = `http://${leader}${documentPath(docs[1]!.key)}`;
      assert.equal((await http('GET', url)).text, docs[1]!.value);
      const other = makeKeys(1213, 1)[0]!;
      assert.equal((await http('PUT', `http://${leader}${documentPath(other)}`, '{"v": 1}')).status, 201);
      assert.equal((await http('PUT', `http://${leader}${documentPath(other)}`, '{"v": 2}')).status, 200);
      assert.equal((await http('GET', `http://${leader}${documentPath(other)}`)).text, '{"v": 2}');
      assert.equal((await http('DELETE', `http://${leader}${documentPath(other)}`)).status, 200);
      assert.equal((await http('GET', `http://${leader}${documentPath(other)}`)).status, 404);
    });

    await attack('dumping every key and value through sync/keys and replicas/read', async () => {
      for (const node of NODES) {
        assertRefused(await internalPost(node, SYNC_KEYS_PATH, JSON.stringify({ from: A, members: NODES, buckets: [0, 1, 2] }), null), [401]);
        assertRefused(await internalPost(node, REPLICA_READ_PATH, JSON.stringify({ keys: docs.map((doc) => doc.key) }), null), [401]);
        assertRefused(await internalPost(node, REPLICA_READ_PATH, JSON.stringify({ keys: docs.map((doc) => doc.key) }), 'a-guessed-secret-of-some-length'), [403]);
      }
    });

    await attack('denial of service: a 250 KB sync/keys, a 1,024-member digest, gossip naming 1,024 ids', async () => {
      const buckets = Array.from({ length: 65_536 }, (_, i) => i % 4096);
      const members = Array.from({ length: 1024 }, (_, i) => `10.1.${i >> 8}.${i & 255}:1`);
      const bodies: [string, string][] = [
        [SYNC_KEYS_PATH, JSON.stringify({ from: A, members: NODES, buckets })],
        [SYNC_DIGEST_PATH, JSON.stringify({ from: A, members: [A, ...members], buckets: [] })],
        [GOSSIP_PATH, gossip({ nodes: members.map((id) => ({ id, joined: 1 })) })],
      ];
      for (const [path, body] of bodies) {
        for (const secret of [null, TEST_SECRET]) {
          const started = Date.now();
          assertRefused(await internalPost(B, path, body, secret), secret === null ? [401] : [400]);
          assert.ok(Date.now() - started < 5000, `${path} answered in ${Date.now() - started} ms`);
        }
      }
      // A digest and a key list a member may legitimately ask for are answered, chunked.
      assert.equal((await internalPost(B, SYNC_KEYS_PATH, JSON.stringify({ from: A, members: NODES, buckets: Array.from({ length: 64 }, (_, i) => i) }))).status, 200);
      await assertClusterIntact(term);
    });

    await attack('bad records through the side door: paths as keys, 30 MiB values, CR/LF writers, ESC bytes', async () => {
      const { key } = docs[2]!;
      const version = [term, Date.now() * 1024, A];
      const cases: string[] = [
        record('../../etc/passwd', version, '{}'),
        record('', version, '{}'),
        record(key.toUpperCase(), version, '{}'),
        record(key, [term, Date.now() * 1024, 'evil\r\nx-injected: 1'], '{}'),
        record(key, version, '\u001b[2J\u001b[31mowned'),
        record(key, version, JSON.stringify('x'.repeat(30 * 1024 * 1024))),
        JSON.stringify({ records: [{ key, version, value: '{}' }], hintFor: ['a:1', 'b:2'] }),
      ];
      for (const body of cases) {
        for (const node of NODES) {
          // An outsider's large body is refused before it is read: the connection may close under it.
          const unsigned = await internalPost(node, REPLICA_WRITE_PATH, body, null).catch(() => null);
          if (unsigned) assertRefused(unsigned, [401]);
          assertRefused(await internalPost(node, REPLICA_WRITE_PATH, body, TEST_SECRET, 30_000), [400, 413]);
        }
      }
      for (const node of NODES) {
        assertRefused(await internalPost(node, GOSSIP_PATH, gossip({ from: { id: B, joined: 1 }, repair: { underReplicated: 1e308, transfersInProgress: 0, hintsPending: 0, syncedFor: [] } })), [400]);
        assert.equal((await http('GET', `http://${node}${HEARTBEAT_PATH}`)).status, 200);
      }
      assert.equal((await http('GET', `http://${leader}${documentPath(key)}`)).text, docs[2]!.value);
    });

    await attack('a second node on the same data dir', async () => {
      const node = cluster.get(C);
      const args = [...node.args];
      args[args.indexOf('--port') + 1] = String(SAME_DIR_PORT);
      const run = await runToExit(NODE_BIN, args, 30_000);
      assertOneLineError(run, /^Error: data dir .* is in use by another node \(pid \d+\)/);
    });

    await attack('duration flags beyond what a timer holds, and --data-dir /proc/self/x', async () => {
      const base = ['--port', String(BAD_FLAGS_PORT), '--cluster-secret-file', cluster.secretFile];
      const flag = await runToExit(NODE_BIN, [...base, '--anti-entropy-interval', '1000h', '--data-dir', join(cluster.options.baseDir, 'never')], 30_000);
      assert.equal(flag.code, 2, flag.stderr);
      assertOneLineError(flag, /^Error: .*1000h.* longer than 24\.8 days/);
      const proc = await runToExit(NODE_BIN, [...base, '--data-dir', '/proc/self/x'], 30_000);
      assertOneLineError(proc, /^Error: data dir \/proc\/self\/x is on \/proc/);
      assert.ok(proc.ms < 15_000, `refused after ${proc.ms} ms`);
    });

    await attack('restarting a member with another --replication-factor', async () => {
      const node = cluster.get(C);
      await node.stop('SIGTERM');
      const args = [...node.args];
      args[args.indexOf('--replication-factor') + 1] = '3';
      const run = await runToExit(NODE_BIN, args, 30_000);
      assertOneLineError(run, /^Error: the data in .* belongs to a cluster with replication factor 2, not 3: start with --replication-factor 2/);
      await cluster.restart(C);
      await cluster.waitForLeader(leader);
    });

    let other: LocalCluster | undefined;
    await attack('a data dir from another cluster joined with --join', async () => {
      // Another cluster (same secret: the operator's mistake) holds a stale copy of a document.
      other = fastCluster('attacks-other', 2);
      const stranger = await other.startNode({ port: STRANGER_PORT, join: null });
      const { key } = docs[3]!;
      assert.equal((await http('PUT', `http://${stranger.id}${documentPath(key)}`, '{"stale": true}')).status, 201);
      await stranger.stop('SIGTERM');
      // It learns the cluster's id only from the members' answers, after it listens: its info lines are left out.
      const args = [...stranger.args, '--join', A, '--cluster-secret-file', cluster.secretFile, '--log-level', 'warn'];
      const run = await runToExit(NODE_BIN, args, 40_000);
      assertOneLineError(run, new RegExp(`^Error: ${literal(STRANGER)} belongs to another cluster .* move that data dir away to join with an empty one`));
      assert.equal((await http('GET', `http://${leader}${documentPath(key)}`)).text, docs[3]!.value);
      await assertClusterIntact();
    });

    await attack('a truncated or zeroed store file', async () => {
      assert.ok(other, 'the other cluster ran');
      const stranger = other.get(STRANGER);
      const file = join(stranger.dataDir, 'warehouse.mdb');
      const size = statSync(file).size;
      const fd = openSync(file, 'r+');
      ftruncateSync(fd, Math.floor(size / 3));
      closeSync(fd);
      const truncated = await runToExit(NODE_BIN, stranger.args, 30_000);
      assertOneLineError(truncated, /^Error: the store .*warehouse\.mdb is damaged .*move the data dir away and start this node empty/);
      writeFileSync(file, Buffer.alloc(size));
      const zeroed = await runToExit(NODE_BIN, stranger.args, 30_000);
      assertOneLineError(zeroed, /^Error: the store .*warehouse\.mdb is damaged/);
    });
    await other?.stop();

    // The verdict: every document intact on the leader and on its owners, nobody crashed.
    await cluster.waitForInSync(60_000);
    let lost = 0;
    await inParallel(docs, 16, async ({ key, value }) => {
      const answer = await http('GET', `http://${leader}${documentPath(key)}`);
      if (answer.status !== 200 || answer.text !== value) lost++;
    });
    const crashed = [...cluster.nodes.values()].filter((node) => !node.running).length;
    const failed = results.filter((result) => result.error);
    t.diagnostic(`attacks tried: ${results.length}, rejected cleanly: ${results.length - failed.length}, crashed: ${crashed}, data lost: ${lost} of ${docs.length}`);
    assert.deepEqual(failed, []);
    assert.equal(crashed, 0);
    assert.equal(lost, 0);
  });
});
