// Nodes that must not start, or must not join: a replication-factor mismatch,
// an unreachable join target, a port in use, an unwritable data dir, bad flags.
// Each gets a clear one-line error and a non-zero exit, and none of them ever
// shows up in the node list of the running cluster.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import type { LocalCluster } from '../../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../../src/local-cluster/ports.js';
import { CLI_BIN, NODE_BIN, REPO_ROOT } from '../helpers/cli.js';
import { FAST, fastCluster, internalPost, json, literal, nodeIds, runToExit, tempDir, type Finished } from '../helpers/integration.js';
import { GOSSIP_PATH } from '../../src/protocol/paths.js';

// Ascending, so ONE leads. Then a port for each refused node, and one nobody ever listens on.
const [P1, P2, RF3_PORT, UNREACHABLE_PORT, SQUATTED_PORT, NO_DIR_PORT, NOBODY_PORT] = (await allocatePorts(7)) as [number, number, number, number, number, number, number];
const [ONE, TWO, RF3, NOBODY] = nodeIds([P1, P2, RF3_PORT, NOBODY_PORT]) as [string, string, string, string];
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** The test cluster's secret file, once it started. */
let secretFile = '';

/** The flags of a node that would join the test cluster. */
function joiner(port: number, dataDir: string, replicationFactor = 2): string[] {
  return [
    '--cluster-secret-file', secretFile,
    '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--join', ONE, '--replication-factor', String(replicationFactor),
    '--heartbeat-interval', `${FAST.heartbeatIntervalMs}ms`, '--failure-timeout', `${FAST.failureTimeoutMs}ms`,
  ];
}

