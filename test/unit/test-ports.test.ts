// `npm test` runs two test files at once, and the integration tests start
// nodes on fixed loopback ports (below the OS's ephemeral range, so that no
// outgoing connection can take one first). Two files sharing a port fail
// whenever they happen to overlap: consistent-mode and cluster-auth both used
// 26001-26003 and a CI run lost the whole consistent-mode suite to it. Each
// file keeps its own ports; this check finds a port claimed twice.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';

const SOURCES = fileURLToPath(new URL('../../../test/integration/', import.meta.url));
/** Where the tests' ports live; numbers outside it (keys, bytes, durations) are not ports. */
const PORT_RANGE = { min: 18_000, max: 29_999 };

it('no two integration test files use the same port', () => {
  const users = new Map<number, Set<string>>();
  for (const file of readdirSync(SOURCES).filter((name) => name.endsWith('.test.ts'))) {
    const text = readFileSync(join(SOURCES, file), 'utf8');
    for (const match of text.matchAll(/(?<![\d_.])\d{5}(?![\d_])/g)) {
      const port = Number(match[0]);
      if (port < PORT_RANGE.min || port > PORT_RANGE.max) continue;
      users.set(port, (users.get(port) ?? new Set()).add(file));
    }
  }
  const shared = [...users].filter(([, files]) => files.size > 1).map(([port, files]) => `${port}: ${[...files].join(', ')}`);
  assert.deepEqual(shared, []);
  assert.ok(users.size > 20, `found the tests' ports (${users.size})`);
});
