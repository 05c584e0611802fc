import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatGet } from '../../src/cli/format.js';
import { MAX_TIMER_MS, parseDuration } from '../../src/common/duration.js';
import { stampMismatch } from '../../src/membership/identity.js';
import { DataDirError, lockDataDir, refusePseudoFileSystem } from '../../src/storage/data-dir.js';

describe('the REPL prints values safely', () => {
  it('escapes control characters a terminal would obey, keeps JSON whitespace', () => {
    assert.equal(formatGet({ found: true, value: '"\u001b[2J\u0007x\r"' }), `'"\\u001b[2J\\u0007x\\u000d"'`);
    assert.equal(formatGet({ found: true, value: '{\n\t"a": "\u009b"}' }), `'{\n\t"a": "\\u009b"}'`);
    assert.equal(formatGet({ found: true, value: '{"name": "Chapayev\'s Mustache comb"}' }), `'{"name": "Chapayev's Mustache comb"}'`);
  });
});

describe('durations', () => {
  it('are capped at what a Node.js timer holds', () => {
    assert.equal(parseDuration(`${MAX_TIMER_MS}ms`), MAX_TIMER_MS);
    assert.throws(() => parseDuration('1000h'), /longer than 24\.8 days/);
    assert.throws(() => parseDuration(`${MAX_TIMER_MS + 1}`), /longest timer/);
  });
});

describe('data dir', () => {
  it('refuses /proc, /sys and /dev', () => {
    for (const dir of ['/proc/self/x', '/sys/x', '/dev/shm/../x', '/proc']) assert.throws(() => refusePseudoFileSystem(dir), DataDirError, dir);
    assert.doesNotThrow(() => refusePseudoFileSystem(join(tmpdir(), 'not-there-yet', 'deeper')));
  });

  it('is locked by one live process; a lock left by a dead one is taken over', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wh13-lock-'));
    try {
      const release = lockDataDir(dir);
      assert.equal(readFileSync(join(dir, 'node.lock'), 'utf8').trim(), String(process.pid));
      release();
      // A pid no process has: the lock is stale.
      writeFileSync(join(dir, 'node.lock'), '2147483646\n');
      lockDataDir(dir)();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a stamp refuses another replication factor, with the way out', () => {
    assert.equal(stampMismatch(undefined, 2, 'd'), null);
    assert.equal(stampMismatch({ id: 'x', replicationFactor: 2 }, 2, 'd'), null);
    assert.match(stampMismatch({ id: 'x', replicationFactor: 2 }, 3, 'd') ?? '', /replication factor 2, not 3: start with --replication-factor 2, or move the data dir away/);
  });
});
