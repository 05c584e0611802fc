import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConflictError, UnavailableError, InvalidRequestError, WarehouseError, type Heartbeat } from '../../src/client/index.js';
import { execute, type DocumentClient } from '../../src/cli/execute.js';
import { formatConnection, formatDelete, formatError, formatGet, formatStatus, formatWrite } from '../../src/cli/format.js';
import { parseLine, unquote } from '../../src/cli/parse.js';

const KEY = '0d5d3807-5fbf-4228-a657-5a091c4e497f';
const COMB = `{"name": "Chapayev's Mustache comb"}`;

function heartbeat(overrides: Partial<Heartbeat> = {}): Heartbeat {
  return {
    cluster: 'Warehouse 13',
    node: '127.0.0.1:8765',
    leader: '127.0.0.1:8765',
    term: 3,
    replicationFactor: 2,
    heartbeatIntervalMs: 1000,
    failureTimeoutMs: 10_000,
    nodes: ['127.0.0.1:8765', '127.0.0.1:9876', '127.0.0.1:8697'].map((id, joined) => ({ id, joined, state: 'alive' as const })),
    warnings: [],
    ...overrides,
  };
}

describe('parseLine', () => {
  it('parses the transcript lines', () => {
    assert.deepEqual(parseLine(`SET 12345 '${COMB}'`), { kind: 'error', message: 'Key is not a proper UUID4' });
    assert.deepEqual(parseLine(`SET ${KEY} '${COMB}'`), { kind: 'set', key: KEY, value: COMB });
    assert.deepEqual(parseLine(`GET ${KEY}`), { kind: 'get', key: KEY });
    assert.deepEqual(parseLine(`DELETE ${KEY}`), { kind: 'delete', key: KEY });
  });

  it('is case-insensitive about commands and keeps the key as typed', () => {
    assert.deepEqual(parseLine(`get ${KEY.toUpperCase()}`), { kind: 'get', key: KEY.toUpperCase() });
    assert.deepEqual(parseLine('Status'), { kind: 'status' });
    assert.deepEqual(parseLine('help'), { kind: 'help' });
    assert.deepEqual(parseLine('exit'), { kind: 'exit' });
    assert.deepEqual(parseLine('QUIT'), { kind: 'exit' });
  });

  it('keeps inner whitespace of the value and trims the line ends', () => {
    assert.deepEqual(parseLine(`  SET   ${KEY}   {"a":   [1,  2]}  \r`), { kind: 'set', key: KEY, value: '{"a":   [1,  2]}' });
    assert.deepEqual(parseLine(`SET ${KEY}\t' "spaced" '`), { kind: 'set', key: KEY, value: ' "spaced" ' });
  });

  it('accepts unquoted JSON values', () => {
    assert.deepEqual(parseLine(`SET ${KEY} 42`), { kind: 'set', key: KEY, value: '42' });
    assert.deepEqual(parseLine(`SET ${KEY} "it's"`), { kind: 'set', key: KEY, value: `"it's"` });
  });

  it('reports empty lines as nothing to answer', () => {
    assert.deepEqual(parseLine(''), { kind: 'empty' });
    assert.deepEqual(parseLine('   \t'), { kind: 'empty' });
  });

  it('reports usage errors in one line', () => {
    assert.deepEqual(parseLine('FOO bar'), { kind: 'error', message: 'Unknown command "FOO" (try HELP)' });
    assert.deepEqual(parseLine(`SET ${KEY}`), { kind: 'error', message: 'SET takes a key and a value' });
    assert.deepEqual(parseLine('SET'), { kind: 'error', message: 'SET takes a key and a value' });
    assert.deepEqual(parseLine('GET'), { kind: 'error', message: 'GET takes exactly one key' });
    assert.deepEqual(parseLine(`DELETE ${KEY} ${KEY}`), { kind: 'error', message: 'DELETE takes exactly one key' });
    assert.deepEqual(parseLine('STATUS now'), { kind: 'error', message: 'STATUS takes no arguments' });
    assert.deepEqual(parseLine('GET 12345'), { kind: 'error', message: 'Key is not a proper UUID4' });
    assert.deepEqual(parseLine(`SET ${KEY} {name: 1}`), { kind: 'error', message: 'Value is not valid JSON' });
    assert.deepEqual(parseLine(`SET ${KEY} '`), { kind: 'error', message: 'Value is not valid JSON' });
  });

  it('parses versions and conditions: GET -v, SET ... IF <version> / IF ABSENT, DELETE ... IF <version>', () => {
    const V = '3.1812345678901234.127.0.0.1:8001';
    assert.deepEqual(parseLine(`GET -v ${KEY}`), { kind: 'get', key: KEY, withVersion: true });
    assert.deepEqual(parseLine(`get -V ${KEY}`), { kind: 'get', key: KEY, withVersion: true });
    assert.deepEqual(parseLine(`SET ${KEY} '${COMB}' IF ${V}`), { kind: 'set', key: KEY, value: COMB, condition: { ifVersion: V } });
    assert.deepEqual(parseLine(`SET ${KEY} {"a": 1} if absent`), { kind: 'set', key: KEY, value: '{"a": 1}', condition: { ifAbsent: true } });
    assert.deepEqual(parseLine(`DELETE ${KEY} IF ${V}`), { kind: 'delete', key: KEY, ifVersion: V });
    // A string value that merely ends in "IF ..." stays a plain value.
    assert.deepEqual(parseLine(`SET ${KEY} "stop IF ABSENT"`), { kind: 'set', key: KEY, value: '"stop IF ABSENT"' });
    const badVersion = { kind: 'error', message: 'Version is not valid (GET -v KEY shows it, e.g. 3.1812345678901234.127.0.0.1:8001)' };
    assert.deepEqual(parseLine(`SET ${KEY} 1 IF seven`), badVersion);
    assert.deepEqual(parseLine(`DELETE ${KEY} IF 1.x`), badVersion);
    assert.deepEqual(parseLine(`SET ${KEY} {bad IF ABSENT`), { kind: 'error', message: 'Value is not valid JSON' });
    assert.deepEqual(parseLine(`DELETE ${KEY} IF`), { kind: 'error', message: 'DELETE takes exactly one key' });
    assert.deepEqual(parseLine(`GET -v`), { kind: 'error', message: 'GET takes exactly one key' });
    assert.deepEqual(parseLine(`GET -v 12345`), { kind: 'error', message: 'Key is not a proper UUID4' });
  });
});

