// A peer that does not answer must cost a caller one timeout in all, whether
// it never completes the stream's upgrade or takes a request and sits on it;
// a peer that answers other requests meanwhile is slow, not silent; and a peer
// without the cluster's secret answers, but is refused.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PeerClient, PeerError, UnauthenticatedAnswer } from '../../src/transport/peer-client.js';
import { REPLICA_READ_PATH, SYNC_DIGEST_PATH } from '../../src/protocol/paths.js';
import { ReplicaReadRequest, ReplicaReadResponse, SyncDigestRequest, checker } from '../../src/protocol/schemas.js';
import { servePeerStreams } from '../../src/server/peer-streams.js';
import type { InternalRoute } from '../../src/server/internal-routes.js';
import { createLogger } from '../../src/common/logger.js';

const TIMEOUT_MS = 400;
const SECRET = 'a-cluster-secret-for-the-test';
const isReadResponse = checker(ReplicaReadResponse);
/** Past one timeout by far less than a second one: tells 1x from 2x on a loaded machine. */
const BOUND_MS = TIMEOUT_MS * 1.75;

const never = () => new Promise<never>(() => {});
const readAtOnce: InternalRoute = { path: REPLICA_READ_PATH, body: ReplicaReadRequest, responses: {}, handle: () => ({ status: 200, body: { records: [] } }) };
const readNever: InternalRoute = { ...readAtOnce, handle: never };
const digestNever: InternalRoute = { path: SYNC_DIGEST_PATH, body: SyncDigestRequest, responses: {}, handle: never };

interface TestPeer {
  id: string;
  close(): Promise<void>;
}

async function listening(server: Server | ReturnType<typeof createTcpServer>, close: () => void): Promise<TestPeer> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    id: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      close();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A real stream server (the node's) with the given routes. */
async function streamPeer(routes: InternalRoute[], secret = SECRET): Promise<TestPeer> {
  const server = createServer((_request, response) => response.writeHead(404).end());
  const streams = servePeerStreams(server, routes, { secret, maxPayloadBytes: 1 << 20, logger: createLogger('peer-deadline-test', 'silent') });
  return listening(server, () => {
    streams.close();
    server.closeAllConnections();
  });
}

/** Accepts connections and never says a word: the upgrade never completes. */
async function mutePeer(): Promise<TestPeer> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.resume();
  });
  return listening(server, () => sockets.forEach((socket) => socket.destroy()));
}

describe('a peer request', () => {
  const client = new PeerClient({ timeoutMs: TIMEOUT_MS, secret: SECRET });
  after(() => client.close());

  for (const [name, start] of [
    ['a peer that never completes the upgrade', mutePeer],
    ['a peer that takes the request and never answers', () => streamPeer([readNever])],
  ] as const) {
    it(`gives up after one timeout on ${name}`, async () => {
      const peer = await start();
      try {
        const started = performance.now();
        const outcome = await Promise.race([
          client.post(peer.id, REPLICA_READ_PATH, { keys: [] }, isReadResponse).then(
            () => 'answered',
            (error: unknown) => error,
          ),
          sleep(TIMEOUT_MS * 3, 'still waiting'),
        ]);
        const elapsed = performance.now() - started;
        assert.ok(outcome instanceof PeerError, `expected a PeerError, got ${String(outcome)}`);
        assert.equal(outcome.message, `${peer.id}${REPLICA_READ_PATH}: did not answer within ${TIMEOUT_MS} ms`);
        assert.ok(elapsed < BOUND_MS, `rejected after ${Math.round(elapsed)} ms`);
        // A missed deadline is no answer: the next request fails at once, without reaching the peer.
        await assert.rejects(
          client.post(peer.id, REPLICA_READ_PATH, { keys: [] }, isReadResponse),
          /did not answer within the last 400 ms/,
        );
        client.forget(peer.id);
      } finally {
        await peer.close();
      }
    });
  }

  it('fails the requests waiting on a silent peer together, at the first deadline', async () => {
    const peer = await streamPeer([readNever]);
    try {
      const started = performance.now();
      const first = client.post(peer.id, REPLICA_READ_PATH, { keys: [] }, isReadResponse).catch((error: Error) => error);
      await sleep(TIMEOUT_MS * 0.8);
      const second = await client.post(peer.id, REPLICA_READ_PATH, { keys: [] }, isReadResponse).catch((error: Error) => error);
      const elapsed = performance.now() - started;
      assert.ok((await first) instanceof PeerError);
      assert.ok(second instanceof PeerError);
      assert.ok(elapsed < BOUND_MS, `the second request failed after ${Math.round(elapsed)} ms, not with the first`);
      client.forget(peer.id);
    } finally {
      await peer.close();
    }
  });

  it('a peer that answers other requests while one is late is slow, not silent', async () => {
    // The late request is a repair's digest comparison; the others, replica reads, are answered at once.
    const peer = await streamPeer([readAtOnce, digestNever]);
    const read = () => client.post(peer.id, REPLICA_READ_PATH, { keys: [] }, isReadResponse).then(() => 'answered', (error: PeerError) => error.message);
    try {
      const late = client.post(peer.id, SYNC_DIGEST_PATH, { from: '127.0.0.1:1', members: ['127.0.0.1:1'], buckets: [] }, isReadResponse).then(
        () => 'answered',
        (error: PeerError) => error.message,
      );
      const reads = setInterval(() => void read(), TIMEOUT_MS / 8);
      const lateFailure = await late;
      clearInterval(reads);
      assert.equal(lateFailure, `${peer.id}${SYNC_DIGEST_PATH}: did not answer within ${TIMEOUT_MS} ms`);
      assert.equal(await read(), 'answered', 'the stream stays up and the next request is answered');
    } finally {
      client.forget(peer.id);
      await peer.close();
    }
  });

  it('a 101 not signed with the secret is refused: nothing is sent on that stream', async () => {
    let framesReceived = 0;
    const upgraded = new Set<Socket>();
    const server = createServer((_request, response) => response.writeHead(404).end());
    server.on('upgrade', (_request, socket: Socket) => {
      upgraded.add(socket);
      socket.on('data', () => framesReceived++);
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: warehouse13-frames/1\r\nx-warehouse-nonce: ${'ab'.repeat(32)}\r\nx-warehouse-auth: ${'00'.repeat(32)}\r\n\r\n`);
    });
    const peer = await listening(server, () => upgraded.forEach((socket) => socket.destroy()));
    try {
      const error = await client.post(peer.id, REPLICA_READ_PATH, { keys: [] }, isReadResponse).catch((failure: unknown) => failure);
      assert.ok(error instanceof UnauthenticatedAnswer, String(error));
      assert.equal(error.message, `${peer.id}${REPLICA_READ_PATH}: HTTP 101 not signed with this cluster's secret`);
      assert.equal(framesReceived, 0);
    } finally {
      client.forget(peer.id);
      await peer.close();
    }
  });

  it('a peer with another secret is refused, but counts as answering', async () => {
    const peer = await streamPeer([readAtOnce], 'another-secret-of-another-cluster');
    try {
      for (let i = 0; i < 2; i++) {
        const error = await client.post(peer.id, REPLICA_READ_PATH, { keys: [] }, isReadResponse).catch((failure: unknown) => failure);
        assert.ok(error instanceof UnauthenticatedAnswer, String(error));
        assert.equal(error.message, `${peer.id}${REPLICA_READ_PATH}: HTTP 403 not signed with this cluster's secret`);
      }
      assert.equal(client.silentFor(peer.id), 0);
    } finally {
      client.forget(peer.id);
      await peer.close();
    }
  });
});
