// Real node processes on this machine, for the demo (`npm start`), the
// benchmark, the chaos harness and the integration tests: start, join, kill
// with real signals, restart from the same data dir, and wait on conditions
// read from the nodes' own heartbeats rather than on sleeps.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, createWriteStream, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { Heartbeat, checker } from '../protocol/schemas.js';
import { HEARTBEAT_PATH } from '../protocol/paths.js';
import { killAtExit } from './processes.js';
import { waitFor, type WaitOptions } from './wait.js';

const NODE_BIN = fileURLToPath(new URL('../bin/warehouse-node.js', import.meta.url));
const isHeartbeat = checker(Heartbeat);

/**
 * The nodes' environment without WAREHOUSE_* variables: their flags say
 * everything, and a shell set up for another cluster (WAREHOUSE_CERT,
 * WAREHOUSE_COORDINATOR…) must not change the demo's or a test's nodes.
 */
function flagsOnlyEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('WAREHOUSE_')));
}

export interface LocalClusterOptions {
  /** Data dirs and logs go below this folder. */
  baseDir: string;
  replicationFactor: number;
  heartbeatIntervalMs?: number;
  failureTimeoutMs?: number;
  antiEntropyIntervalMs?: number;
  requestTimeoutMs?: number;
  logLevel?: string;
  /** The consistent mode: every node's `--coordinator` (etcd://…); the nodes then join through etcd, not each other. */
  coordinator?: string;
  clusterName?: string;
  /** Further flags for every node. */
  extraArgs?: string[];
  /** Keep data dirs when the cluster stops (the demo does). */
  keepData?: boolean;
  /** The secret the nodes share; a random one when absent. */
  clusterSecret?: string;
  /** PEM files: every node serves HTTPS with this certificate and checks its peers against the CA. */
  tls?: { cert: string; key: string; ca: string };
  /** Every node's --tokens-file; `token` is the one this tool's own heartbeat requests carry. */
  tokens?: { file: string; token: string };
}

export interface NodeSpec {
  host?: string;
  port: number;
  /** Node to join; defaults to the first running node, none for the first one. */
  join?: string | null;
  extraArgs?: string[];
  /**
   * A command the node is started through, e.g. `['ip', 'netns', 'exec', NAME]`. It must exec the
   * node rather than fork it, so that the child's pid is the node's and signals reach the node itself.
   */
  wrapper?: string[];
}

export class LocalNode {
  process: ChildProcess | null = null;
  exit: Promise<number | null> = Promise.resolve(null);
  private stderr = '';
  private log: WriteStream | null = null;

  constructor(
    readonly id: string,
    readonly host: string,
    readonly port: number,
    readonly dataDir: string,
    readonly logFile: string,
    /** How it was started; a restart keeps all but the join target. */
    readonly spec: NodeSpec,
    public args: string[],
  ) {}

  get running(): boolean {
    return this.process !== null && this.process.exitCode === null && this.process.signalCode === null;
  }

  /** The last lines the node wrote to stderr (its log), for failure messages. */
  lastOutput(lines = 20): string {
    return this.stderr.split('\n').slice(-lines).join('\n');
  }

  spawn(): void {
    this.stderr = '';
    this.log = createWriteStream(this.logFile, { flags: 'a' });
    const [command, ...args] = [...(this.spec.wrapper ?? []), process.execPath, NODE_BIN, ...this.args];
    const child = spawn(command!, args, { stdio: ['ignore', 'ignore', 'pipe'], env: flagsOnlyEnv() });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-20_000);
      this.log?.write(chunk);
    });
    // No node outlives the tool that started it (a failed test, a demo ended by a double Ctrl-C).
    killAtExit(child);
    this.exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    this.process = child;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.process!.kill(signal);
  }

  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.running && this.process!.signalCode === null) this.process!.kill(signal);
    if (signal !== 'SIGKILL') this.process?.kill('SIGCONT');
    const code = await this.exit;
    this.log?.end();
    return code;
  }
}

