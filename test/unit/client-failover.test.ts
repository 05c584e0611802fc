// Drives the real client against tiny in-process fake nodes on loopback:
// the failover logic is only worth testing against real sockets closing.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { AccessDeniedError, InvalidRequestError, UnavailableError, WarehouseClient, type Heartbeat } from '../../src/client/index.js';
import { HEARTBEAT_PATH, documentPath } from '../../src/protocol/paths.js';

const KEY = '0d5d3807-5fbf-4228-a657-5a091c4e497f';

interface Seen {
  method: string;
  url: string;
  body: string;
  contentType: string | undefined;
}

class FakeNode {
  id = '';
  /** Who this node believes leads; null during an "election". */
  leader: string | null = null;
  term = 1;
  /** Overrides the document answer (status and body) when set. */
  answer: { status: number; body: unknown } | null = null;
  /** When set, every request without `Authorization: Bearer <token>` gets a 401, as with --tokens-file. */
  token: string | null = null;
  readonly seen: Seen[] = [];
  /** The Idempotency-Key of each request in `seen`. */
  readonly idempotencyKeys: (string | undefined)[] = [];
  private readonly server: Server;

  get alive(): boolean {
    return this.server.listening;
  }

  constructor(private readonly cluster: FakeCluster) {
    this.server = createServer((request, response) => void this.handle(request, response));
  }

  async start(): Promise<void> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.id = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async kill(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of request) body += String(chunk);
    const send = (status: number, payload: unknown, raw?: string): void => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(raw ?? JSON.stringify(payload));
    };
    if (this.token !== null && request.headers.authorization !== `Bearer ${this.token}`) return send(401, { error: 'Unauthorized: unknown token' });
    if (request.url === HEARTBEAT_PATH) return send(200, this.heartbeat());
    this.seen.push({ method: request.method!, url: request.url!, body, contentType: request.headers['content-type'] });
    this.idempotencyKeys.push(request.headers['idempotency-key'] as string | undefined);
    if (this.answer) return send(this.answer.status, this.answer.body);
    if (this.leader === null) return send(503, { error: 'No leader elected yet', leader: null });
    if (this.leader !== this.id) return send(307, { error: 'Not the leader', leader: this.leader });
    const key = request.url!.split('/').pop()!;
    const docs = this.cluster.documents;
    if (request.method === 'GET') return docs.has(key) ? send(200, null, docs.get(key)) : send(404, { error: 'Not found' });
    if (request.method === 'PUT') {
      const existed = docs.has(key);
      docs.set(key, body);
      return send(existed ? 200 : 201, { result: existed ? 'updated' : 'created', replicas: 2 });
    }
    if (!docs.delete(key)) return send(404, { error: 'Not found' });
    return send(200, { result: 'deleted', replicas: 2 });
  }

  private heartbeat(): Heartbeat {
    const alive = this.cluster.nodes.filter((node) => node.alive);
    return {
      cluster: 'Warehouse 13',
      node: this.id,
      leader: this.leader,
      term: this.term,
      replicationFactor: 2,
      heartbeatIntervalMs: 50,
      failureTimeoutMs: 200,
      nodes: alive.map((node, joined) => ({ id: node.id, joined, state: 'alive' as const })),
      warnings: alive.length < 2 ? [`cluster size (${alive.length}) is smaller than a replication factor (2)!`] : [],
    };
  }
}

class FakeCluster {
  readonly documents = new Map<string, string>();
  readonly nodes: FakeNode[] = [];

  static async start(size: number): Promise<FakeCluster> {
    const cluster = new FakeCluster();
    for (let i = 0; i < size; i += 1) {
      const node = new FakeNode(cluster);
      await node.start();
      cluster.nodes.push(node);
    }
    cluster.elect(cluster.nodes[0]!, 1);
    return cluster;
  }

