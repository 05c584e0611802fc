// The consistent mode on real processes: three etcd members (Debian's
// etcd-server) on loopback and warehouse nodes started with --coordinator.
// Leadership comes from etcd, a killed leader's lease ends and another node
// leads within the failure timeout, the replication factor is kept once in
// etcd, clusters with different names share one etcd without seeing each
// other, and a leader cut off from etcd's quorum stops serving writes. A
// deposed leader is fenced by its term, and a key whose owner does not
// answer gets a 503, never a guess.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { LocalCluster } from '../../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../../src/local-cluster/ports.js';
import { DEFAULT_ETCD_BIN, EtcdCluster, checkEtcdBinary } from '../../src/local-cluster/etcd-cluster.js';
import { CliDriver } from '../helpers/cli.js';
import { fastCluster, http, internalPost, json, makeKeys, nodeIds, withLogs } from '../helpers/integration.js';
import { owners } from '../../src/placement/rendezvous.js';
import { Firewall } from '../../chaos/firewall.js';
import { REPLICA_READ_PATH, REPLICA_WRITE_PATH, documentPath } from '../../src/protocol/paths.js';

/** etcd grants leases in whole seconds, at least 2. */
const TIMING = { heartbeatIntervalMs: 200, failureTimeoutMs: 3000, requestTimeoutMs: 1000 };
/** etcd checks for expired leases every 500 ms, and the nodes read etcd every heartbeat. */
const EXPIRY_SLACK_MS = 1500;
const POLL_SLACK_MS = 1000;
const [P1, P2, P3, REFUSED_PORT, OTHER_1, OTHER_2] = (await allocatePorts(6)) as [number, number, number, number, number, number];
const PORTS = [P1, P2, P3];
const NODES = nodeIds(PORTS);
/** Another cluster's nodes on the same etcd. */
const OTHERS = [OTHER_1, OTHER_2];

