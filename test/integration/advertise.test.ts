// Nodes known by an address other than the one they listen on: each listens
// on every interface (--host 0.0.0.0) and is known by its own loopback
// address (--advertise 127.0.0.X:PORT), as nodes behind containers or NAT
// are. Ids, gossip, failover and the client's reconnect all use the
// advertised addresses.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LocalCluster } from '../../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../../src/local-cluster/ports.js';
import { CLI_BIN, NODE_BIN } from '../helpers/cli.js';
import { fastCluster, http, json, makeKeys, runToExit, withLogs } from '../helpers/integration.js';
import { HEARTBEAT_PATH } from '../../src/protocol/paths.js';

// The nodes listen on every interface, so their ports must be free on 0.0.0.0; the fourth is for a node that refuses to start.
const [A, B, C, REFUSED_PORT] = (await allocatePorts(4, ['0.0.0.0'])) as [number, number, number, number];
const NODES = [
  { host: '127.0.0.2', port: A },
  { host: '127.0.0.3', port: B },
  { host: '127.0.0.4', port: C },
];
const id = ({ host, port }: { host: string; port: number }) => `${host}:${port}`;

describe('--advertise: listening on 0.0.0.0, known by another address', { timeout: 90_000 }, () => {
  let cluster: LocalCluster;

  before(async () => {
    cluster = fastCluster('advertise', 2);
    for (const node of NODES) {
      await cluster.startNode({ ...node, extraArgs: ['--host', '0.0.0.0', '--advertise', id(node)] });
    }
    await cluster.waitForLeader(undefined, 15_000);
  });

  after(async () => {
    await cluster.stop();
  });

  it('refuses --host 0.0.0.0 without --advertise, with one line and exit 2', async () => {
    const refused = await runToExit(NODE_BIN, ['--host', '0.0.0.0', '--port', String(REFUSED_PORT)]);
    assert.equal(refused.code, 2);
    assert.equal(refused.stderr, 'Error: --host 0.0.0.0 listens on every interface, but no node can be reached at that address: add --advertise HOST:PORT\n');
    assert.equal((await runToExit(NODE_BIN, ['--advertise', 'no-port'])).code, 2);
  });

  it('every node knows the others by their advertised address, and fails over among them', async () => {
    try {
      const beat = json(await http('GET', `http://${id(NODES[1]!)}${HEARTBEAT_PATH}`)) as { leader: string; nodes: { id: string }[] };
      assert.deepEqual(beat.nodes.map((node) => node.id).sort(), NODES.map(id));
      assert.equal(beat.leader, id(NODES[0]!));
      const [key] = makeKeys(51, 1);
      // The one-shot CLI reaches the leader through a follower's advertised address.
      const set = await runToExit(CLI_BIN, ['-H', NODES[2]!.host, '-P', String(NODES[2]!.port), 'SET', key!, '{"on": "advertised"}']);
      assert.deepEqual([set.code, set.stdout], [0, 'Created (2 replicas)\n']);
      await cluster.get(id(NODES[0]!)).stop('SIGKILL');
      assert.equal(await cluster.waitForLeader(id(NODES[1]!), 20_000), id(NODES[1]!));
      const get = await runToExit(CLI_BIN, ['-H', NODES[2]!.host, '-P', String(NODES[2]!.port), 'GET', key!]);
      assert.deepEqual([get.code, get.stdout], [0, `'{"on": "advertised"}'\n`]);
    } catch (error) {
      throw withLogs(cluster, error);
    }
  });
});
