// Run as a child process by checkStoreFile: opens the store read-only and
// touches every record, so that a damaged file shows up here, not in the node.
import { open } from 'lmdb';

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: check-store FILE\n');
  process.exit(2);
}
try {
  const root = open({ path, readOnly: true, maxDbs: 8 });
  let count = 0;
  for (const name of ['records', 'meta', 'hints']) {
    for (const { value } of root.openDB({ name }).getRange({ snapshot: true })) if (value !== undefined) count++;
  }
  await root.close();
  process.stdout.write(`${count}\n`);
} catch (error) {
  process.stderr.write(`${(error as Error).message.split('\n')[0]}\n`);
  process.exit(1);
}
