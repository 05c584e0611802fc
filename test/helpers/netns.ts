// Network namespaces on a Linux bridge, so that nodes on one machine run with
// separate network stacks and addresses, as on separate hosts. The bridge
// lives in the test's own namespace and holds an address too, so the test
// (and the CLI it starts) reaches every node through it. Needs root and
// iproute2. Names carry this process's pid: concurrent runs do not clash, and
// what a run that died left behind (its pid gone) the next run removes.
import { execFileSync } from 'node:child_process';
import { processAlive } from '../../src/local-cluster/processes.js';

const PREFIX = 'wh13';

function ip(...args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('the ip command is missing (apt-get install -y iproute2)', { cause: error });
    throw new Error(`ip ${args.join(' ')}: ${e.stderr?.trim() || e.message}`, { cause: error });
  }
}

/** Runs `ip`, ignoring a failure: for removing what may already be gone. */
function ipQuietly(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    // Already removed (with its namespace or its peer).
  }
}

/** Null when this process can create namespaces and bridges; otherwise why not, for a skip message. */
export function netnsUnavailableReason(): string | null {
  if (process.getuid?.() !== 0) return `network namespaces need root (running as uid ${process.getuid?.()})`;
  const probe = `${PREFIX}-${process.pid}-probe`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    ip('link', 'add', `${PREFIX}b${process.pid}p`, 'type', 'bridge');
    ip('link', 'del', `${PREFIX}b${process.pid}p`);
    return null;
  } catch (error) {
    return `cannot create a network namespace and a bridge here: ${(error as Error).message}`;
  }
}

export interface Namespace {
  name: string;
  /** Its address on the bridge. */
  address: string;
  /** The command prefix that runs a program inside it (ip netns exec execs, keeping the pid). */
  exec: string[];
}

export class BridgedNamespaces {
  private constructor(
    readonly bridge: string,
    readonly namespaces: Namespace[],
    private readonly veths: string[],
  ) {}

  /** Creates `count` namespaces, each with lo and one address on a fresh /24 on a new bridge. */
  static create(count: number): BridgedNamespaces {
    removeLeftovers();
    const subnet = freeSubnet();
    const pid = process.pid;
    const letters = 'abcdefghij'.slice(0, count).split('');
    const net = new BridgedNamespaces(
      `${PREFIX}b${pid}`,
      letters.map((letter, i) => ({
        name: `${PREFIX}-${pid}-${letter}`,
        address: `${subnet}.${i + 1}`,
        exec: ['ip', 'netns', 'exec', `${PREFIX}-${pid}-${letter}`],
      })),
      letters.map((letter) => `${PREFIX}v${pid}${letter}`),
    );
    try {
      ip('link', 'add', net.bridge, 'type', 'bridge');
      ip('addr', 'add', `${subnet}.254/24`, 'dev', net.bridge);
      ip('link', 'set', net.bridge, 'up');
      net.namespaces.forEach((ns, i) => {
        const veth = net.veths[i]!;
        ip('netns', 'add', ns.name);
        ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name);
        ip('link', 'set', veth, 'master', net.bridge, 'up');
        ip('-n', ns.name, 'addr', 'add', `${ns.address}/24`, 'dev', 'eth0');
        ip('-n', ns.name, 'link', 'set', 'eth0', 'up');
        ip('-n', ns.name, 'link', 'set', 'lo', 'up');
      });
    } catch (error) {
      net.remove();
      throw error;
    }
    return net;
  }

  /** The IPv4 addresses a namespace holds, loopback included. */
  addresses(ns: Namespace): string[] {
    return ip('-n', ns.name, '-4', '-o', 'addr', 'show')
      .split('\n')
      .flatMap((line) => /\sinet ([\d.]+)\//.exec(line)?.[1] ?? []);
  }

  /** Pids of the processes running inside a namespace. */
  pids(ns: Namespace): number[] {
    return ip('netns', 'pids', ns.name).split('\n').filter(Boolean).map(Number);
  }

  /** Removes the veths, the bridge and the namespaces, killing anything still running inside. */
  remove(): void {
    for (const veth of this.veths) ipQuietly('link', 'del', veth);
    ipQuietly('link', 'del', this.bridge);
    for (const ns of this.namespaces) removeNamespace(ns.name);
  }
}

function removeNamespace(name: string): void {
  try {
    for (const pid of ip('netns', 'pids', name).split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
  } catch {
    // No such namespace any more.
  }
  ipQuietly('netns', 'del', name);
}

/** Namespaces and links of runs whose process is gone: a run killed before its cleanup. */
function removeLeftovers(): void {
  const dead = (pid: string) => Number(pid) !== process.pid && !processAlive(Number(pid));
  for (const line of ip('netns', 'list').split('\n')) {
    const match = new RegExp(`^(${PREFIX}-(\\d+)-\\w+)`).exec(line);
    if (match && dead(match[2]!)) removeNamespace(match[1]!);
  }
  for (const line of ip('-o', 'link', 'show').split('\n')) {
    const match = new RegExp(`^\\d+: (${PREFIX}[bv](\\d+)[a-z]?)[@:]`).exec(line);
    if (match && dead(match[2]!)) ipQuietly('link', 'del', match[1]!);
  }
}

/** The first 10.213.X.0/24 (from a pid-derived X) with no address in this namespace yet. */
function freeSubnet(): string {
  const taken = ip('-4', '-o', 'addr', 'show');
  for (let i = 0; i < 256; i++) {
    const subnet = `10.213.${(process.pid + i) % 256}`;
    if (!taken.includes(` ${subnet}.`)) return subnet;
  }
  throw new Error('no free 10.213.X.0/24 subnet in this network namespace');
}
