// The CLI as operators and scripts use it, through the real executables:
// one-shot commands with their exit statuses and --json, LOCATE and NODES,
// tab completion and colours on a real terminal (util-linux `script` gives
// the REPL a pty), and the `npm start` demo's meta-commands on its own nodes.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { LocalCluster } from '../../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../../src/local-cluster/ports.js';
import { CLI_BIN, CliDriver } from '../helpers/cli.js';
import { fastCluster, http, literal, makeKeys, nodeIds, runToExit, tempDir, withLogs } from '../helpers/integration.js';
import { HEARTBEAT_PATH, documentPath } from '../../src/protocol/paths.js';

// Ascending, so the first leads; the fourth stays unused, for a CLI that finds no node there.
const [LEADER_PORT, FOLLOWER_PORT, THIRD_PORT, DOWN_PORT] = (await allocatePorts(4)) as [number, number, number, number];
const PORTS = [LEADER_PORT, FOLLOWER_PORT, THIRD_PORT];
const [LEADER, , THIRD] = nodeIds(PORTS) as [string, string, string];
const SCRIPT = '/usr/bin/script';
const DEMO_BIN = fileURLToPath(new URL('../../src/bin/warehouse-demo.js', import.meta.url));
/** SGR colour codes; readline's own cursor moves are other escape sequences. */
const COLOUR = /\x1b\[(1|3[1-3])m/;

const cli = (...args: string[]) => runToExit(CLI_BIN, ['-H', '127.0.0.1', '-P', String(FOLLOWER_PORT), ...args]);

describe('warehouse-cli one-shot (3 nodes, RF 2)', { timeout: 240_000 }, () => {
  let cluster: LocalCluster;
  const [key, missing] = makeKeys(31, 2);

  before(async () => {
    cluster = fastCluster('cli-operator', 2);
    await cluster.start(PORTS);
    assert.equal(await cluster.waitForLeader(undefined, 10_000), LEADER);
  });

  after(async () => {
    await cluster.stop();
  });

  it('runs one command and exits 0 done, 1 not found, 2 usage', async () => {
    try {
      const set = await cli('SET', key!, `'{"name": "Edison's phonograph", "year": 1877}'`);
      assert.deepEqual([set.code, set.stdout, set.stderr], [0, 'Created (2 replicas)\n', '']);
      const get = await cli('GET', key!);
      assert.deepEqual([get.code, get.stdout], [0, `'{"name": "Edison's phonograph", "year": 1877}'\n`]);
      const notFound = await cli('get', missing!);
      assert.deepEqual([notFound.code, notFound.stdout], [1, 'Not found\n']);
      const badKey = await cli('GET', 'not-a-uuid');
      assert.deepEqual([badKey.code, badKey.stdout, badKey.stderr], [2, '', 'Error: Key is not a proper UUID4\n']);
      const badCommand = await cli('FROB');
      assert.deepEqual([badCommand.code, badCommand.stderr], [2, 'Error: Unknown command "FROB" (try HELP)\n']);
      assert.equal((await cli('--bogus-flag', 'GET', key!)).code, 2);
      const down = await runToExit(CLI_BIN, ['-H', '127.0.0.1', '-P', String(DOWN_PORT), 'GET', key!]);
      assert.equal(down.code, 1);
      assert.match(down.stderr, new RegExp(`^Error: cannot connect to a database of Warehouse 13 at ${literal(`127.0.0.1:${DOWN_PORT}`)}`));
      // Piped output is never coloured.
      assert.doesNotMatch(set.stdout + notFound.stdout + badKey.stderr, COLOUR);
    } catch (error) {
      throw withLogs(cluster, error);
    }
  });

  it('--json answers with one JSON document a script can read', async () => {
    const set = await cli('--json', 'SET', key!, '{"a": [1, 2.50]}');
    assert.equal(set.code, 0);
    const written = JSON.parse(set.stdout) as { version: string };
    assert.deepEqual(written, { key, result: 'updated', replicas: 2, version: written.version });
    assert.match(written.version, new RegExp(`^\\d+\\.\\d+\\.${literal(LEADER)}$`));
    const get = await cli('--json', 'GET', key!);
    assert.equal(get.code, 0);
    // The document is embedded exactly as stored.
    assert.equal(get.stdout, `{"key":"${key}","found":true,"version":"${written.version}","value":{"a": [1, 2.50]}}\n`);
    const stale = await cli('--json', 'SET', key!, '{"a": 3}', 'IF', `1.1.${LEADER}`);
    assert.equal(stale.code, 1, 'a conditional write whose version is stale fails');
    assert.match(stale.stderr, /^Error: /);
    const miss = await cli('--json', 'GET', missing!);
    assert.deepEqual([miss.code, JSON.parse(miss.stdout)], [1, { key: missing, found: false }]);
    const status = await cli('--json', 'STATUS');
    assert.equal((JSON.parse(status.stdout) as { leader: string }).leader, LEADER);
    const json = await cli('--json');
    assert.deepEqual([json.code, json.stderr], [2, 'Error: --json needs a command to run, e.g. warehouse-cli --json GET <key>\n']);
  });

  it('LOCATE shows the owners and the version each holds; NODES every node with its role and state', async () => {
    const located = await cli('--json', 'LOCATE', key!);
    assert.equal(located.code, 0);
    const { copies } = JSON.parse(located.stdout) as { copies: { node: string; owner: boolean; copy: string; version: unknown }[] };
    const owners = copies.filter((copy) => copy.owner);
    assert.equal(owners.length, 2);
    assert.ok(owners.every((copy) => copy.copy === 'document'));
    assert.deepEqual(owners[0]!.version, owners[1]!.version);
    const version = String((await http('GET', `http://${LEADER}${documentPath(key)}`)).headers['x-warehouse-version']);
    const text = await cli('LOCATE', key!);
    assert.equal(text.code, 0);
    const lines = text.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^NODE\s+OWNER\s+COPY\s+VERSION$/);
    assert.equal(lines.filter((line) => line.includes(` yes    document  ${version}`)).length, 2, text.stdout);
    assert.equal((await cli('LOCATE', 'nope')).code, 2);

    const nodes = await cli('NODES');
    assert.equal(nodes.code, 0);
    const rows = nodes.stdout.trimEnd().split('\n');
    assert.match(rows[0]!, /^NODE\s+ROLE\s+STATE\s+TERM\s+LAST HEARTBEAT$/);
    assert.match(rows.find((row) => row.startsWith(LEADER))!, new RegExp(`^${literal(LEADER)}\\s+leader\\s+alive\\s+\\d+\\s+\\d`));
    assert.equal(rows.filter((row) => /\s+follower\s+alive\s+/.test(row)).length, 2);
    const json = JSON.parse((await cli('--json', 'NODES')).stdout) as { leader: string; nodes: unknown[] };
    assert.deepEqual([json.leader, json.nodes.length], [LEADER, 3]);
  });

  it('a plain REPL refuses the demo\'s meta-commands with one line', async () => {
    const repl = CliDriver.start(['-P', String(FOLLOWER_PORT), '--history-file', `${tempDir('history')}/h`]);
    try {
      await repl.lineMatching(THIRD);
      assert.deepEqual(await repl.ask('\\kill 1'), ["Error: Meta-commands such as \\kill control the demo's nodes: they work only in the demo (npm start)"]);
      const nodes = await repl.ask('NODES', 4);
      assert.match(nodes[0]!, /^NODE\s+ROLE\s+STATE\s+TERM\s+LAST HEARTBEAT$/);
      assert.equal(nodes.filter((row) => /\salive\s/.test(row)).length, 3);
    } finally {
      await repl.kill();
    }
  });

  const noScript = existsSync(SCRIPT) ? false : `${SCRIPT} (util-linux) is missing: it gives the REPL a terminal`;

  it('on a terminal: tab completes commands and answers are coloured, but never with NO_COLOR', { skip: noScript }, async () => {
    for (const noColor of [false, true]) {
      const command = `${CLI_BIN} -H 127.0.0.1 -P ${FOLLOWER_PORT} --history-file ${tempDir('history')}/h`;
      const env: NodeJS.ProcessEnv = { TERM: 'xterm', ...(noColor ? { NO_COLOR: '1' } : { NO_COLOR: '' }) };
      const tty = CliDriver.start(['-qfec', command, '/dev/null'], env, { bin: SCRIPT });
      try {
        await tty.lineMatching(/Connected to a database/);
        // One key at a time, as typed: readline completes no tab that arrives with other keys (a paste).
        await tty.currentLineMatching(/> /);
        tty.child.stdin.write('NOD');
        await tty.currentLineMatching(/NOD/);
        tty.child.stdin.write('\t');
        await tty.currentLineMatching(/NODES /);
        tty.child.stdin.write('\r');
        await tty.lineMatching(/NODE\s+ROLE\s+STATE/);
        tty.child.stdin.write(`GET ${missing}\r`);
        await tty.lineMatching(/Not found/);
        tty.child.stdin.write('EXIT\r');
        await tty.waitForExit();
        const screen = tty.transcript.join('\n');
        assert.doesNotMatch(screen, /Unknown command/, 'NOD was completed to NODES before Enter');
        if (noColor) assert.doesNotMatch(screen, COLOUR);
        else assert.match(screen, /\x1b\[33mNot found\x1b\[39m/);
      } finally {
        await tty.kill();
      }
    }
  });
});

describe('the demo (npm start) and its meta-commands', { timeout: 240_000 }, () => {
  let demo: CliDriver;

  before(() => {
    // The built demo, run by node as scripts/start.mjs runs it, in a folder of its own for ./data.
    demo = CliDriver.start([DEMO_BIN], {}, { bin: process.execPath, cwd: tempDir('demo') });
  });

  after(async () => {
    if (demo.running) await demo.kill();
  });

  it('controls its own nodes: \\nodes, \\kill, \\pause, \\resume, \\restart, \\add, \\ui', async () => {
    try {
      await demo.lineMatching('Connected to a database of Warehouse 13 at 127.0.0.1:8765', 30_000);
      await demo.lineMatching('127.0.0.1:8697');
      let count = 3;
      const table = async () => {
        demo.send('\\nodes');
        const rows = await demo.lines(1 + count);
        assert.match(rows[0]!, /^#\s+NODE\s+PROCESS\s+ROLE$/);
        return rows.slice(1).map((row) => row.split(/\s+/));
      };
      assert.deepEqual(await table(), [
        ['1', '127.0.0.1:8765', 'running', 'leader'],
        ['2', '127.0.0.1:9876', 'running', '-'],
        ['3', '127.0.0.1:8697', 'running', '-'],
      ]);
      assert.deepEqual(await demo.ask('\\kill 2'), ['Killed node 2 (127.0.0.1:9876) with SIGKILL']);
      assert.equal((await http('GET', `http://127.0.0.1:9876${HEARTBEAT_PATH}`).catch(() => null)), null, 'node 2 is gone');
      assert.deepEqual(await demo.ask('\\pause 3'), ['Paused node 3 (127.0.0.1:8697) (SIGSTOP); \\resume 3 wakes it']);
      assert.deepEqual((await table()).map((row) => row[2]), ['running', 'stopped', 'paused']);
      assert.deepEqual(await demo.ask('\\resume 3'), ['Resumed node 3 (127.0.0.1:8697)']);
      assert.deepEqual(await demo.ask('\\kill 2'), ['Error: node 2 (127.0.0.1:9876) is not running (\\restart 2 starts it)']);
      assert.deepEqual(await demo.ask('\\restart 2', 1, 30_000), ['Restarted node 2 (127.0.0.1:9876)']);
      assert.deepEqual(await demo.ask('\\add', 1, 30_000), ['Added node 4 (127.0.0.1:9877), joining the cluster']);
      count = 4;
      assert.deepEqual((await table()).map((row) => row[2]), ['running', 'running', 'running', 'running']);
      assert.deepEqual(await demo.ask('\\ui'), ['Dashboard: http://127.0.0.1:8765/ui/']);
      assert.equal((await http('GET', 'http://127.0.0.1:8765/ui/')).status, 200);
      assert.deepEqual(await demo.ask('\\kill 9'), ['Error: there is no node 9 (see \\nodes)']);
      assert.deepEqual(await demo.ask('\\frob'), ['Error: Unknown meta-command "\\frob" (try \\help)']);
      // The documents still work, and every node the leader sees is back.
      const [key] = makeKeys(41, 1);
      assert.deepEqual(await demo.ask(`SET ${key} {"ok": true}`), ['Created (2 replicas)']);
      demo.send('EXIT');
      assert.equal((await demo.waitForExit(30_000)).code, 0);
      for (const port of [8765, 9876, 8697, 9877]) {
        assert.equal(await http('GET', `http://127.0.0.1:${port}${HEARTBEAT_PATH}`).catch(() => null), null, `node on ${port} stopped with the demo`);
      }
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${demo.describe()}`);
    }
  });
});
