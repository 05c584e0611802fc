// Three nodes in three network namespaces, as on three hosts: each has its
// own network stack and one address on a Linux bridge, and all listen on the
// same port. The test reaches them through the bridge's own address, like a
// client on the same LAN. It kills the leader with SIGKILL and checks the
// failover and the REPL's reconnect across the namespaces. Needs root and
// iproute2 (CI has both, see .ci/run); skips with the reason otherwise.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalCluster } from '../../src/local-cluster/local-cluster.js';
import { CLI_BIN, CliDriver } from '../helpers/cli.js';
import { fastCluster, makeKeys, runToExit, withLogs } from '../helpers/integration.js';
import { BridgedNamespaces, netnsUnavailableReason } from '../helpers/netns.js';

// A fixed port, unlike the other tests' shared allocator: each node listens on it inside its own
// namespace, whose ports no other process on the machine can take or see.
const PORT = 8765;
const unavailable = netnsUnavailableReason();

describe('three nodes in three network namespaces on a bridge', { skip: unavailable ?? false, timeout: 60_000 }, () => {
  let net: BridgedNamespaces | undefined;
  let cluster: LocalCluster | undefined;
  let cli: CliDriver | undefined;
  const ids = () => net!.namespaces.map((ns) => `${ns.address}:${PORT}`);

  before(async () => {
    net = BridgedNamespaces.create(3);
    cluster = fastCluster('netns', 2);
    try {
      for (const ns of net.namespaces) await cluster.startNode({ host: ns.address, port: PORT, wrapper: ns.exec });
      await cluster.waitForLeader(undefined, 15_000);
    } catch (error) {
      throw withLogs(cluster, error);
    }
  });

  after(async () => {
    await cli?.kill();
    await cluster?.stop();
    net?.remove();
  });

  it('gives each namespace only loopback and its own address', () => {
    for (const ns of net!.namespaces) assert.deepEqual(net!.addresses(ns), ['127.0.0.1', ns.address], ns.name);
  });

  it('every node lists all three by address; the leader dies and the same REPL session reconnects and reads every key', async () => {
    const [a, b, c] = ids() as [string, string, string];
    const [nsA, , nsC] = net!.namespaces;
    try {
      for (const id of [a, b, c]) {
        const beat = await cluster!.heartbeat(id);
        assert.deepEqual(beat?.nodes.map((node) => node.id).sort(), [a, b, c], `nodes in ${id}'s heartbeat`);
        assert.equal(beat?.leader, a, `leader in ${id}'s heartbeat`);
      }

      cli = CliDriver.start(['-H', nsA!.address, '-P', String(PORT), '--heartbeat-interval', '250ms', '--failover-timeout', '2s', '--history-file', join(cluster!.options.baseDir, 'history')]);
      assert.deepEqual(await cli.lines(5), [`Connected to a database of Warehouse 13 at ${a}`, 'Known nodes:', a, b, c]);
      const docs = makeKeys(213, 6).map((key, i) => ({ key, value: `{"host": ${i}}` }));
      for (const { key, value } of docs) assert.deepEqual(await cli.ask(`SET ${key} '${value}'`), ['Created (2 replicas)']);

      await cluster!.get(a).stop('SIGKILL');
      // ip netns exec replaced itself with the node, so the signal killed the node, not a wrapper.
      assert.deepEqual(net!.pids(nsA!), [], `processes left in ${nsA!.name}`);
      assert.equal(await cluster!.waitForLeader(b, 20_000), b);
      assert.deepEqual(await cli.lines(4, 15_000), [`Reconnected to a database of Warehouse 13 at ${b}`, 'Known nodes:', b, c]);
      for (const { key, value } of docs) assert.deepEqual(await cli.ask(`GET ${key}`), [`'${value}'`]);

      // A one-shot CLI given a follower's address reads it too.
      const get = await runToExit(CLI_BIN, ['-H', nsC!.address, '-P', String(PORT), 'GET', docs[0]!.key]);
      assert.deepEqual([get.code, get.stdout, get.stderr], [0, `'${docs[0]!.value}'\n`, '']);

      cli.send('EXIT');
      assert.equal((await cli.waitForExit()).code, 0);
      assert.deepEqual(cli.unread(), []);
      assert.equal(cli.stderr, '');
    } catch (error) {
      throw withLogs(cluster!, new Error(`${(error as Error).message}\n${cli?.describe() ?? ''}`, { cause: error }));
    }
  });
});
