// The stream server's defences, driven over real sockets by a hand-made
// client: an upgrade without the secret is refused with a one-line HTTP error,
// a recorded upgrade replayed does not yield a usable stream, a frame that is
// not the member's closes the stream, and a member's bad request gets an error
// answer while the stream goes on.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import { servePeerStreams } from '../../src/server/peer-streams.js';
import type { InternalRoute } from '../../src/server/internal-routes.js';
import { FrameReader, FrameWriter } from '../../src/transport/frames.js';
import { AUTH_HEADER, NONCE_HEADER, signRequest, streamKeys, verifyResponse } from '../../src/security/cluster-auth.js';
import { PEER_STREAM_PATH, PEER_STREAM_PROTOCOL } from '../../src/protocol/paths.js';
import { BadPeerRequest } from '../../src/security/peer-payloads.js';
import { createLogger } from '../../src/common/logger.js';

const SECRET = 'the-secret-of-the-test-cluster';
const NONCE = 'ab'.repeat(32);
const routes: InternalRoute[] = [
  { path: '/echo', body: Type.Object({ n: Type.Integer() }), responses: {}, handle: (body: { n: number }) => ({ status: 200, body: { n: body.n } }) },
  { path: '/refuse', body: Type.Object({}), responses: {}, handle: () => Promise.reject(new BadPeerRequest('a refused message')) },
  { path: '/crash', body: Type.Object({}), responses: {}, handle: () => Promise.reject(new Error('a bug\nwith a second line')) },
];

function flip(frame: Buffer, at: number): Buffer {
  frame[at] = frame[at]! ^ 0xff;
  return frame;
}

type Upgrade = { status: number; headers: IncomingMessage['headers']; socket: Socket | null; text: string };

describe('peer streams, the server side', () => {
  const server = createServer((_request, response) => response.writeHead(404).end());
  const streams = servePeerStreams(server, routes, { secret: SECRET, maxPayloadBytes: 4096, logger: createLogger('peer-streams-test', 'silent') });
  let port = 0;
  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    streams.close();
    server.close();
    await once(server, 'close');
  });

  function upgrade(headers: Record<string, string>, path = PEER_STREAM_PATH): Promise<Upgrade> {
    return new Promise((resolve, reject) => {
      const asking = request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'Upgrade', upgrade: PEER_STREAM_PROTOCOL, ...headers } });
      asking.on('upgrade', (response, socket) => resolve({ status: 101, headers: response.headers, socket, text: '' }));
      asking.on('response', (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, socket: null, text }));
      });
      asking.on('error', reject);
      asking.end();
    });
  }

  const signed = (secret = SECRET) => ({ [NONCE_HEADER]: NONCE, ...signRequest(secret, 'GET', PEER_STREAM_PATH, NONCE) });

  /** A member's stream: the upgrade, then frames sealed and read with the connection's keys. */
  async function member(headers = signed()) {
    const answer = await upgrade(headers);
    assert.equal(answer.status, 101);
    const socket = answer.socket!;
    const keys = streamKeys(SECRET, NONCE, answer.headers[NONCE_HEADER] as string);
    const writer = new FrameWriter(keys.toServer);
    const reader = new FrameReader(keys.toClient, 1 << 20);
    const received: unknown[] = [];
    socket.on('data', (chunk: Buffer) => received.push(...reader.push(chunk).map((payload) => JSON.parse(payload) as unknown)));
    const closed = once(socket, 'close');
    const ask = async (id: number, path: string, body: unknown) => {
      socket.write(writer.encode(JSON.stringify({ id, path, body })));
      while (!received.some((message) => (message as { id: number }).id === id)) await once(socket, 'data');
      return received.find((message) => (message as { id: number }).id === id);
    };
    return { socket, writer, ask, closed, upgrade: answer, requestMac: headers[AUTH_HEADER] };
  }

  it('refuses an upgrade without the secret, with another one, elsewhere or with a bad nonce, in one line', async () => {
    const cases: [Record<string, string>, number, string?][] = [
      [{}, 401],
      [signed('not-the-secret-of-this-cluster'), 403],
      [{ ...signed(), [NONCE_HEADER]: 'cd'.repeat(32) }, 403],
      [{ ...signed(), [NONCE_HEADER]: 'short' }, 400],
      [signed(), 404, '/internal/v1/elsewhere'],
    ];
    for (const [headers, status, path] of cases) {
      const answer = await upgrade(headers, path);
      assert.equal(answer.status, status, answer.text);
      assert.equal(answer.text.split('\n').length, 1);
      assert.equal(typeof (JSON.parse(answer.text) as { error: unknown }).error, 'string');
    }
  });

  it('answers a member, and signs the upgrade so the member can trust it', async () => {
    const stream = await member();
    const { upgrade: accepted, requestMac } = stream;
    assert.ok(verifyResponse(SECRET, requestMac, 101, accepted.headers[NONCE_HEADER] as string, accepted.headers[AUTH_HEADER]), 'the 101 is signed over its nonce');
    assert.ok(!verifyResponse('not-the-secret-of-this-cluster', requestMac, 101, accepted.headers[NONCE_HEADER] as string, accepted.headers[AUTH_HEADER]));
    assert.deepEqual(await stream.ask(1, '/echo', { n: 7 }), { id: 1, status: 200, body: { n: 7 } });
    stream.socket.destroy();
  });

  it('answers a bad request with its error and goes on', async () => {
    const stream = await member();
    assert.deepEqual(await stream.ask(1, '/nowhere', {}), { id: 1, status: 404, body: { error: 'No such endpoint: POST /nowhere' } });
    const invalid = (await stream.ask(2, '/echo', { n: 'seven' })) as { status: number; body: { error: string } };
    assert.equal(invalid.status, 400);
    assert.match(invalid.body.error, /^body\/n /);
    assert.deepEqual(await stream.ask(3, '/refuse', {}), { id: 3, status: 400, body: { error: 'a refused message' } });
    assert.deepEqual(await stream.ask(4, '/crash', {}), { id: 4, status: 500, body: { error: 'a bug' } });
    assert.deepEqual(await stream.ask(5, '/echo', { n: 5 }), { id: 5, status: 200, body: { n: 5 } });
    stream.socket.destroy();
  });

  for (const [name, frame] of [
    ['a frame with a wrong MAC', (writer: FrameWriter) => flip(writer.encode('{"id":1,"path":"/echo","body":{"n":1}}'), 10)],
    ['a signed frame that is not JSON', (writer: FrameWriter) => writer.encode('{"id":1,')],
    ['a signed frame that is not a request', (writer: FrameWriter) => writer.encode('{"id":-1}')],
    ['a frame above the size limit', () => Buffer.from([0xff, 0xff, 0xff, 0xff])],
  ] as const) {
    it(`closes the stream on ${name}`, async () => {
      const stream = await member();
      stream.socket.write(frame(stream.writer));
      await stream.closed;
    });
  }

  it('a recorded upgrade replayed yields a stream whose frames the replayer cannot seal', async () => {
    const recorded = signed();
    const first = await member(recorded);
    first.socket.destroy();
    // The same upgrade again (within the timestamp window): the server answers with a new nonce, so new keys.
    const replayed = await upgrade(recorded);
    assert.equal(replayed.status, 101);
    const socket = replayed.socket!;
    const closed = once(socket, 'close');
    // Frames sealed with keys from the first connection's nonce: refused.
    socket.write(first.writer.encode('{"id":1,"path":"/echo","body":{"n":1}}'));
    await closed;
    assert.notEqual(replayed.headers[AUTH_HEADER], undefined);
  });
});
