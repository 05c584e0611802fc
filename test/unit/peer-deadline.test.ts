// A peer that answers, but too slowly, must cost a caller one timeout in all:
// undici's per-phase timers restart with each phase (the body's with every
// chunk), so only an overall deadline bounds the request.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PeerClient, PeerError } from '../../src/transport/peer-client.js';
import { REPLICA_READ_PATH, SYNC_DIGEST_PATH } from '../../src/protocol/paths.js';
import { ReplicaReadResponse, checker } from '../../src/protocol/schemas.js';

const TIMEOUT_MS = 400;
const isReadResponse = checker(ReplicaReadResponse);
/** Past one timeout by far less than a second one: tells 1x from 2x on a loaded machine. */
const BOUND_MS = TIMEOUT_MS * 1.75;

type Behaviour = (response: ServerResponse) => Promise<void>;

/** Headers at once, then one byte every 0.4 timeout, never the end. */
const trickle: Behaviour = async (response) => {
  response.writeHead(200, { 'content-type': 'application/json' });
  while (!response.destroyed) {
    response.write(' ');
    await sleep(TIMEOUT_MS * 0.4);
  }
};

/** Headers after 0.8 timeout and the body after another 0.8: each phase within its own timer. */
const lateInEachPhase: Behaviour = async (response) => {
  await sleep(TIMEOUT_MS * 0.8);
  response.writeHead(200, { 'content-type': 'application/json' });
  response.flushHeaders();
  await sleep(TIMEOUT_MS * 0.8);
  response.end('{}');
};

async function slowPeer(behaviour: Behaviour): Promise<{ id: string; close: () => Promise<void> }> {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    void behaviour(response);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    id: `127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

describe('a peer request', () => {
  const client = new PeerClient({ timeoutMs: TIMEOUT_MS, secret: 'a-cluster-secret-for-the-test' });
  after(() => client.close());

  for (const [name, behaviour] of [
    ['a body that trickles forever', trickle],
    ['headers and body each late, but within their own timers', lateInEachPhase],
  ] as const) {
    it(`gives up after one timeout on ${name}`, async () => {
      const peer = await slowPeer(behaviour);
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

  it('a peer that answers other requests while one is late is slow, not silent', async () => {
    // The late request is a repair's digest comparison; the others, replica reads, are answered at once.
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      request.resume();
      if (request.url === REPLICA_READ_PATH) {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{"records":[]}');
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const peer = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    // The answers are not signed with the secret: a read that reaches the peer fails as unauthenticated, and that is an answer.
    const read = () => client.post(peer, REPLICA_READ_PATH, { keys: [] }, isReadResponse).then(() => 'answered', (error: PeerError) => error.message);
    try {
      const late = client.post(peer, SYNC_DIGEST_PATH, {}, isReadResponse).then(() => 'answered', (error: PeerError) => error.message);
      const reads = setInterval(() => void read(), TIMEOUT_MS / 8);
      const lateFailure = await late;
      clearInterval(reads);
      assert.equal(lateFailure, `${peer}${SYNC_DIGEST_PATH}: did not answer within ${TIMEOUT_MS} ms`);
      assert.match(await read(), /not signed with this cluster's secret/, 'the next request still reaches the peer');
    } finally {
      client.forget(peer);
      server.closeAllConnections();
      server.close();
    }
  });
});
