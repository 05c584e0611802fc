// Runs the demo's meta-commands against its own node processes: real
// signals (SIGKILL, SIGSTOP/SIGCONT), restarts on the same data dir, and a
// node that joins. Nodes are numbered from 1 in the order they were started.
import type { LocalCluster, LocalNode } from '../local-cluster/local-cluster.js';
import { table } from '../cli/format-cluster.js';
import { formatError } from '../cli/format.js';
import { META_HELP, META_NAMES, parseMeta } from './meta.js';

/** A paused node does not answer: asking it must not hold up `\nodes` for long. */
const HEARTBEAT_TIMEOUT_MS = 500;

export class DemoControls {
  readonly names = META_NAMES;
  private readonly paused = new Set<LocalNode>();

  constructor(private readonly cluster: LocalCluster) {}

  async run(line: string): Promise<string[]> {
    const command = parseMeta(line);
    try {
      switch (command.kind) {
        case 'error':
          return [formatError(command.message)];
        case 'help':
          return META_HELP;
        case 'nodes':
          return await this.list();
        case 'ui':
          return [`Dashboard: http://${this.serving()[0]?.id ?? this.numbered()[0]!.id}/ui/`];
        case 'add':
          return [await this.add()];
        default:
          return [await this.control(command.kind, command.node)];
      }
    } catch (error) {
      return [formatError((error as Error).message.split('\n')[0]!)];
    }
  }

  private numbered(): LocalNode[] {
    return [...this.cluster.nodes.values()];
  }

  /** Running and not paused: the nodes that answer. */
  private serving(): LocalNode[] {
    return this.cluster.running().filter((node) => !this.paused.has(node));
  }

  private async list(): Promise<string[]> {
    const beats = await Promise.all(this.serving().map((node) => this.cluster.heartbeat(node.id, HEARTBEAT_TIMEOUT_MS)));
    const leader = beats.find((beat) => beat?.leader)?.leader ?? null;
    const process = (node: LocalNode) => (!node.running ? 'stopped' : this.paused.has(node) ? 'paused' : 'running');
    return table([
      ['#', 'NODE', 'PROCESS', 'ROLE'],
      ...this.numbered().map((node, i) => [String(i + 1), node.id, process(node), node.id === leader ? 'leader' : '-']),
    ]);
  }

  private async control(action: 'kill' | 'pause' | 'resume' | 'restart', number: number): Promise<string> {
    const node = this.numbered()[number - 1];
    if (!node) throw new Error(`there is no node ${number} (see \\nodes)`);
    const name = `node ${number} (${node.id})`;
    if (action === 'restart') {
      this.paused.delete(node);
      await this.cluster.restart(node.id);
      return `Restarted ${name}`;
    }
    if (!node.running) throw new Error(`${name} is not running (\\restart ${number} starts it)`);
    if (action === 'kill') {
      this.paused.delete(node);
      await node.stop('SIGKILL');
      return `Killed ${name} with SIGKILL`;
    }
    if (action === 'pause') {
      node.signal('SIGSTOP');
      this.paused.add(node);
      return `Paused ${name} (SIGSTOP); \\resume ${number} wakes it`;
    }
    node.signal('SIGCONT');
    this.paused.delete(node);
    return `Resumed ${name}`;
  }

  private async add(): Promise<string> {
    const taken = new Set(this.numbered().map((node) => node.port));
    let port = Math.max(...taken) + 1;
    while (taken.has(port)) port++;
    const node = await this.cluster.startNode({ port, join: this.serving()[0]?.id ?? null });
    return `Added node ${this.numbered().length} (${node.id}), joining the cluster`;
  }
}