export class LocalCluster {
  readonly nodes = new Map<string, LocalNode>();
  /** Every node is started with this file as --cluster-secret-file. */
  readonly secretFile: string;
  readonly secret: string;
  /** `https` when the nodes serve TLS. */
  private readonly scheme: 'http' | 'https';
  private readonly dispatcher: Agent | undefined;
  private readonly headers: Record<string, string>;

  constructor(readonly options: LocalClusterOptions) {
    mkdirSync(options.baseDir, { recursive: true });
    this.scheme = options.tls ? 'https' : 'http';
    this.dispatcher = options.tls ? new Agent({ connect: { ca: readFileSync(options.tls.ca) } }) : undefined;
    this.headers = options.tokens ? { authorization: `Bearer ${options.tokens.token}` } : {};
    this.secret = options.clusterSecret ?? randomBytes(32).toString('base64url');
    this.secretFile = join(options.baseDir, 'cluster.secret');
    writeFileSync(this.secretFile, `${this.secret}\n`, { mode: 0o600 });
  }

  /** The flags a node of this cluster is started with. */
  nodeArgs(spec: NodeSpec, dataDir: string): string[] {
    const o = this.options;
    const host = spec.host ?? '127.0.0.1';
    const join = o.coordinator ? null : spec.join === undefined ? this.firstRunning()?.id : spec.join;
    return [
      '--host', host,
      '--port', String(spec.port),
      '--replication-factor', String(o.replicationFactor),
      '--data-dir', dataDir,
      '--log-level', o.logLevel ?? 'info',
      '--cluster-secret-file', this.secretFile,
      ...(join ? ['--join', join] : []),
      ...(o.coordinator ? ['--coordinator', o.coordinator] : []),
      ...(o.clusterName ? ['--cluster-name', o.clusterName] : []),
      ...(o.heartbeatIntervalMs ? ['--heartbeat-interval', `${o.heartbeatIntervalMs}ms`] : []),
      ...(o.failureTimeoutMs ? ['--failure-timeout', `${o.failureTimeoutMs}ms`] : []),
      ...(o.antiEntropyIntervalMs ? ['--anti-entropy-interval', `${o.antiEntropyIntervalMs}ms`] : []),
      ...(o.requestTimeoutMs ? ['--request-timeout', `${o.requestTimeoutMs}ms`] : []),
      ...(o.tls ? ['--cert', o.tls.cert, '--key', o.tls.key, '--ca', o.tls.ca] : []),
      ...(o.tokens ? ['--tokens-file', o.tokens.file] : []),
      ...(o.extraArgs ?? []),
      ...(spec.extraArgs ?? []),
    ];
  }

  /** Spawns a node without waiting for it (e.g. to watch it refuse to start). */
  spawnNode(spec: NodeSpec): LocalNode {
    const host = spec.host ?? '127.0.0.1';
    const id = `${host}:${spec.port}`;
    const dataDir = join(this.options.baseDir, `${host}_${spec.port}`);
    const node = new LocalNode(id, host, spec.port, dataDir, join(this.options.baseDir, `${host}_${spec.port}.log`), spec, this.nodeArgs(spec, dataDir));
    this.nodes.set(id, node);
    node.spawn();
    return node;
  }

  /** Starts a node and resolves once it answers heartbeats. */
  async startNode(spec: NodeSpec, timeoutMs = 20_000): Promise<LocalNode> {
    const node = this.spawnNode(spec);
    await this.waitUntilServing(node, timeoutMs);
    return node;
  }

  /** Starts `ports.length` nodes one after another, each joining the first. */
  async start(ports: readonly number[], host = '127.0.0.1'): Promise<LocalNode[]> {
    const started: LocalNode[] = [];
    for (const port of ports) started.push(await this.startNode({ host, port }));
    await this.waitFor(async () => {
      const beats = await this.heartbeats();
      return beats.length === started.length && beats.every((beat) => beat.nodes.length === started.length && beat.leader !== null);
    }, { message: 'all nodes to see each other' });
    return started;
  }

