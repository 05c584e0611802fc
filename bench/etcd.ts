// etcd as the comparison target: a three-member cluster on loopback started
// from the Debian etcd-server binary (default fsync on, data dirs in a
// temporary folder), driven by the etcd3 client: put, linearizable get, delete.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { Etcd3 } from 'etcd3';
import { delay, freePorts, makeTempFolder, removeFolder, startProcess, type Managed } from './processes.js';
import { diskUsageBytes, residentBytes } from './procstat.js';
import { errorKind, type MemoryReport, type OpResult, type Target } from './target.js';

export const ETCD_INSTALL_HINT = 'apt-get update && apt-get install -y etcd-server';
const MEMBERS = 3;
/** 8 GiB, etcd's documented maximum: a million-document load never hits the space alarm. */
const QUOTA_BACKEND_BYTES = 8 * 1024 ** 3;
const STARTUP_TIMEOUT_MS = 60_000;

/** Null when `bin` is an executable etcd, otherwise why not. */
export function checkEtcdBinary(bin: string): string | null {
  try {
    accessSync(bin, constants.X_OK);
    return null;
  } catch {
    return `etcd is not installed (no executable ${bin}); install it with \`${ETCD_INSTALL_HINT}\` or pass --etcd-bin PATH`;
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

interface Member {
  name: string;
  clientUrl: string;
  dataDir: string;
  process: Managed;
}

export class EtcdCluster {
  private constructor(
    readonly folder: string,
    readonly members: Member[],
  ) {}

  static async start(bin: string, workDir: string | null): Promise<EtcdCluster> {
    const folder = makeTempFolder('warehouse-bench-etcd-', workDir);
    const cluster = new EtcdCluster(folder, []);
    try {
      const ports = await freePorts(2 * MEMBERS);
      const names = Array.from({ length: MEMBERS }, (_, i) => `member-${i}`);
      const peerUrl = (i: number) => `http://127.0.0.1:${ports[MEMBERS + i]}`;
      const initialCluster = names.map((name, i) => `${name}=${peerUrl(i)}`).join(',');
      const token = `warehouse-bench-${process.pid}-${Date.now()}`;
      names.forEach((name, i) => {
        const clientUrl = `http://127.0.0.1:${ports[i]}`;
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
        cluster.members.push({ name, clientUrl, dataDir, process: startProcess(bin, args, join(folder, `${name}.log`)) });
      });
      await cluster.waitHealthy();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  get pids(): number[] {
    return this.members.map((member) => member.process.pid);
  }

  private async waitHealthy(): Promise<void> {
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      const dead = this.members.find((member) => member.process.exited());
      if (dead) throw new Error(`etcd ${dead.name} exited during start-up:\n${dead.process.logTail()}`);
      const healthy = await Promise.all(this.members.map((member) => isHealthy(member.clientUrl)));
      if (healthy.every(Boolean)) return;
      if (Date.now() > deadline) {
        const logs = this.members.map((member) => `--- ${member.name}\n${member.process.logTail()}`).join('\n');
        throw new Error(`timed out waiting for the etcd cluster to become healthy\n${logs}`);
      }
      await delay(200);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((member) => member.process.stop()));
    await removeFolder(this.folder);
  }
}

async function isHealthy(clientUrl: string): Promise<boolean> {
  try {
    const answer = await request(`${clientUrl}/health`, { headersTimeout: 2000, bodyTimeout: 2000 });
    const body = await answer.body.text();
    return answer.statusCode === 200 && /"health"\s*:\s*"true"/.test(body);
  } catch {
    return false;
  }
}

export class EtcdTarget implements Target {
  readonly name = 'etcd';
  private readonly client: Etcd3;

  constructor(
    private readonly cluster: EtcdCluster,
    private readonly version: string,
  ) {
    // The ordinary client set-up: every member listed, each call sent to one of them.
    this.client = new Etcd3({ hosts: cluster.members.map((member) => member.clientUrl) });
  }

  describe(): string {
    return `etcd ${this.version}, local cluster of ${this.cluster.members.length} members, etcd3 client (gRPC) to all members`;
  }

  async prepare(): Promise<void> {}

  async set(key: string, value: string): Promise<OpResult> {
    try {
      await this.client.put(key).value(value).exec();
      return null;
    } catch (error) {
      return errorKind(error);
    }
  }

  async get(key: string): Promise<OpResult> {
    try {
      return (await this.client.get(key).string()) === null ? 'not found' : null;
    } catch (error) {
      return errorKind(error);
    }
  }

  async delete(key: string): Promise<OpResult> {
    try {
      const answer = await this.client.delete().key(key).exec();
      return answer.deleted === '0' ? 'not found' : null;
    } catch (error) {
      return errorKind(error);
    }
  }

  pids(): number[] {
    return this.cluster.pids;
  }

  async memory(): Promise<MemoryReport[]> {
    return Promise.all(
      this.cluster.members.map(async (member) => ({
        member: member.name,
        pid: member.process.pid,
        rssBytes: residentBytes(member.process.pid),
        heapUsedBytes: null,
        records: null,
        diskBytes: await diskUsageBytes(member.dataDir),
      })),
    );
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
