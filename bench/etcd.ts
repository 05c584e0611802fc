// etcd as the comparison target: the local three-member cluster (default
// fsync on, data dirs in a temporary folder), driven by the etcd3 client:
// put, linearizable get, delete.
import { Etcd3 } from 'etcd3';
import type { EtcdCluster } from '../src/local-cluster/etcd-cluster.js';
import { diskUsageBytes, residentBytes } from './procstat.js';
import { errorKind, type MemoryReport, type OpResult, type Target } from './target.js';

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

  /** etcd is written in Go: it has no event loop to stall. */
  loopDelay(): Promise<number | null> {
    return Promise.resolve(null);
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

  close(): Promise<void> {
    this.client.close();
    return Promise.resolve();
  }
}