describe('consistent mode on etcd (3 etcd members, 3 nodes, RF 2)', { timeout: 240_000, skip: checkEtcdBinary(DEFAULT_ETCD_BIN) ?? false }, () => {
  let etcd: EtcdCluster;
  let cluster: LocalCluster;

  before(async () => {
    etcd = await EtcdCluster.start({ bin: DEFAULT_ETCD_BIN, workDir: null });
    cluster = fastCluster('consistent', 2, { ...TIMING, coordinator: etcd.coordinatorUrl, clusterName: 'main' });
    try {
      await cluster.start(PORTS);
      await cluster.waitForLeader(undefined, 60_000);
    } catch (error) {
      throw withLogs(cluster, error);
    }
  });

  after(async () => {
    await cluster?.stop();
    await etcd?.stop();
  });

  it('elects one leader whose term is its etcd key\'s revision, and serves the REPL', async () => {
    const leader = await cluster.waitForLeader();
    const beats = await cluster.heartbeats();
    assert.equal(beats.length, 3);
    for (const beat of beats) {
      assert.equal(beat.mode, 'etcd');
      assert.equal(beat.leader, leader);
      assert.equal(beat.coordinator?.clusterName, 'main');
      assert.equal(beat.coordinator?.connected, true);
    }
    assert.ok(beats[0]!.term > 0);
    assert.equal(new Set(beats.map((beat) => beat.term)).size, 1, 'every node names the same term');

    const cli = CliDriver.start(['-H', '127.0.0.1', '-P', String(PORTS[1])]);
    try {
      const banner = await cli.lines(5);
      assert.deepEqual(banner.slice(0, 2), [`Connected to a database of Warehouse 13 at ${leader}`, 'Known nodes:']);
      assert.deepEqual(banner.slice(2).sort(), NODES);
      const [key] = makeKeys(11, 1);
      assert.deepEqual(await cli.ask(`SET ${key} '{"name": "Tesla's coil"}'`), ['Created (2 replicas)']);
      assert.deepEqual(await cli.ask(`GET ${key}`), [`'{"name": "Tesla's coil"}'`]);
      cli.send('STATUS');
      const { skipped } = await cli.lineMatching(/^Repair: /);
      assert.ok(skipped.includes('Mode: consistent (etcd, cluster name "main")'), skipped.join('\n'));
      const endpoints = skipped.find((line) => line.startsWith('etcd: '));
      assert.equal(endpoints?.match(/ healthy/g)?.length, 3, endpoints);
    } finally {
      await cli.kill();
    }
  });

  it('refuses a node with another replication factor, with the gossip mode\'s error', async () => {
    const node = cluster.spawnNode({ port: REFUSED_PORT, extraArgs: ['--replication-factor', '3'] });
    assert.equal(await node.exit, 1);
    assert.match(node.lastOutput(), /Error: replication factor 3 does not match the cluster's replication factor 2/);
    cluster.nodes.delete(node.id);
  });

  it('keeps clusters with different names apart on one etcd', async () => {
    const other = fastCluster('consistent-other', 1, { ...TIMING, coordinator: etcd.coordinatorUrl, clusterName: 'other' });
    try {
      await other.start(OTHERS);
      const otherLeader = await other.waitForLeader(undefined, 20_000);
      for (const beat of await other.heartbeats()) {
        assert.deepEqual(beat.nodes.map((node) => node.id).sort(), nodeIds(OTHERS));
        assert.equal(beat.replicationFactor, 1);
      }
      for (const beat of await cluster.heartbeats()) {
        assert.deepEqual(beat.nodes.map((node) => node.id).sort(), NODES);
        assert.notEqual(beat.leader, otherLeader);
      }
    } catch (error) {
      throw withLogs(other, error);
    } finally {
      await other.stop();
    }
  });

  it('elects another leader within the failure timeout when the leader\'s process is killed', async () => {
    const old = await cluster.waitForLeader();
    const oldTerm = (await cluster.heartbeat(old))!.term;
    const killedAt = Date.now();
    await cluster.get(old).stop('SIGKILL');
    let successor: string | null = null;
    await cluster.waitFor(async () => {
      successor = await cluster.agreedLeader();
      return successor !== null && successor !== old;
    }, { timeoutMs: TIMING.failureTimeoutMs + EXPIRY_SLACK_MS, intervalMs: 50, message: 'a new leader within the failure timeout' });
    const elapsed = Date.now() - killedAt;
    const beat = (await cluster.heartbeat(successor!))!;
    assert.ok(beat.term > oldTerm, `term ${beat.term} after ${oldTerm}`);
    const [key] = makeKeys(12, 1);
    const answer = await http('PUT', `http://${successor!}${documentPath(key)}`, '{"after": "failover"}');
    assert.equal(answer.status, 201, answer.text);
    await cluster.restart(old);
    // The restarted node registers anew: a younger key, so it follows.
    assert.equal(await cluster.waitForLeader(), successor);
    assert.ok(elapsed < TIMING.failureTimeoutMs + EXPIRY_SLACK_MS, `${elapsed} ms`);
  });

  it('fences a deposed leader: once its successor announced itself, replicas refuse writes carrying the old term', async () => {
    const old = await cluster.waitForLeader();
    const [first, second] = makeKeys(14, 2);
    assert.equal((await http('PUT', `http://${old}${documentPath(first)}`, '{"by": "old"}')).status, 201);
    const oldTerm = (await cluster.heartbeat(old))!.term;
    const others = NODES.filter((id) => id !== old);
    cluster.get(old).signal('SIGSTOP');
    try {
      let successor: string | null = null;
      await cluster.waitFor(async () => {
        const beats = await Promise.all(others.map((id) => cluster.heartbeat(id)));
        successor = beats.every((beat) => beat && beat.leader !== null && beat.leader !== old && beat.leader === beats[0]!.leader) ? beats[0]!.leader : null;
        return successor !== null;
      }, { timeoutMs: TIMING.failureTimeoutMs + EXPIRY_SLACK_MS + 2000, message: 'a successor while the leader is paused' });
      // Its first request announces the successor's term to every node it sees.
      const written = await http('PUT', `http://${successor!}${documentPath(second)}`, '{"by": "successor"}');
      assert.equal(written.status, 201, written.text);
      const newTerm = (await cluster.heartbeat(successor!))!.term;
      assert.ok(newTerm > oldTerm);
      // What the paused leader would send for a write it had in flight.
      const stale = { records: [{ key: first, version: [oldTerm, Date.now() * 1000, old], value: '{"by": "deposed"}' }], fence: oldTerm };
      for (const replica of others) {
        const refused = await internalPost(replica, REPLICA_WRITE_PATH, JSON.stringify(stale));
        assert.equal(refused.status, 409, refused.text);
        assert.match((json(refused) as { error: string }).error, new RegExp(`Stale leader: term ${oldTerm} is below term ${newTerm}`));
      }
      assert.deepEqual(json(await http('GET', `http://${successor!}${documentPath(first)}`)), { by: 'old' });
    } finally {
      cluster.get(old).signal('SIGCONT');
    }
    // Woken up, the old leader serves nothing: its lease is over, and it rejoins as a follower.
    const late = await http('PUT', `http://${old}${documentPath(first)}`, '{"by": "late"}');
    assert.ok([307, 503].includes(late.status), `${late.status} ${late.text}`);
    await cluster.waitForLeader(undefined, 60_000);
    assert.notEqual(await cluster.waitForLeader(), old);
  });

  it('answers 503, never a guess, while an owner of the key does not answer, and serves it again once etcd drops that owner', async () => {
    const leader = await cluster.waitForLeader();
    const alive = (await cluster.heartbeat(leader))!.nodes.map((node) => node.id);
    const follower = alive.find((id) => id !== leader)!;
    const key = makeKeys(15, 200).find((candidate) => owners(candidate, alive, 2).includes(follower))!;
    // The node paused by the test before has just rejoined: until the leader hears it again and its view
    // settles, a write may get a 503 (a CI run saw one), and an attempt may leave copies behind (then 200).
    await cluster.waitFor(async () => [200, 201].includes((await http('PUT', `http://${leader}${documentPath(key)}`, '{"v": 1}')).status), {
      timeoutMs: 20_000,
      message: 'the leader to serve writes again',
    });
    cluster.get(follower).signal('SIGSTOP');
    try {
      const read = await http('GET', `http://${leader}${documentPath(key)}`);
      assert.equal(read.status, 503, read.text);
      assert.match((json(read) as { error: string }).error, /Not every owner of the key is reachable/);
      assert.equal((await http('PUT', `http://${leader}${documentPath(key)}`, '{"v": 2}')).status, 503);
      // The paused node's lease ends; the key gets a new owner set, repaired from the copy the leader holds.
      await cluster.waitFor(async () => !(await cluster.heartbeat(leader))!.nodes.some((node) => node.id === follower), {
        timeoutMs: TIMING.failureTimeoutMs + EXPIRY_SLACK_MS,
        message: 'etcd to drop the paused node',
      });
      await cluster.waitFor(async () => (await http('GET', `http://${leader}${documentPath(key)}`)).status === 200, { message: 'the key to be served again' });
      const value = json(await http('GET', `http://${leader}${documentPath(key)}`)) as { v: number };
      assert.ok(value.v === 1 || value.v === 2, JSON.stringify(value));
    } finally {
      cluster.get(follower).signal('SIGCONT');
    }
    await cluster.waitForLeader(undefined, 60_000);
  });

  it('answers 503, not "absent", while every node that held a key is out of the view, and the value once they are back', async () => {
    const leader = await cluster.waitForLeader();
    const alive = (await cluster.heartbeat(leader))!.nodes.map((node) => node.id);
    const followers = alive.filter((id) => id !== leader);
    // Owned by the two followers only: the leader never held a copy.
    const key = makeKeys(16, 200).find((candidate) => !owners(candidate, alive, 2).includes(leader))!;
    // The previous test's paused node may still be on its way back into the view.
    await cluster.waitFor(async () => (await http('PUT', `http://${leader}${documentPath(key)}`, '{"kept": true}')).status === 201, { message: 'the key to be written' });
    for (const id of followers) cluster.get(id).signal('SIGSTOP');
    try {
      await cluster.waitFor(async () => (await cluster.heartbeat(leader))!.nodes.length === 1, {
        timeoutMs: TIMING.failureTimeoutMs + EXPIRY_SLACK_MS + 2000,
        message: 'etcd to drop both paused nodes',
      });
      const read = await http('GET', `http://${leader}${documentPath(key)}`);
      assert.equal(read.status, 503, read.text);
      assert.match((json(read) as { error: string }).error, /may sit only on nodes that are gone or silent/);
      const created = await http('PUT', `http://${leader}${documentPath(key)}`, '{"kept": false}', { 'content-type': 'application/json', 'if-none-match': '*' });
      assert.equal(created.status, 503, created.text);
    } finally {
      for (const id of followers) cluster.get(id).signal('SIGCONT');
    }
    let served: unknown;
    await cluster.waitFor(
      async () => {
        const answer = await http('GET', `http://${leader}${documentPath(key)}`).catch(() => null);
        if (answer?.status === 200) served = json(answer);
        return answer?.status === 200;
      },
      { timeoutMs: 20_000, message: 'the key to be served again once its holders are back' },
    );
    assert.deepEqual(served, { kept: true });
  });

  it('places keys without a node alive in etcd that does not answer the leader, and takes it back once it answers', { skip: Firewall.unavailableReason() ?? false }, async () => {
    const leader = await cluster.waitForLeader();
    const alive = (await cluster.heartbeat(leader))!.nodes.map((node) => node.id);
    const follower = alive.find((id) => id !== leader)!;
    const key = makeKeys(17, 200).find((candidate) => owners(candidate, alive, 2).includes(follower) && owners(candidate, alive, 2).includes(leader))!;
    await cluster.waitFor(async () => (await http('PUT', `http://${leader}${documentPath(key)}`, '{"n": 1}')).status === 201, { message: 'the key to be written' });
    // Nothing reaches the follower's port; its own etcd client goes on renewing its lease.
    const rule = ['OUTPUT', '-p', 'tcp', '-d', '127.0.0.1', '--dport', follower.split(':')[1]!, '-j', 'DROP'];
    execFileSync('iptables', ['-w', '-A', ...rule]);
    try {
      await cluster.waitFor(async () => (await http('PUT', `http://${leader}${documentPath(key)}`, '{"n": 2}')).status === 200, {
        timeoutMs: TIMING.failureTimeoutMs + 10_000,
        message: 'the leader to place the key without the node it cannot reach',
      });
      assert.ok((await cluster.heartbeat(leader))!.nodes.some((node) => node.id === follower), 'the unreachable node is still alive in etcd');
      assert.deepEqual(json(await http('GET', `http://${leader}${documentPath(key)}`)), { n: 2 });
    } finally {
      execFileSync('iptables', ['-w', '-D', ...rule]);
    }
    // Back in the view once it answers the leader's probe, the follower is repaired to the newest copy.
    await cluster.waitFor(
      async () => {
        const answer = await internalPost(follower, REPLICA_READ_PATH, JSON.stringify({ keys: [key] }));
        return (json(answer) as { records: ({ value: string | null } | null)[] }).records[0]?.value === '{"n": 2}';
      },
      { timeoutMs: 20_000, message: 'the follower to hold the newest copy again' },
    );
  });

  it('a leader cut off from etcd\'s quorum stops serving writes within the failure timeout, and serves again after', async () => {
    const leader = await cluster.waitForLeader();
    const [key] = makeKeys(13, 1);
    // Two of three members paused: no quorum, no keepalive succeeds.
    etcd.pause(0);
    etcd.pause(1);
    try {
      // The lease's end is what is timed: a write may be refused sooner (recording a view needs etcd too).
      await cluster.waitFor(async () => (await cluster.heartbeat(leader))?.coordinator?.connected === false, {
        // The leader stops at 90 % of the timeout after its last keepalive; the rest is this poll's own latency on a loaded machine.
        timeoutMs: TIMING.failureTimeoutMs + POLL_SLACK_MS,
        intervalMs: 50,
        message: 'the leader to count its lease as lost',
      });
      const refused = await http('PUT', `http://${leader}${documentPath(key)}`, '{"a": 1}');
      assert.equal(refused.status, 503, refused.text);
    } finally {
      etcd.resume(0);
      etcd.resume(1);
    }
    const back = await cluster.waitForLeader(undefined, 30_000);
    await cluster.waitFor(async () => [200, 201].includes((await http('PUT', `http://${back}${documentPath(key)}`, '{"a": 2}').catch(() => null))?.status ?? 0), {
      timeoutMs: 20_000,
      message: 'writes to be served again',
    });
    assert.deepEqual(json(await http('GET', `http://${back}${documentPath(key)}`)), { a: 2 });
  });
});
