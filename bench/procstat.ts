// What Linux tells about processes and folders: resident memory, CPU time
// and disk usage, read from /proc and stat(2) without any helper process.
import { readFileSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** USER_HZ: the unit of /proc/PID/stat times; 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Resident memory (VmRSS) of a process in bytes, or null when it cannot be read. */
export function residentBytes(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** User + system CPU time a process has used so far, in microseconds, or null. */
export function cpuMicros(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime and stime, fields 14 and 15
    return Number.isFinite(ticks) ? (ticks * 1e6) / CLOCK_TICKS_PER_SECOND : null;
  } catch {
    return null;
  }
}

/** Summed CPU time of several processes (those that can be read), in microseconds. */
export function totalCpuMicros(pids: readonly number[]): number | null {
  let total = 0;
  let seen = 0;
  for (const pid of pids) {
    const micros = cpuMicros(pid);
    if (micros !== null) {
      total += micros;
      seen++;
    }
  }
  return seen > 0 ? total : null;
}

/** Bytes a folder occupies on disk, like `du -s` (allocated blocks: sparse files count what they use). */
export async function diskUsageBytes(path: string): Promise<number | null> {
  try {
    const stats = await lstat(path);
    if (!stats.isDirectory()) return stats.blocks * 512;
    let total = stats.blocks * 512;
    for (const entry of await readdir(path)) total += (await diskUsageBytes(join(path, entry))) ?? 0;
    return total;
  } catch {
    return null;
  }
}
