// `npm start` on a fresh clone: install and build when needed, then run the demo.
import { execSync, spawnSync } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const run = (command) => execSync(command, { stdio: 'inherit' });

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

if (!existsSync('node_modules/.package-lock.json')) run('npm ci --no-audit --no-fund');
const demo = 'dist/src/bin/warehouse-demo.js';
if (!existsSync(demo) || statSync(demo).mtimeMs < newest('src')) run('npm run build --silent');
const { status } = spawnSync(process.execPath, [demo, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(status ?? 1);
