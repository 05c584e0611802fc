// A three-member etcd cluster on this machine, from Debian's etcd-server
// binary: the consistent mode's coordinator for `npm start -- --consistent`,
// the tests and the chaos harness, and the benchmark's comparison target.
// Each member may get its own loopback address, so that a firewall can cut
// nodes from some members; members can be paused, killed and restarted.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { allocatePorts } from './ports.js';
import { makeTempFolder, removeFolder, startProcess, type Managed } from './processes.js';
import { endpointHealthy } from '../coordination/endpoint-health.js';
import { formatCoordinatorUrl } from '../coordination/coordinator-url.js';

export const DEFAULT_ETCD_BIN = '/usr/bin/etcd';
export const ETCD_INSTALL_HINT = 'apt-get update && apt-get install -y etcd-server';
const MEMBERS = 3;
/** 8 GiB, etcd's documented maximum: a million-document benchmark never hits the space alarm. */
const QUOTA_BACKEND_BYTES = 8 * 1024 ** 3;
const STARTUP_TIMEOUT_MS = 60_000;

/** Null when `bin` is an executable etcd, otherwise why not and how to install it. */
export function checkEtcdBinary(bin: string): string | null {
  try {
    accessSync(bin, constants.X_OK);
    return null;
  } catch {
    return `etcd is not installed (no executable ${bin}); install Debian's etcd-server with \`${ETCD_INSTALL_HINT}\``;
  }
}

export function etcdVersion(bin: string): string {
  try {
    const first = execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 }).split('\n')[0] ?? '';
    return first.replace(/^etcd Version:\s*/, '').trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface EtcdClusterOptions {
  bin: string;
  /** Where the temporary folder with the data dirs and logs goes (the system's temp dir when null). */
  workDir: string | null;
  /** One address per member (all 127.0.0.1 by default). */
  hosts?: readonly string[];
}

export interface EtcdMember {
  readonly name: string;
  readonly host: string;
  readonly clientUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly args: readonly string[];
  process: Managed;
}

export class EtcdCluster {
  private constructor(
    readonly bin: string,
    readonly folder: string,
    readonly members: EtcdMember[],
  ) {}

  static async start(options: EtcdClusterOptions): Promise<EtcdCluster> {
    const folder = makeTempFolder('warehouse-etcd-', options.workDir);
    const cluster = new EtcdCluster(options.bin, folder, []);
    try {
      const hosts = options.hosts ?? Array.from({ length: MEMBERS }, () => '127.0.0.1');
      const ports = await Promise.all(hosts.map((host) => allocatePorts(2, [host])));
      const names = hosts.map((_, i) => `member-${i}`);
      const peerUrl = (i: number) => `http://${hosts[i]}:${ports[i]![1]}`;
      const initialCluster = names.map((name, i) => `${name}=${peerUrl(i)}`).join(',');
      const token = `warehouse-${process.pid}-${Date.now()}`;
      names.forEach((name, i) => {
        const clientUrl = `http://${hosts[i]}:${ports[i]![0]}`;
        const dataDir = join(folder, name);
        const args = [
          '--name', name,
          '--data-dir', dataDir,
          '--listen-client-urls', clientUrl,
          '--advertise-client-urls', clientUrl,
          '--listen-peer-urls', peerUrl(i),
          '--initial-advertise-peer-urls', peerUrl(i),
          '--initial-cluster', initialCluster,
          '--initial-cluster-state', 'new',
          '--initial-cluster-token', token,
          '--quota-backend-bytes', String(QUOTA_BACKEND_BYTES),
          '--logger', 'zap',
          '--log-outputs', 'stderr',
          '--log-level', 'warn',
        ];
        const logFile = join(folder, `${name}.log`);
        cluster.members.push({ name, host: hosts[i]!, clientUrl, dataDir, logFile, args, process: startProcess(options.bin, args, logFile) });
      });
      await cluster.waitHealthy(cluster.members);
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  get pids(): number[] {
    return this.members.map((member) => member.process.pid);
  }

  get endpoints(): string[] {
    return this.members.map((member) => member.clientUrl);
  }

  /** The value of a node's `--coordinator` flag. */
  get coordinatorUrl(): string {
    return formatCoordinatorUrl(this.endpoints);
  }

  pause(index: number): void {
    this.member(index).process.child.kill('SIGSTOP');
  }

  resume(index: number): void {
    this.member(index).process.child.kill('SIGCONT');
  }

  kill(index: number): void {
    const member = this.member(index);
    member.process.child.kill('SIGCONT');
    member.process.child.kill('SIGKILL');
  }

  /** Starts a killed member again on its data dir; resolves once it reports healthy. */
  async restart(index: number): Promise<void> {
    const member = this.member(index);
    if (!member.process.exited()) await member.process.stop();
    member.process = startProcess(this.bin, member.args, member.logFile);
    await this.waitHealthy([member]);
  }

  private member(index: number): EtcdMember {
    const member = this.members[index];
    if (!member) throw new Error(`no etcd member ${index}`);
    return member;
  }

  private async waitHealthy(members: readonly EtcdMember[]): Promise<void> {
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      const dead = members.find((member) => member.process.exited());
      if (dead) throw new Error(`etcd ${dead.name} exited during start-up:\n${dead.process.logTail()}`);
      const healthy = await Promise.all(members.map((member) => endpointHealthy(member.clientUrl, 2000)));
      if (healthy.every(Boolean)) return;
      if (Date.now() > deadline) {
        const logs = members.map((member) => `--- ${member.name}\n${member.process.logTail()}`).join('\n');
        throw new Error(`timed out waiting for the etcd cluster to become healthy\n${logs}`);
      }
      await sleep(200);
    }
  }

  async stop(): Promise<void> {
    for (const member of this.members) member.process.child.kill('SIGCONT');
    await Promise.all(this.members.map((member) => member.process.stop()));
    await removeFolder(this.folder);
  }
}
