// The task's REPL session, line by line, against three real nodes and the real
// `./warehouse-cli` with piped stdin: connect banner, errors, Created/Updated/
// Deleted/Not found, then the leader killed twice with SIGKILL while the CLI
// reconnects by itself, and finally every node dead.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { owners } from '../../src/placement/rendezvous.js';
import type { LocalCluster } from '../../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../../src/local-cluster/ports.js';
import { CliDriver } from '../helpers/cli.js';
import { fastCluster, makeKeys, nodeIds, withLogs } from '../helpers/integration.js';

// Ordered as the task's ports 8765, 9876 and 8697: A starts first and leads, C sorts first and
// takes over from A, B sorts last and takes over from C.
const [low, middle, high] = (await allocatePorts(3)) as [number, number, number];
const STARTED = [middle, high, low];
const [A, B, C] = nodeIds(STARTED) as [string, string, string];
const KEY = '0d5d3807-5fbf-4228-a657-5a091c4e497f';
const VALUE = `'{"name": "Chapayev's Mustache comb"}'`;
const BANNER = `Connected to a database of Warehouse 13 at ${A}`;

/** A node line of "Known nodes:"; the leader's may end with " (leader)". */
function nodeLine(id: string): RegExp {
  return new RegExp(`^${id.replace(/\./g, '\\.')}( \\(leader\\))?$`);
}

function assertNodeLines(lines: readonly string[], ids: readonly string[]): void {
  assert.equal(lines.length, ids.length);
  ids.forEach((id, i) => assert.match(lines[i]!, nodeLine(id), `node line ${i + 1}: ${lines[i]}`));
}

/** One key per pair of nodes, so that each survivor path is exercised. */
function keysByOwnerPair(): Map<string, string> {
  const wanted = new Map<string, string>();
  for (const key of makeKeys(13, 200)) {
    const pair = owners(key, [A, B, C], 2).sort().join(',');
    if (!wanted.has(pair)) wanted.set(pair, key);
  }
  assert.equal(wanted.size, 3);
  return wanted;
}