  /** Every node agrees on the leader; null models an election in progress. */
  elect(leader: FakeNode | null, term: number): void {
    for (const node of this.nodes) {
      node.leader = leader?.id ?? null;
      node.term = term;
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.filter((node) => node.alive).map((node) => node.kill()));
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(size: number, options: { failoverTimeoutMs?: number; seed?: number; token?: string } = {}) {
  const cluster = await FakeCluster.start(size);
  cleanups.push(() => cluster.stop());
  if (options.token) for (const node of cluster.nodes) node.token = options.token;
  const client = await WarehouseClient.connect({
    token: options.token,
    seeds: [cluster.nodes[options.seed ?? 0]!.id],
    heartbeatIntervalMs: 50,
    requestTimeoutMs: 1000,
    failoverTimeoutMs: options.failoverTimeoutMs ?? 3000,
  });
  cleanups.push(() => client.close());
  return { cluster, client };
}

describe('WarehouseClient', () => {
  it('follows a follower seed to the leader and learns every node', async () => {
    const { cluster, client } = await setup(3, { seed: 2 });
    const [a, b, c] = cluster.nodes;
    assert.equal(client.heartbeat().node, a!.id);
    assert.deepEqual(client.knownNodes(), [c!.id, a!.id, b!.id]);
  });

  it('stores and returns the value text unchanged, sent as application/json', async () => {
    const { cluster, client } = await setup(2);
    const value = `{"name": "Chapayev's Mustache comb",   "n": 1.50}`;
    assert.deepEqual(await client.set(KEY.toUpperCase(), value), { result: 'created', replicas: 2 });
    assert.deepEqual(await client.set(KEY, value), { result: 'updated', replicas: 2 });
    assert.deepEqual(await client.get(KEY), { found: true, value });
    const put = cluster.nodes[0]!.seen[0]!;
    assert.deepEqual(put, { method: 'PUT', url: documentPath(KEY), body: value, contentType: 'application/json' });
    assert.deepEqual(await client.delete(KEY), { found: true, result: 'deleted', replicas: 2 });
    assert.deepEqual(await client.delete(KEY), { found: false });
    assert.deepEqual(await client.get(KEY), { found: false });
  });

  it('keeps one idempotency key per write through its retries, a new one per write, none on reads', async () => {
    const { cluster, client } = await setup(1);
    const a = cluster.nodes[0]!;
    a.answer = { status: 503, body: { error: 'An owner of the key did not answer', leader: a.id } };
    setTimeout(() => (a.answer = null), 150);
    await client.set(KEY, '1');
    await client.set(KEY, '2');
    await client.get(KEY);
    const keysOf = (method: string, body: string) => new Set(a.seen.flatMap((seen, i) => (seen.method === method && seen.body === body ? [a.idempotencyKeys[i]] : [])));
    const attempts = a.seen.filter((seen) => seen.body === '1').length;
    assert.ok(attempts >= 2, `the first write was retried (${attempts} attempts)`);
    const [first] = [...keysOf('PUT', '1')];
    assert.deepEqual(keysOf('PUT', '1'), new Set([first]), 'every attempt carries the same key');
    assert.match(first!, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notDeepEqual(keysOf('PUT', '2'), new Set([first]), 'the next write has its own key');
    assert.deepEqual(keysOf('GET', ''), new Set([undefined]));
  });

  it('rejects bad keys and values before any request', async () => {
    const { cluster, client } = await setup(1);
    await assert.rejects(client.get('12345'), new InvalidRequestError('Key is not a proper UUID4'));
    await assert.rejects(client.set(KEY, "'{}'"), new InvalidRequestError('Value is not valid JSON'));
    assert.equal(cluster.nodes[0]!.seen.length, 0);
  });

  it("throws the server's message for a rejected request without retrying", async () => {
    const { cluster, client } = await setup(1);
    cluster.nodes[0]!.answer = { status: 413, body: { error: 'Value is larger than the limit of 8 bytes' } };
    await assert.rejects(client.set(KEY, '"long value"'), new InvalidRequestError('Value is larger than the limit of 8 bytes'));
    assert.equal(cluster.nodes[0]!.seen.length, 1);
  });

  it('sends its token with every request; a refused token fails at once, without a failover wait', async () => {
    const { cluster, client } = await setup(2, { token: 'a-token-0123456789', failoverTimeoutMs: 60_000 });
    await client.set(KEY, '{"a": 1}');
    assert.equal((await client.get(KEY)).found, true);
    const leader = cluster.nodes[0]!;
    leader.answer = { status: 403, body: { error: 'Forbidden: a read token cannot write documents (needs write)' } };
    await assert.rejects(client.set(KEY, '1'), new AccessDeniedError('Forbidden: a read token cannot write documents (needs write)', 403));
    assert.equal(leader.seen.length, 3);
    leader.answer = null;
    // The nodes restarted with other tokens: the next command says so, within one request.
    for (const node of cluster.nodes) node.token = 'another-token-0123456789';
    const started = Date.now();
    await assert.rejects(client.get(KEY), (error: Error) => error instanceof AccessDeniedError && error.status === 401 && error.message === 'Unauthorized: unknown token');
    assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`);
  });

  it('fails to connect at once when the nodes refuse its token', async () => {
    const cluster = await FakeCluster.start(2);
    cleanups.push(() => cluster.stop());
    for (const node of cluster.nodes) node.token = 'a-token-0123456789';
    await assert.rejects(WarehouseClient.connect({ seeds: [cluster.nodes[1]!.id], failoverTimeoutMs: 60_000 }), new AccessDeniedError('Unauthorized: unknown token', 401));
  });

  it('follows a redirect to the new leader and reports the change', async () => {
    const { cluster, client } = await setup(3);
    const b = cluster.nodes[1]!;
    const reconnected: Heartbeat[] = [];
    client.on('reconnected', (heartbeat) => reconnected.push(heartbeat));
    cluster.elect(b, 2);
    assert.deepEqual(await client.set(KEY, '1'), { result: 'created', replicas: 2 });
    assert.equal(client.heartbeat().node, b.id);
    assert.deepEqual(reconnected.map((heartbeat) => heartbeat.node), [b.id]);
  });

  it('rides out a leader crash and an election to finish the request', async () => {
    const { cluster, client } = await setup(3);
    const [a, b] = cluster.nodes;
    cluster.elect(null, 1);
    await a!.kill();
    setTimeout(() => cluster.elect(b!, 2), 300);
    const reconnected = once(client, 'reconnected') as Promise<[Heartbeat]>;
    assert.deepEqual(await client.set(KEY, '{"after": "failover"}'), { result: 'created', replicas: 2 });
    const [heartbeat] = await reconnected;
    assert.equal(heartbeat.node, b!.id);
    assert.deepEqual(
      heartbeat.nodes.map((node) => node.id),
      cluster.nodes.slice(1).map((node) => node.id),
    );
  });

  it('notices a dead leader by heartbeat alone', async () => {
    const { cluster, client } = await setup(2);
    const [a, b] = cluster.nodes;
    const reconnected = once(client, 'reconnected') as Promise<[Heartbeat]>;
    await a!.kill();
    cluster.elect(b!, 2);
    const [heartbeat] = await reconnected;
    assert.equal(heartbeat.node, b!.id);
    assert.deepEqual(heartbeat.warnings, ['cluster size (1) is smaller than a replication factor (2)!']);
  });

  it('gives up with UnavailableError once the failover deadline passes', async () => {
    const { cluster, client } = await setup(2, { failoverTimeoutMs: 400 });
    const unavailable = once(client, 'unavailable');
    await cluster.stop();
    const started = Date.now();
    await assert.rejects(client.get(KEY), UnavailableError);
    assert.ok(Date.now() - started >= 350, 'retried until the deadline');
    await unavailable;
  });

  it('keeps retrying a leader that cannot serve yet', async () => {
    const { cluster, client } = await setup(1, { failoverTimeoutMs: 2000 });
    const a = cluster.nodes[0]!;
    a.answer = { status: 503, body: { error: 'Failed to write an entry' } };
    setTimeout(() => (a.answer = null), 200);
    assert.deepEqual(await client.set(KEY, '1'), { result: 'created', replicas: 2 });
    assert.ok(a.seen.length >= 2);
  });

  it('fails to connect with the reason when no node answers', async () => {
    const cluster = await FakeCluster.start(1);
    const seed = cluster.nodes[0]!.id;
    await cluster.stop();
    await assert.rejects(WarehouseClient.connect({ seeds: [seed] }), (error: Error) => {
      assert.ok(error instanceof UnavailableError);
      assert.match(error.message, /ECONNREFUSED/);
      return true;
    });
  });
});