  /** Restarts a stopped node with the same data dir, joining any running node (or its remembered peers). */
  async restart(id: string, timeoutMs = 20_000, spec: Partial<NodeSpec> = {}): Promise<LocalNode> {
    const node = this.get(id);
    if (node.running) await node.stop();
    const join = this.running().find((other) => other !== node)?.id ?? null;
    node.args = this.nodeArgs({ ...node.spec, join, ...spec }, node.dataDir);
    node.spawn();
    await this.waitUntilServing(node, timeoutMs);
    return node;
  }

  get(id: string): LocalNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id} in this cluster`);
    return node;
  }

  running(): LocalNode[] {
    return [...this.nodes.values()].filter((node) => node.running);
  }

  async heartbeat(id: string, timeoutMs = 2000): Promise<Heartbeat | null> {
    try {
      const response = await request(`${this.scheme}://${id}${HEARTBEAT_PATH}`, { signal: AbortSignal.timeout(timeoutMs), dispatcher: this.dispatcher, headers: this.headers });
      const body: unknown = await response.body.json();
      return isHeartbeat(body) ? body : null;
    } catch {
      return null;
    }
  }

  /** Heartbeats of every running node that answers. */
  async heartbeats(): Promise<Heartbeat[]> {
    const beats = await Promise.all(this.running().map((node) => this.heartbeat(node.id)));
    return beats.filter((beat): beat is Heartbeat => beat !== null);
  }

  /** The leader every running node agrees on, or null while they disagree. */
  async agreedLeader(): Promise<string | null> {
    return this.leaderOf(await this.heartbeats());
  }

  /** Waits until every running node names the same leader and sees the same alive nodes. */
  async waitForLeader(expected?: string, timeoutMs = 60_000): Promise<string> {
    let leader: string | null = null;
    await this.waitFor(async () => {
      // One round of heartbeats for both checks: a leader named in an earlier round may be gone from this one.
      const beats = await this.heartbeats();
      leader = this.leaderOf(beats);
      if (!leader || (expected && leader !== expected)) return false;
      const alive = this.running().map((node) => node.id).sort().join(',');
      return beats.every((beat) => beat.nodes.map((node) => node.id).sort().join(',') === alive);
    }, { timeoutMs, message: `a leader${expected ? ` (${expected})` : ''} agreed by every running node` });
    return leader!;
  }

  private leaderOf(beats: readonly Heartbeat[]): string | null {
    const leaders = new Set(beats.map((beat) => beat.leader));
    const [leader] = leaders;
    return beats.length === this.running().length && leaders.size === 1 && leader ? leader : null;
  }

  /** Waits until the leader reports that every node finished repairing for the current membership. */
  async waitForInSync(timeoutMs = 60_000): Promise<void> {
    const leader = await this.waitForLeader(undefined, timeoutMs);
    await this.waitFor(async () => (await this.heartbeat(leader))?.repair?.inSync === true, {
      timeoutMs,
      message: 'replicas in sync',
    });
  }

  waitFor(condition: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
    return waitFor(condition, options);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((node) => node.stop()));
    await this.dispatcher?.destroy();
    if (!this.options.keepData) rmSync(this.options.baseDir, { recursive: true, force: true });
  }

  private firstRunning(): LocalNode | undefined {
    return this.running()[0];
  }

  private async waitUntilServing(node: LocalNode, timeoutMs: number): Promise<void> {
    let exited = false;
    void node.exit.then(() => (exited = true));
    await this.waitFor(async () => {
      if (exited) throw new Error(`node ${node.id} exited while starting:\n${node.lastOutput()}`);
      return (await this.heartbeat(node.id, 500)) !== null;
    }, { timeoutMs, intervalMs: 50, message: `node ${node.id} to serve` });
  }
}
