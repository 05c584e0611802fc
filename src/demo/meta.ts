// The demo's meta-commands (`\kill 2`, `\add`…), which control the demo's own
// node processes from its REPL, as `cockroach demo` does.

export type MetaCommand =
  | { kind: 'nodes' | 'add' | 'ui' | 'help' }
  | { kind: 'kill' | 'pause' | 'resume' | 'restart'; node: number };

export const META_HELP = [
  'Demo controls (this demo only):',
  '  \\nodes       list the demo nodes: number, address, process state, role',
  '  \\kill N      SIGKILL node N',
  '  \\pause N     freeze node N (SIGSTOP)',
  '  \\resume N    unfreeze node N (SIGCONT)',
  '  \\restart N   start node N again on its data dir (kills it first if running)',
  '  \\add         start one more node that joins the cluster',
  '  \\ui          print the dashboard URL',
  '  \\help        show this help',
];

const WITHOUT_NODE = new Set(['nodes', 'add', 'ui', 'help']);
const WITH_NODE = new Set(['kill', 'pause', 'resume', 'restart']);

export const META_NAMES = [...WITHOUT_NODE, ...WITH_NODE].map((name) => `\\${name}`);

export function parseMeta(line: string): MetaCommand | { kind: 'error'; message: string } {
  const [word = '', ...args] = line.trim().split(/\s+/);
  const name = word.slice(1).toLowerCase();
  if (WITHOUT_NODE.has(name)) {
    if (args.length > 0) return { kind: 'error', message: `\\${name} takes no arguments` };
    return { kind: name as 'nodes' | 'add' | 'ui' | 'help' };
  }
  if (WITH_NODE.has(name)) {
    const node = args.length === 1 && /^\d{1,3}$/.test(args[0]!) ? Number(args[0]) : 0;
    if (node < 1) return { kind: 'error', message: `\\${name} takes a node number (see \\nodes)` };
    return { kind: name as 'kill' | 'pause' | 'resume' | 'restart', node };
  }
  return { kind: 'error', message: `Unknown meta-command "${word}" (try \\help)` };
}
