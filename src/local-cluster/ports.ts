// Ports for the nodes and etcd members this tool starts, shared by every
// process on the machine that starts them: two test files running at once (or
// a test and a benchmark) never get the same port.
//
// The ports come from below the OS's ephemeral range, so an outgoing
// connection never takes one between its allocation and its use, nor while a
// killed node is down before its restart on the same port. Each port is
// claimed by a lock in a directory under the system's temp dir, named after the
// port and naming the owner's pid; a lock whose owner is gone counts as free.
// The owner keeps its ports until it releases them or exits. Processes that
// share the temp dir must share a pid namespace, or a live owner looks dead.
import { randomInt } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from './processes.js';

/** The lowest five-digit port: with every port five digits long, ids `host:port` on one host sort as their ports do. */
const LOWEST_PORT = 10_000;
/** Linux's default; macOS and Windows start theirs higher (49152), so below it is below theirs too. */
const DEFAULT_EPHEMERAL_START = 32_768;
const MIN_CANDIDATES = 1000;
const MAX_ATTEMPTS = 1000;
export const DEFAULT_LOCK_DIR = join(tmpdir(), 'warehouse13-ports');

/** Lock files this process holds, removed when it exits however it ends short of a signal that kills it. */
const held = new Set<string>();
process.on('exit', () => {
  for (const lock of held) unlinkQuietly(lock);
});

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function ephemeralStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 0) return low;
  } catch {
    // Not Linux: assume its default, the lowest start of the common systems.
  }
  return DEFAULT_EPHEMERAL_START;
}

/** Every five-digit port below the ephemeral range. */
function defaultCandidates(): number[] {
  const end = Math.min(ephemeralStart(), 65_536);
  if (end - LOWEST_PORT < MIN_CANDIDATES) {
    throw new Error(`the OS's ephemeral ports start at ${end}, leaving fewer than ${MIN_CANDIDATES} ports from ${LOWEST_PORT} below them (see net.ipv4.ip_local_port_range)`);
  }
  return Array.from({ length: end - LOWEST_PORT }, (_, i) => LOWEST_PORT + i);
}

/** Whether `port` can be listened on at `host` right now; throws for an address this machine does not have. */
function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(false);
      else reject(new Error(`cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
    });
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export class PortAllocator {
  /** `candidates`: the ports it hands out; `dir`: where the locks live, shared by all processes that must not clash. */
  constructor(
    readonly dir: string,
    readonly candidates: readonly number[],
  ) {
    if (candidates.length === 0) throw new Error('no candidate ports');
  }

  /**
   * `count` ports, each locked for this process and free on every one of `hosts`, in ascending order.
   * The walk starts at a random candidate, so that processes allocating at once rarely contend.
   */
  async allocate(count: number, hosts: readonly string[] = ['127.0.0.1']): Promise<number[]> {
    this.makeDir();
    const ports: number[] = [];
    const start = randomInt(this.candidates.length);
    const attempts = Math.min(this.candidates.length, MAX_ATTEMPTS);
    try {
      for (let i = 0; i < attempts && ports.length < count; i++) {
        const port = this.candidates[(start + i) % this.candidates.length]!;
        if (!this.lock(port)) continue;
        const free = await Promise.all(hosts.map((host) => bindable(port, host)));
        if (free.every(Boolean)) ports.push(port);
        else this.release([port]);
      }
    } catch (error) {
      this.release(ports);
      throw error;
    }
    if (ports.length < count) {
      this.release(ports);
      throw new Error(`found ${ports.length} of ${count} free ports on ${hosts.join(', ')} in ${attempts} tries (locks in ${this.dir})`);
    }
    return ports.sort((a, b) => a - b);
  }

  /** Gives up ports this process holds (others' are left alone). */
  release(ports: readonly number[]): void {
    for (const port of ports) {
      const lock = this.lockFile(port);
      if (!held.delete(lock)) continue;
      unlinkQuietly(lock);
    }
  }

  private makeDir(): void {
    // Shared by every user's runs (ports are the machine's); sticky, so that nobody removes a live owner's lock.
    if (mkdirSync(this.dir, { recursive: true }) !== undefined) chmodSync(this.dir, 0o1777);
  }

  private lockFile(port: number): string {
    return join(this.dir, String(port));
  }

  private createLock(lock: string): boolean {
    if (!createLink(lock)) return false;
    held.add(lock);
    return true;
  }

  private lock(port: number): boolean {
    const lock = this.lockFile(port);
    if (this.createLock(lock)) return true;
    const owner = lockOwner(lock);
    return owner !== null && !processAlive(owner) && this.reclaim(lock, owner);
  }

  /**
   * Takes over the lock of a dead owner. Two processes may find it at once; only the one that creates
   * the marker for that owner may remove the lock, and only if it still names the dead owner (the other
   * may have replaced it already). What it does holding the marker is synchronous, so a process that
   * dies in between leaves at worst this port locked for good, never a port handed out twice.
   */
  private reclaim(lock: string, dead: number): boolean {
    const marker = `${lock}.reclaim-${dead}`;
    if (!createLink(marker)) return false;
    try {
      if (lockOwner(lock) !== dead) return false;
      unlinkSync(lock);
      return this.createLock(lock);
    } catch (error) {
      // Someone else's lock in the sticky directory: not ours to remove.
      if ((error as NodeJS.ErrnoException).code === 'EPERM') return false;
      throw error;
    } finally {
      unlinkQuietly(marker);
    }
  }
}

/**
 * Creates a symlink whose target is this process's pid; false when the path exists. A symlink is
 * created atomically with its content, where a file opened with `wx` and then written would be seen
 * empty in between, and left empty for good by an owner that died there.
 */
function createLink(path: string): boolean {
  try {
    symlinkSync(String(process.pid), path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** The pid a lock names; null when it is gone (released meanwhile) or names no pid. */
function lockOwner(lock: string): number | null {
  try {
    const pid = Number(readlinkSync(lock));
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

let shared: PortAllocator | null = null;

function sharedAllocator(): PortAllocator {
  shared ??= new PortAllocator(DEFAULT_LOCK_DIR, defaultCandidates());
  return shared;
}

/** `count` ports from the machine-wide allocator, free on every one of `hosts`, ascending; held until released or exit. */
export function allocatePorts(count: number, hosts?: readonly string[]): Promise<number[]> {
  return sharedAllocator().allocate(count, hosts);
}

export function releasePorts(ports: readonly number[]): void {
  sharedAllocator().release(ports);
}