describe('REPL transcript (3 nodes, RF 2, real warehouse-cli)', { timeout: 90_000 }, () => {
  let cluster: LocalCluster;
  let cli: CliDriver | undefined;
  const kept = keysByOwnerPair();
  const docs = [...kept.values()].map((key, i) => ({ key, value: `{"artifact": ${i}, "note": "it's kept"}` }));

  before(async () => {
    cluster = fastCluster('repl', 2);
    await cluster.start(STARTED);
  });

  after(async () => {
    await cli?.kill();
    await cluster.stop();
  });

  it('answers a script piped in at once, one line per command in order, and exits 0 at the end of input', async () => {
    const script = CliDriver.start(['-H', '127.0.0.1', '-P', String(high), '--history-file', join(cluster.options.baseDir, 'history')]);
    try {
      const [key] = makeKeys(14, 1);
      for (const line of [`SET ${key} '[1, 2, 3]'`, `GET ${key}`, '', `SET ${key} '"text"'`, `GET ${key}`, `DELETE ${key}`, `GET ${key}`, 'HELP?']) {
        script.send(line);
      }
      script.endInput();
      assert.equal(await script.line(), BANNER);
      await script.lines(4);
      assert.deepEqual(await script.lines(6), [
        'Created (2 replicas)',
        "'[1, 2, 3]'",
        'Updated (2 replicas)',
        `'"text"'`,
        'Deleted (2 replicas)',
        'Not found',
      ]);
      assert.match(await script.line(), /^Error: \S/);
      assert.equal((await script.waitForExit()).code, 0);
      assert.deepEqual(script.unread(), []);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${script.describe()}`, { cause: error });
    } finally {
      await script.kill();
    }
  });

  it('follows the transcript, survives two leader kills and reports the all-dead errors', async () => {
    cli = CliDriver.start(['-H', '127.0.0.1', '-P', String(middle), '--heartbeat-interval', '250ms', '--failover-timeout', '2s', '--history-file', join(cluster.options.baseDir, 'history')]);
    const c = cli;
    try {
      assert.equal(await c.line(), BANNER);
      assert.equal(await c.line(), 'Known nodes:');
      assertNodeLines(await c.lines(3), [A, B, C]);

      assert.deepEqual(await c.ask(`SET 12345 ${VALUE}`), ['Error: Key is not a proper UUID4']);
      assert.deepEqual(await c.ask(`SET ${KEY} ${VALUE}`), ['Created (2 replicas)']);
      assert.deepEqual(await c.ask(`GET ${KEY}`), [VALUE]);
      assert.deepEqual(await c.ask(`SET ${KEY} '{"name": "Chapayev's Mustache comb", "found": 1919}'`), ['Updated (2 replicas)']);
      assert.deepEqual(await c.ask(`GET ${KEY}`), [`'{"name": "Chapayev's Mustache comb", "found": 1919}'`]);
      assert.deepEqual(await c.ask(`DELETE ${KEY}`), ['Deleted (2 replicas)']);
      assert.deepEqual(await c.ask(`GET ${KEY}`), ['Not found']);
      assert.deepEqual(await c.ask(`DELETE ${KEY}`), ['Not found']);

      // Bad input: one line each, starting with "Error: ", and nothing stored.
      const [invalidJson] = await c.ask(`SET ${KEY} '{"name": Chapayev}'`);
      assert.equal(invalidJson, 'Error: Value is not valid JSON');
      assert.deepEqual(await c.ask(`GET ${KEY}`), ['Not found']);
      for (const line of ['FROBNICATE 1', 'GET', `GET ${KEY} ${KEY}`, `SET ${KEY}`, 'DELETE', 'EXIT now']) {
        const [answer] = await c.ask(line);
        assert.match(answer!, /^Error: \S/, `answer to ${JSON.stringify(line)}`);
      }
      // An empty line gets no answer: the next line out answers the next command.
      c.send('');
      c.send('   ');
      assert.deepEqual(await c.ask(`get ${KEY.toUpperCase()}`), ['Not found']);

      for (const { key, value } of docs) assert.deepEqual(await c.ask(`SET ${key} '${value}'`), ['Created (2 replicas)']);
      assert.deepEqual(c.unread(), []);

      // The leader dies: the CLI finds the alive node that sorts first and says so unasked.
      await cluster.get(A).stop('SIGKILL');
      assert.equal(await c.line(15_000), `Reconnected to a database of Warehouse 13 at ${C}`);
      assert.equal(await c.line(), 'Known nodes:');
      assertNodeLines(await c.lines(2), [B, C]);
      for (const { key, value } of docs) assert.deepEqual(await c.ask(`GET ${key}`), [`'${value}'`]);

      // Once the survivors hold every key twice again, the next leader dies too.
      await cluster.waitForInSync(30_000);
      await cluster.get(C).stop('SIGKILL');
      assert.equal(await c.line(15_000), `Reconnected to a database of Warehouse 13 at ${B}`);
      assert.equal(await c.line(), 'Known nodes:');
      assertNodeLines(await c.lines(1), [B]);
      assert.equal(await c.line(), 'WARNING: cluster size (1) is smaller than a replication factor (2)!');
      for (const { key, value } of docs) assert.deepEqual(await c.ask(`GET ${key}`), [`'${value}'`]);
      assert.match((await c.ask(`SET ${KEY} '{"alone": true}'`))[0]!, /^Created \(1 replicas?\)$/);

      // Every node dead: only now the user sees the storage-level errors.
      await cluster.get(B).stop('SIGKILL');
      assert.deepEqual(await c.ask(`GET ${docs[0]!.key}`, 1, 15_000), ['Error: Failed to read an entry']);
      assert.deepEqual(await c.ask(`SET ${KEY} '{"lost": true}'`, 1, 15_000), ['Error: Failed to write an entry']);
      assert.deepEqual(await c.ask(`DELETE ${KEY}`, 1, 15_000), ['Error: Failed to write an entry']);

      c.send('EXIT');
      const { code } = await c.waitForExit();
      assert.equal(code, 0);
      assert.deepEqual(c.unread(), []);
      assert.equal(c.stderr, '');
    } catch (error) {
      throw withLogs(cluster, new Error(`${(error as Error).message}\n${c.describe()}`, { cause: error }));
    }
  });
});
