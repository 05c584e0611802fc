// Guards around a node's data dir, checked before the store is opened: it is
// on a real file system, no other live node uses it, and its LMDB file is
// sound. A damaged memory-mapped file would otherwise kill the process with
// SIGBUS on first touch, with no word of why.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, realpathSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const STORE_FILE = 'warehouse.mdb';
const LOCK_FILE = 'node.lock';
const CHECKER = fileURLToPath(new URL('./check-store.js', import.meta.url));
const PSEUDO_FILE_SYSTEMS = ['/proc', '/sys', '/dev'];

export class DataDirError extends Error {}

/** The nearest existing ancestor, resolved: where the data dir really lands. */
function landing(dir: string): string {
  let path = resolve(dir);
  while (!existsSync(path) && dirname(path) !== path) path = dirname(path);
  try {
    return join(realpathSync(path), resolve(dir).slice(path.length));
  } catch {
    return resolve(dir);
  }
}

/** /proc, /sys and /dev hold no data: LMDB on them hangs or fails in odd ways. */
export function refusePseudoFileSystem(dir: string): void {
  const real = landing(dir);
  const root = PSEUDO_FILE_SYSTEMS.find((prefix) => real === prefix || real.startsWith(`${prefix}/`));
  if (root) throw new DataDirError(`data dir ${dir} is on ${root}, which cannot hold data: choose a folder on a disk`);
}

function holder(lockFile: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(lockFile, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
  // A pid reused by an unrelated program after a crash does not hold the dir.
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('warehouse-node') ? pid : null;
  } catch {
    return pid;
  }
}

/**
 * Takes the data dir for this process: a lock file with our pid. A lock left
 * by a process that is gone (SIGKILL, a crash) is taken over. Returns the
 * release function.
 */
export function lockDataDir(dir: string): () => void {
  const lockFile = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(lockFile, 'utf8').trim() === String(process.pid)) unlinkSync(lockFile);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new DataDirError(`cannot lock data dir ${dir} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
      const pid = holder(lockFile);
      if (pid !== null) throw new DataDirError(`data dir ${dir} is in use by another node (pid ${pid}): stop it first, or give this node its own --data-dir`);
      try {
        unlinkSync(lockFile);
      } catch {
        // Another starting node took it over first: the next attempt finds its lock.
      }
    }
  }
  throw new DataDirError(`data dir ${dir} is being taken by another node starting at the same time`);
}

/**
 * Reads the whole store in a child process first: a truncated or overwritten
 * file crashes the child, not this node, and the node refuses with a reason.
 */
export function checkStoreFile(dir: string): void {
  const file = join(dir, STORE_FILE);
  if (!existsSync(file)) return;
  const child = spawnSync(process.execPath, [CHECKER, file], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (child.status === 0) return;
  const cause = child.signal ? `reading it crashed with ${child.signal}` : (child.stderr.trim().split('\n')[0] ?? `check exited with ${child.status}`);
  throw new DataDirError(
    `the store ${file} is damaged (${cause}): move the data dir away and start this node empty; the cluster copies back what it should hold`,
  );
}