function assertOneLineError(run: Finished, pattern: RegExp): void {
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${run.stderr}`);
  assert.match(lines[0]!, pattern);
}

describe('joining and starting up', { timeout: 120_000 }, () => {
  let cluster: LocalCluster;
  let dir: string;
  /** Node lists seen by the watcher that name anything but the two members. */
  const intruders = new Set<string>();
  let watching = true;
  let watcher: Promise<void> = Promise.resolve();

  /** Runs a node that must refuse, then watches the lists a little longer than its announcement could take to show. */
  async function refused(args: string[]): Promise<Finished> {
    // A refusal that failed earlier may still be listed until the failure timeout: start clean.
    await cluster.waitFor(async () => (await cluster.heartbeats()).every((beat) => beat.nodes.map((node) => node.id).join(',') === `${ONE},${TWO}`), {
      timeoutMs: 10_000,
      message: 'the cluster to list only its two members',
    });
    intruders.clear();
    const run = await runToExit(NODE_BIN, args, 40_000);
    const until = Date.now() + 3 * FAST.heartbeatIntervalMs;
    await cluster.waitFor(() => Date.now() > until, { timeoutMs: 5000, intervalMs: 50 });
    assert.deepEqual([...intruders], [], `a refused node showed up in a node list; it said:\n${run.stderr}`);
    return run;
  }

  before(async () => {
    cluster = fastCluster('membership', 2);
    secretFile = cluster.secretFile;
    dir = cluster.options.baseDir;
    await cluster.start([P1, P2]);
    watcher = (async () => {
      while (watching) {
        for (const beat of await cluster.heartbeats()) {
          const ids = beat.nodes.map((node) => node.id);
          if (ids.join(',') !== `${ONE},${TWO}`) intruders.add(`${beat.node} lists ${ids.join(', ')}`);
        }
        await setTimeout(20);
      }
    })();
  });

  after(async () => {
    watching = false;
    await watcher;
    await cluster.stop();
  });

  it('refuses a replication factor that does not match the cluster', async () => {
    const run = await refused(joiner(RF3_PORT, join(dir, 'rf3'), 3));
    assert.notEqual(run.code, 0);
    assertOneLineError(run, /^Error: replication factor 3 does not match the cluster's replication factor 2$/);
    // The same mismatch sent straight to the gossip endpoint is refused too.
    const gossip = {
      cluster: 'Warehouse 13',
      from: { id: RF3, joined: Date.now() },
      leader: null,
      term: 0,
      replicationFactor: 3,
      nodes: [{ id: RF3, joined: Date.now() }],
    };
    const answer = await internalPost(ONE, GOSSIP_PATH, JSON.stringify(gossip));
    assert.equal(answer.status, 409);
    assert.match(json(answer).error, /replication factor 3 does not match the cluster's replication factor 2/);
  });

  it('gives up on an unreachable join target after a bounded retry', async () => {
    const run = await refused(['--cluster-secret-file', secretFile, '--port', String(UNREACHABLE_PORT), '--data-dir', join(dir, 'unreachable'), '--join', NOBODY]);
    assert.notEqual(run.code, 0);
    assertOneLineError(run, new RegExp(`^Error: .*${literal(NOBODY)}`));
    assert.ok(run.ms < 30_000, `gave up after ${run.ms} ms`);
  });

  it('refuses a port in use, before announcing itself to the cluster', async () => {
    const squatter: Server = createServer((socket) => socket.destroy());
    squatter.listen(SQUATTED_PORT, '127.0.0.1');
    await once(squatter, 'listening');
    try {
      const run = await refused(joiner(SQUATTED_PORT, join(dir, 'port-in-use')));
      assert.notEqual(run.code, 0);
      assertOneLineError(run, new RegExp(`^Error: port ${SQUATTED_PORT} on 127\\.0\\.0\\.1 is already in use$`));
    } finally {
      squatter.close();
    }
    // And a port of a running member, without --join.
    const run = await refused(['--port', String(P1), '--data-dir', join(dir, 'taken')]);
    assert.notEqual(run.code, 0);
    assertOneLineError(run, new RegExp(`^Error: port ${P1} on 127\\.0\\.0\\.1 is already in use$`));
  });

  it('refuses a data dir it cannot write', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    const run = await refused(joiner(NO_DIR_PORT, join(file, 'data')));
    assert.notEqual(run.code, 0);
    assertOneLineError(run, /^Error: .*data dir .*a-file\/data.* (not writable|cannot)/);
  });

  it('the cluster is unchanged after all the refusals', async () => {
    for (const beat of await cluster.heartbeats()) {
      assert.deepEqual(beat.nodes.map((node) => node.id), [ONE, TWO]);
      assert.equal(beat.leader, ONE);
    }
  });
});

describe('command-line flags', { timeout: 60_000, concurrency: true }, () => {
  const dir = tempDir('flags');
  after(() => rmSync(dir, { recursive: true, force: true }));
  const badNodeFlags: string[][] = [
    ['--port', 'notaport'],
    ['--port', '70000'],
    ['--replication-factor', '0'],
    ['--replication-factor', 'two'],
    ['--heartbeat-interval', 'soon'],
    ['--heartbeat-interval', '5s', '--failure-timeout', '1s'],
    ['--join', 'nohostport'],
    ['--log-level', 'loud'],
    ['--max-value-size', 'huge'],
    ['--bogus'],
    ['--prot', '1'],
    ['positional'],
  ];
  for (const flags of badNodeFlags) {
    it(`warehouse-node ${flags.join(' ')} exits 2 with a one-line error`, async () => {
      const run = await runToExit(NODE_BIN, [...flags, '--data-dir', join(dir, 'never')]);
      assert.equal(run.code, 2, run.stderr);
      assertOneLineError(run, /^Error: \S/);
      assert.equal(run.stdout, '');
    });
  }

  for (const flags of [['--bogus'], ['-P', 'notaport'], ['--heartbeat-interval', 'soon'], ['--hots', 'x']]) {
    it(`warehouse-cli ${flags.join(' ')} exits 2 with a one-line error`, async () => {
      const run = await runToExit(CLI_BIN, flags);
      assert.equal(run.code, 2, run.stderr);
      assertOneLineError(run, /^Error: \S/);
    });
  }

  it('warehouse-cli against a port nobody listens on exits 1 with a one-line error', async () => {
    const run = await runToExit(CLI_BIN, ['-H', '127.0.0.1', '-P', String(NOBODY_PORT)]);
    assert.equal(run.code, 1);
    assertOneLineError(run, new RegExp(`^Error: cannot connect to a database of Warehouse 13 at ${literal(NOBODY)}`));
  });

  for (const bin of [NODE_BIN, CLI_BIN]) {
    const name = bin.endsWith('node') ? 'warehouse-node' : 'warehouse-cli';
    it(`${name} --help and --version exit 0`, async () => {
      const help = await runToExit(bin, ['--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, new RegExp(`^Usage: ${name} `));
      assert.equal(help.stderr, '');
      const version = await runToExit(bin, ['--version']);
      assert.equal(version.code, 0);
      assert.equal(version.stdout.trim(), VERSION);
    });
  }
});