describe('unquote', () => {
  it('removes exactly one pair of outer single quotes', () => {
    assert.equal(unquote(`'${COMB}'`), COMB);
    assert.equal(unquote(`''1''`), `'1'`);
    assert.equal(unquote(`''`), '');
    assert.equal(unquote(`'`), `'`);
    assert.equal(unquote(`'1`), `'1`);
    assert.equal(unquote('"x"'), '"x"');
  });
});

describe('format', () => {
  it('prints the connection block of the transcript', () => {
    assert.deepEqual(formatConnection('Connected', heartbeat()), [
      'Connected to a database of Warehouse 13 at 127.0.0.1:8765',
      'Known nodes:',
      '127.0.0.1:8765',
      '127.0.0.1:9876',
      '127.0.0.1:8697',
    ]);
    const alone = heartbeat({
      node: '127.0.0.1:9876',
      leader: '127.0.0.1:9876',
      nodes: [{ id: '127.0.0.1:9876', joined: 1, state: 'alive' }],
      warnings: ['cluster size (1) is smaller than a replication factor (2)!'],
    });
    assert.deepEqual(formatConnection('Reconnected', alone), [
      'Reconnected to a database of Warehouse 13 at 127.0.0.1:9876',
      'Known nodes:',
      '127.0.0.1:9876',
      'WARNING: cluster size (1) is smaller than a replication factor (2)!',
    ]);
  });

  it('prints write results with the right plural', () => {
    assert.equal(formatWrite({ result: 'created', replicas: 2 }), 'Created (2 replicas)');
    assert.equal(formatWrite({ result: 'updated', replicas: 1 }), 'Updated (1 replica)');
    assert.equal(formatWrite({ result: 'deleted', replicas: 0 }), 'Deleted (0 replicas)');
    assert.equal(formatDelete({ found: true, result: 'deleted', replicas: 2 }), 'Deleted (2 replicas)');
    assert.equal(formatDelete({ found: false }), 'Not found');
  });

  it('prints documents in single quotes, unchanged', () => {
    assert.equal(formatGet({ found: true, value: COMB, version: '1.2.a:1' }), `'${COMB}'`);
    assert.equal(formatGet({ found: false }), 'Not found');
  });

  it('keeps errors on one line', () => {
    assert.equal(formatError('Key is not a proper UUID4'), 'Error: Key is not a proper UUID4');
    assert.equal(formatError('two\n  lines\r\n'), 'Error: two lines ');
  });

  it('shows the status with repair state and warnings', () => {
    const status = formatStatus(
      heartbeat({ repair: { underReplicated: 4, transfersInProgress: 1, hintsPending: 2, inSync: false }, warnings: ['something is off'] }),
    );
    assert.deepEqual(status, [
      'Leader: 127.0.0.1:8765',
      'Term: 3',
      'Mode: gossip',
      'Replication factor: 2',
      'Heartbeat interval: 1s, failure timeout: 10s',
      'Nodes (3):',
      '  127.0.0.1:8765 (leader)',
      '  127.0.0.1:9876',
      '  127.0.0.1:8697',
      'Repair: in progress (4 under-replicated keys, 1 transfers in progress, 2 hints pending)',
      'WARNING: something is off',
    ]);
  });

  it('shows the consistent mode with the health of each etcd endpoint', () => {
    const status = formatStatus(
      heartbeat({
        mode: 'etcd',
        coordinator: { clusterName: 'north', connected: true, endpoints: [{ url: 'http://127.0.0.1:2379', healthy: true }, { url: 'http://127.0.0.2:2379', healthy: false }] },
      }),
    );
    assert.deepEqual(status.slice(2, 4), ['Mode: consistent (etcd, cluster name "north")', 'etcd: 127.0.0.1:2379 healthy, 127.0.0.2:2379 unhealthy']);
    const cutOff = formatStatus(heartbeat({ mode: 'etcd', coordinator: { clusterName: 'north', connected: false, endpoints: [] } }));
    assert.match(cutOff[2]!, /cut off from etcd/);
  });
});

