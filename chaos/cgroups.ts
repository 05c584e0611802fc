// Cutting a node from etcd. The node's etcd client (gRPC) cannot bind the
// node's own address, so its traffic to etcd leaves from 127.0.0.1 and the
// firewall's per-address rules miss it. Each node process is therefore
// started inside its own cgroup v2 group, and iptables matches its packets by
// that group (`-m cgroup --path`). Groups are named after the run, like the
// firewall's rules, so a dead run's groups are removed by the next one.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../src/local-cluster/processes.js';
import { RULE_PREFIX } from './firewall.js';

/** Where cgroup v2 is mounted (on its own, or beside v1 as `unified`), or null. */
function cgroup2Root(): string | null {
  try {
    const line = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .find((entry) => entry.split(' ')[2] === 'cgroup2');
    return line?.split(' ')[1] ?? null;
  } catch {
    return null;
  }
}

export class NodeGroups {
  /** The group of this run, relative to the cgroup v2 root (what `--path` matches). */
  readonly tag: string;

  private constructor(
    private readonly root: string,
    seed: number,
  ) {
    this.tag = `${RULE_PREFIX}${process.pid}-${seed}`;
  }

  /** The groups, or why nodes cannot be cut from etcd here (no cgroup v2, not root, no iptables cgroup match). */
  static open(seed: number): NodeGroups | string {
    const root = cgroup2Root();
    if (!root) return 'cgroup v2 is not mounted';
    const groups = new NodeGroups(root, seed);
    try {
      mkdirSync(join(root, groups.tag), { recursive: true });
      execFileSync('iptables', ['-m', 'cgroup', '-h'], { stdio: 'ignore' });
      return groups;
    } catch (error) {
      groups.removeAll();
      return `cannot create cgroups or match them with iptables: ${(error as Error).message}`;
    }
  }

  /** Removes the groups of runs whose process is gone; returns their names. */
  static removeStale(): string[] {
    const root = cgroup2Root();
    if (!root) return [];
    const removed: string[] = [];
    for (const name of readdirSync(root)) {
      const pid = Number(new RegExp(`^${RULE_PREFIX}(\\d+)-`).exec(name)?.[1]);
      if (!Number.isFinite(pid) || processAlive(pid)) continue;
      removeGroup(root, join(root, name));
      removed.push(name);
    }
    return removed;
  }

  /** The group of one node, relative to the cgroup v2 root. */
  path(nodeId: string): string {
    return `${this.tag}/${nodeId.replace(/[^0-9A-Za-z.]/g, '_')}`;
  }

  /** A command prefix that moves the node into its group before it execs, so every socket it opens is in it. */
  wrapper(nodeId: string): string[] {
    const dir = join(this.root, this.path(nodeId));
    mkdirSync(dir, { recursive: true });
    return ['sh', '-c', `echo $$ > '${join(dir, 'cgroup.procs')}' && exec "$@"`, 'sh'];
  }

  /** Removes every group of this run; processes still in one are moved to the root group first. */
  removeAll(): void {
    removeGroup(this.root, join(this.root, this.tag));
  }
}

function removeGroup(root: string, dir: string): void {
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) removeGroup(root, join(dir, entry.name));
    }
    for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
      writeFileSync(join(root, 'cgroup.procs'), pid);
    }
    rmdirSync(dir);
  } catch {
    // Gone already, or a process still exiting: the next run removes it.
  }
}
