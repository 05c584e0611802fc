// Network partitions as real cuts on the wire. Every node listens on its own
// loopback address (127.x.y.z) and opens its node-to-node connections from
// that address, so an iptables rule dropping packets from one node's address
// to another's cuts exactly that link, in both directions when added twice.
// Clients (and this harness) connect from 127.0.0.1, which is never cut.
//
// Every rule carries the comment warehouse-chaos-<pid>-<seed>, so that rules
// of this run are removed at the end, on failure, on Ctrl-C and at exit, and
// rules left behind by a run that died (its pid is gone) are removed at the
// start of the next one.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { processAlive } from '../src/local-cluster/processes.js';

const run = promisify(execFile);
export const RULE_PREFIX = 'warehouse-chaos-';

/** Packets to `to` from the address `from`, or from the processes of the cgroup `cgroup` (chaos/cgroups.ts). */
type Rule = { from: string; to: string } | { cgroup: string; to: string };

function ruleArgs(action: '-I' | '-D', rule: Rule, tag: string): string[] {
  const source = 'cgroup' in rule ? ['-m', 'cgroup', '--path', rule.cgroup] : ['-s', rule.from];
  return ['-w', action, 'OUTPUT', ...source, '-d', rule.to, '-m', 'comment', '--comment', tag, '-j', 'DROP'];
}

export class Firewall {
  /** Rules this run has installed and not yet removed, as "from>to". */
  private readonly installed = new Map<string, Rule>();
  readonly tag: string;

  constructor(seed: number) {
    this.tag = `${RULE_PREFIX}${process.pid}-${seed}`;
  }

  /** Null when iptables works here (installed, and we are root); otherwise why not. */
  static unavailableReason(): string | null {
    try {
      execFileSync('iptables', ['-w', '-S', 'OUTPUT'], { stdio: ['ignore', 'pipe', 'pipe'] });
      return null;
    } catch (error) {
      const e = error as NodeJS.ErrnoException & { stderr?: Buffer };
      if (e.code === 'ENOENT') return 'iptables is not installed (apt-get install -y iptables)';
      return `iptables does not work here (root needed?): ${e.stderr?.toString().trim() || e.message}`;
    }
  }

  /** Our rules in the OUTPUT chain, as `iptables -S` lines. */
  static listRules(): string[] {
    const out = execFileSync('iptables', ['-w', '-S', 'OUTPUT'], { encoding: 'utf8' });
    return out.split('\n').filter((line) => line.includes(RULE_PREFIX));
  }

  /** Removes rules left by runs whose process is gone; returns the lines removed. Rules of live runs stay. */
  static removeStaleRules(): string[] {
    const removed: string[] = [];
    for (const line of Firewall.listRules()) {
      const match = new RegExp(`${RULE_PREFIX}(\\d+)-`).exec(line);
      const pid = match ? Number(match[1]) : NaN;
      if (Number.isFinite(pid) && pid !== process.pid && processAlive(pid)) continue;
      const args = line.trim().split(/\s+/);
      if (args[0] !== '-A') continue;
      args[0] = '-D';
      try {
        execFileSync('iptables', ['-w', ...args], { stdio: 'ignore' });
        removed.push(line);
      } catch {
        // Already gone (another run cleaned it up).
      }
    }
    return removed;
  }

  /** Cuts every link between the two groups of hosts, both directions. */
  async partition(left: readonly string[], right: readonly string[]): Promise<void> {
    for (const a of left) {
      for (const b of right) {
        for (const rule of [{ from: a, to: b }, { from: b, to: a }]) await this.install(`${rule.from}>${rule.to}`, rule);
      }
    }
  }

  /** Cuts the processes of these cgroups from the hosts: their packets out are enough to break every TCP connection. */
  async cutGroups(cgroups: readonly string[], hosts: readonly string[]): Promise<void> {
    for (const cgroup of cgroups) {
      for (const to of hosts) await this.install(`${cgroup}>${to}`, { cgroup, to });
    }
  }

  private async install(id: string, rule: Rule): Promise<void> {
    if (this.installed.has(id)) return;
    // Recorded first: if the command dies half-way, the cleanup still tries to remove it.
    this.installed.set(id, rule);
    await run('iptables', ruleArgs('-I', rule, this.tag));
  }

  /** Removes every rule of this run. */
  async healAll(): Promise<void> {
    for (const [id, rule] of [...this.installed]) {
      await run('iptables', ruleArgs('-D', rule, this.tag)).catch(() => undefined);
      this.installed.delete(id);
    }
    // Belt and braces: anything with our tag that is still there (e.g. a rule added twice).
    this.removeOwnLeftovers();
  }

  /** Synchronous cleanup for signal and exit handlers. */
  healAllSync(): void {
    for (const [id, rule] of [...this.installed]) {
      try {
        execFileSync('iptables', ruleArgs('-D', rule, this.tag), { stdio: 'ignore' });
      } catch {
        // not there
      }
      this.installed.delete(id);
    }
    this.removeOwnLeftovers();
  }

  /** Packets dropped so far by this run's rules: zero after a partition means the cut missed the nodes' traffic. */
  async droppedPackets(): Promise<number> {
    const { stdout } = await run('iptables', ['-w', '-L', 'OUTPUT', '-v', '-n', '-x']);
    let total = 0;
    for (const line of stdout.split('\n')) {
      if (!line.includes(`/* ${this.tag} */`)) continue;
      const packets = Number(line.trim().split(/\s+/)[0]);
      if (Number.isFinite(packets)) total += packets;
    }
    return total;
  }

  get active(): number {
    return this.installed.size;
  }

  private removeOwnLeftovers(): void {
    let lines: string[];
    try {
      lines = Firewall.listRules().filter((line) => line.includes(`--comment ${this.tag} `) || line.endsWith(`--comment ${this.tag}`));
    } catch {
      return;
    }
    for (const line of lines) {
      const args = line.trim().split(/\s+/);
      if (args[0] !== '-A') continue;
      args[0] = '-D';
      try {
        execFileSync('iptables', ['-w', ...args], { stdio: 'ignore' });
      } catch {
        // gone
      }
    }
  }
}