describe('execute', () => {
  function fake(overrides: Partial<DocumentClient>): DocumentClient {
    const refuse = (): never => assert.fail('unexpected call');
    return { get: refuse, set: refuse, create: refuse, delete: refuse, locate: refuse, cluster: refuse, heartbeat, ...overrides };
  }

  it('answers the transcript commands', async () => {
    const client = fake({
      set: async (key, value) => (assert.equal(key, KEY), assert.equal(value, COMB), { result: 'created', replicas: 2, version: '1.2.a:1' }),
      get: async () => ({ found: true, value: COMB, version: '1.2.a:1' }),
      delete: async () => ({ found: true, result: 'deleted', replicas: 2 }),
    });
    assert.deepEqual(await execute({ kind: 'set', key: KEY, value: COMB }, client), ['Created (2 replicas)']);
    assert.deepEqual(await execute({ kind: 'get', key: KEY }, client), [`'${COMB}'`]);
    assert.deepEqual(await execute({ kind: 'delete', key: KEY }, client), ['Deleted (2 replicas)']);
  });

  it('shows versions and runs conditional writes, with conflicts as one Error line', async () => {
    const V = '3.18.127.0.0.1:8001';
    const calls: unknown[] = [];
    const conflict = (message: string) => async (): Promise<never> => {
      throw new ConflictError(message, V);
    };
    const client = fake({
      get: async () => ({ found: true, value: COMB, version: V }),
      set: async (_key, _value, options) => (calls.push(['set', options]), { result: 'updated', replicas: 2, version: V }),
      create: conflict(`Key exists (current: ${V})`),
      delete: async (_key, options) => (calls.push(['delete', options]), { found: true, result: 'deleted', replicas: 2 }),
    });
    assert.deepEqual(await execute({ kind: 'get', key: KEY, withVersion: true }, client), [`'${COMB}'`, `Version: ${V}`]);
    assert.deepEqual(await execute({ kind: 'set', key: KEY, value: '1', condition: { ifVersion: V } }, client), ['Updated (2 replicas)']);
    assert.deepEqual(await execute({ kind: 'set', key: KEY, value: '1', condition: { ifAbsent: true } }, client), [`Error: Key exists (current: ${V})`]);
    assert.deepEqual(await execute({ kind: 'delete', key: KEY, ifVersion: V }, client), ['Deleted (2 replicas)']);
    assert.deepEqual(calls, [['set', { ifVersion: V }], ['delete', { ifVersion: V }]]);
    const stale = fake({ set: conflict(`Version mismatch (current: ${V})`) });
    assert.deepEqual(await execute({ kind: 'set', key: KEY, value: '1', condition: { ifVersion: '1.1.a:1' } }, stale), [`Error: Version mismatch (current: ${V})`]);
  });

  it('turns an unavailable cluster into the storage-level message', async () => {
    const down = async (): Promise<never> => {
      throw new UnavailableError('no leader within 25s: 127.0.0.1:8765: connect ECONNREFUSED');
    };
    const client = fake({ get: down, set: down, delete: down });
    assert.deepEqual(await execute({ kind: 'set', key: KEY, value: '1' }, client), ['Error: Failed to write an entry']);
    assert.deepEqual(await execute({ kind: 'delete', key: KEY }, client), ['Error: Failed to write an entry']);
    assert.deepEqual(await execute({ kind: 'get', key: KEY }, client), ['Error: Failed to read an entry']);
  });

  it("shows the server's message for rejected requests", async () => {
    const client = fake({
      set: async () => {
        throw new InvalidRequestError('Value is larger than the limit of 1048576 bytes');
      },
      get: async () => {
        throw new WarehouseError('Unexpected answer: HTTP 500');
      },
    });
    assert.deepEqual(await execute({ kind: 'set', key: KEY, value: '1' }, client), ['Error: Value is larger than the limit of 1048576 bytes']);
    assert.deepEqual(await execute({ kind: 'get', key: KEY }, client), ['Error: Unexpected answer: HTTP 500']);
  });

  it('lets programming errors through', async () => {
    const client = fake({
      get: async () => {
        throw new TypeError('bug');
      },
    });
    await assert.rejects(execute({ kind: 'get', key: KEY }, client), TypeError);
  });
});
