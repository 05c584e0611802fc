// Run as a child process by checkStoreFile: opens the store read-only and
// touches every record, so that a damaged file shows up here, not in the node.
import { open, type Database, type RootDatabase } from 'lmdb';

function openIfPresent(root: RootDatabase, name: string): Database | undefined {
  try {
    return root.openDB({ name }) ?? undefined;
  } catch {
    return undefined;
  }
}

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: check-store FILE\n');
  process.exit(2);
}
try {
  const root = open({ path, readOnly: true, maxDbs: 8 });
  let count = 0;
  for (const name of ['records', 'meta', 'hints', 'requests', 'request-ages']) {
    // A store written by an older release may lack a database: read-only, it cannot be created here.
    const db = openIfPresent(root, name);
    for (const { value } of db?.getRange({ snapshot: true }) ?? []) if (value !== undefined) count++;
  }
  await root.close();
  process.stdout.write(`${count}\n`);
} catch (error) {
  process.stderr.write(`${(error as Error).message.split('\n')[0]}\n`);
  process.exit(1);
}
