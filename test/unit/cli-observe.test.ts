// The CLI's operator pieces: LOCATE and NODES parsing and output, tab
// completion, colours (TTY only, never with NO_COLOR) and the demo's meta-commands.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMMAND_NAMES, parseLine } from '../../src/cli/parse.js';
import { formatLocation, formatNodes } from '../../src/cli/format-cluster.js';
import { completeCommand } from '../../src/cli/completion.js';
import { colorsWanted, painter } from '../../src/cli/colors.js';
import { META_NAMES, parseMeta } from '../../src/demo/meta.js';

const KEY = '0d5d3807-5fbf-4228-a657-5a091c4e497f';

describe('LOCATE and NODES', () => {
  it('parse like the other commands', () => {
    assert.deepEqual(parseLine(`locate ${KEY}`), { kind: 'locate', key: KEY });
    assert.deepEqual(parseLine('NODES'), { kind: 'nodes' });
    assert.deepEqual(parseLine('LOCATE nope'), { kind: 'error', message: 'Key is not a proper UUID4' });
    assert.deepEqual(parseLine('LOCATE'), { kind: 'error', message: 'LOCATE takes exactly one key' });
    assert.deepEqual(parseLine('NODES all'), { kind: 'error', message: 'NODES takes no arguments' });
  });

  it('print aligned tables', () => {
    const location = {
      key: KEY,
      replicationFactor: 2,
      copies: [
        { node: '127.0.0.1:8765', owner: true, copy: 'document' as const, version: [1, 2048, '127.0.0.1:8765'] as [number, number, string] },
        { node: '127.0.0.1:9876', owner: true, copy: 'unreachable' as const, version: null },
        { node: '127.0.0.1:8697', owner: false, copy: 'none' as const, version: null },
      ],
    };
    assert.deepEqual(formatLocation(location), [
      'NODE            OWNER  COPY         VERSION',
      '127.0.0.1:8765  yes    document     1.2048.127.0.0.1:8765',
      '127.0.0.1:9876  yes    unreachable  -',
      '127.0.0.1:8697  no     none         -',
    ]);
    const snapshot = {
      node: '127.0.0.1:8765', at: 0, leader: '127.0.0.1:8765', term: 2, replicationFactor: 3, heartbeatIntervalMs: 1000, failureTimeoutMs: 10000,
      nodes: [
        { id: '127.0.0.1:8765', role: 'leader' as const, state: 'alive' as const, term: 2, lastHeardMsAgo: 0 },
        { id: '127.0.0.1:9876', role: 'follower' as const, state: 'down' as const, term: null, lastHeardMsAgo: 12_345 },
      ],
      warnings: ['cluster size (1) is smaller than a replication factor (3)!'],
      repair: { underReplicated: 0, transfersInProgress: 0, hintsPending: 0, inSync: true },
      traffic: null,
    };
    assert.deepEqual(formatNodes(snapshot), [
      'NODE            ROLE      STATE  TERM  LAST HEARTBEAT',
      '127.0.0.1:8765  leader    alive  2     0 ms ago',
      '127.0.0.1:9876  follower  down   -     12.3 s ago',
      'WARNING: cluster size (1) is smaller than a replication factor (3)!',
    ]);
  });
});

describe('tab completion', () => {
  const names = [...COMMAND_NAMES, ...META_NAMES];

  it('completes the command word, whatever its case, and nothing after it', () => {
    assert.deepEqual(completeCommand('ge', names), [['GET '], 'ge']);
    assert.deepEqual(completeCommand('LOC', names), [['LOCATE '], 'LOC']);
    assert.deepEqual(completeCommand('S', names), [['SET', 'STATUS'], 'S']);
    assert.deepEqual(completeCommand('\\k', names), [['\\kill '], '\\k']);
    assert.deepEqual(completeCommand('GET 0d5', names), [[], 'GET 0d5']);
    assert.deepEqual(completeCommand('', names)[0].length, names.length);
  });
});

describe('colours', () => {
  it('only on a terminal, never with NO_COLOR', () => {
    assert.equal(colorsWanted({ isTTY: true }, {}), true);
    assert.equal(colorsWanted({ isTTY: false }, {}), false);
    assert.equal(colorsWanted({}, {}), false);
    assert.equal(colorsWanted({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(colorsWanted({ isTTY: true }, { NO_COLOR: '' }), true, 'an empty NO_COLOR does not count (no-color.org)');
  });

  it('paints by meaning, and is the identity when off', () => {
    const paint = painter(true);
    assert.equal(paint('Error: Failed to read an entry'), '\x1b[31mError: Failed to read an entry\x1b[39m');
    assert.equal(paint('Created (2 replicas)'), '\x1b[32mCreated (2 replicas)\x1b[39m');
    assert.equal(paint('Not found'), '\x1b[33mNot found\x1b[39m');
    assert.equal(paint("'{}'"), "'{}'");
    assert.equal(painter(false)('Error: x'), 'Error: x');
  });
});

describe('demo meta-commands', () => {
  it('parse with a node number where one is needed', () => {
    assert.deepEqual(parseMeta('\\nodes'), { kind: 'nodes' });
    assert.deepEqual(parseMeta('  \\KILL 2 '), { kind: 'kill', node: 2 });
    assert.deepEqual(parseMeta('\\restart 10'), { kind: 'restart', node: 10 });
    assert.deepEqual(parseMeta('\\kill'), { kind: 'error', message: '\\kill takes a node number (see \\nodes)' });
    assert.deepEqual(parseMeta('\\pause 0'), { kind: 'error', message: '\\pause takes a node number (see \\nodes)' });
    assert.deepEqual(parseMeta('\\resume two'), { kind: 'error', message: '\\resume takes a node number (see \\nodes)' });
    assert.deepEqual(parseMeta('\\add 1'), { kind: 'error', message: '\\add takes no arguments' });
    assert.deepEqual(parseMeta('\\drop'), { kind: 'error', message: 'Unknown meta-command "\\drop" (try \\help)' });
  });
});
