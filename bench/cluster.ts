// A local Warehouse 13 cluster for the benchmark: N nodes on free loopback
// ports, data dirs in a temporary folder, all removed afterwards; and leader
// discovery through the public heartbeat, for local and remote clusters.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { request } from 'undici';
import { delay, freePorts, makeTempFolder, removeFolder, startProcess, type Managed } from './processes.js';

/** The repository root: this file is dist/bench/cluster.js. */
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE_EXECUTABLE = join(REPO_ROOT, 'warehouse-node');
const STARTUP_TIMEOUT_MS = 60_000;

interface HeartbeatView {
  node: string;
  leader: string | null;
  nodes: { id: string }[];
}

/** The heartbeat of one node, or null when it does not answer one (yet). */
export async function fetchHeartbeat(address: string, timeoutMs = 2000): Promise<HeartbeatView | null> {
  try {
    const answer = await request(`http://${address}/v1/heartbeat`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    if (answer.statusCode !== 200) {
      await answer.body.dump();
      return null;
    }
    const body = (await answer.body.json()) as Partial<HeartbeatView>;
    if (typeof body.node !== 'string' || !Array.isArray(body.nodes) || body.leader === undefined) return null;
    return body as HeartbeatView;
  } catch {
    return null;
  }
}

/** The leader named by `address`'s heartbeat, waiting through an election; throws after `timeoutMs`. */
export async function findLeader(address: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    const heartbeat = await fetchHeartbeat(address);
    if (heartbeat?.leader) {
      const confirmed = heartbeat.leader === heartbeat.node ? heartbeat : await fetchHeartbeat(heartbeat.leader);
      if (confirmed?.leader === heartbeat.leader) return heartbeat.leader;
      last = `${heartbeat.leader} (named by ${address}) does not confirm it leads`;
    } else if (heartbeat) {
      last = 'no leader elected yet';
    }
    if (Date.now() > deadline) throw new Error(`no leader found through ${address}: ${last}`);
    await delay(250);
  }
}

export interface LocalClusterOptions {
  nodes: number;
  replicationFactor: number;
  workDir: string | null;
}

export class LocalCluster {
  private constructor(
    readonly folder: string,
    readonly members: { id: string; dataDir: string; process: Managed }[],
  ) {}

  /** Starts the nodes and waits until all of them see each other and agree on a leader. */
  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    const folder = makeTempFolder('warehouse-bench-', options.workDir);
    const cluster = new LocalCluster(folder, []);
    try {
      const ports = await freePorts(options.nodes);
      const ids = ports.map((port) => `127.0.0.1:${port}`);
      const launch = (index: number) => {
        const dataDir = join(folder, `node-${index}`);
        mkdirSync(dataDir);
        const args = [NODE_EXECUTABLE, '--host', '127.0.0.1', '--port', String(ports[index]), '--replication-factor', String(options.replicationFactor), '--data-dir', dataDir, '--log-level', 'warn'];
        // Joiners use the secret the first node created in its data dir when it founded the cluster.
        if (index > 0) args.push('--join', ids[0]!, '--cluster-secret-file', join(folder, 'node-0', 'cluster.secret'));
        const managed = startProcess(process.execPath, args, join(folder, `node-${index}.log`));
        cluster.members.push({ id: ids[index]!, dataDir, process: managed });
      };
      launch(0);
      await cluster.waitFor((views) => views[0] !== null, 'the first node to answer');
      for (let i = 1; i < options.nodes; i++) launch(i);
      await cluster.waitFor(
        (views) =>
          views.every((view) => view !== null && view.leader !== null && view.leader === views[0]!.leader && view.nodes.length === options.nodes),
        `all ${options.nodes} nodes to see each other and agree on a leader`,
      );
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  get pids(): number[] {
    return this.members.map((member) => member.process.pid);
  }

  /** Any node: the benchmark follows the leader it names. */
  get entry(): string {
    return this.members[0]!.id;
  }

  private async waitFor(done: (views: (HeartbeatView | null)[]) => boolean, what: string): Promise<void> {
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      const dead = this.members.find((member) => member.process.exited());
      if (dead) throw new Error(`node ${dead.id} exited during start-up:\n${dead.process.logTail()}`);
      const views = await Promise.all(this.members.map((member) => fetchHeartbeat(member.id)));
      if (done(views)) return;
      if (Date.now() > deadline) {
        const logs = this.members.map((member) => `--- ${member.id}\n${member.process.logTail()}`).join('\n');
        throw new Error(`timed out waiting for ${what}\n${logs}`);
      }
      await delay(100);
    }
  }

  /** Stops every node (SIGTERM, then SIGKILL) and removes the data dirs. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((member) => member.process.stop()));
    await removeFolder(this.folder);
  }
}
