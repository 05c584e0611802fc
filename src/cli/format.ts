import type { DeleteResult, GetResult, Heartbeat, WriteResult } from '../client/index.js';

export const WRITE_FAILED = 'Failed to write an entry';
export const READ_FAILED = 'Failed to read an entry';

export const HELP_TEXT = [
  'Commands (case-insensitive):',
  "  SET <key> <json>   store a JSON document under a UUID4 key; outer 'single quotes' are optional",
  '  SET <key> <json> IF <version>   store it only over that version of the document',
  '  SET <key> <json> IF ABSENT      store it only if the key holds no document',
  '  GET <key>          print the document, or "Not found"',
  '  GET -v <key>       print the document and its version',
  '  DELETE <key>       delete the document',
  '  DELETE <key> IF <version>       delete it only if it still has that version',
  '  STATUS             show the leader, nodes, warnings and repair state',
  '  LOCATE <key>       show the nodes that own the key and the version each holds',
  '  NODES              list every node with its role, state, term and last heartbeat',
  '  HELP               show this help',
  '  EXIT, QUIT         leave (Ctrl-D does too)',
];

/** The block shown on connect and whenever the client follows a new leader. */
export function formatConnection(verb: 'Connected' | 'Reconnected', heartbeat: Heartbeat): string[] {
  return [
    `${verb} to a database of ${heartbeat.cluster} at ${heartbeat.node}`,
    'Known nodes:',
    ...heartbeat.nodes.map((node) => node.id),
    ...formatWarnings(heartbeat.warnings),
  ];
}

export function formatWarnings(warnings: readonly string[]): string[] {
  return warnings.map((warning) => `WARNING: ${warning}`);
}

export function formatWrite({ result, replicas }: WriteResult): string {
  const verb = result === 'created' ? 'Created' : result === 'updated' ? 'Updated' : 'Deleted';
  return `${verb} (${replicas} ${replicas === 1 ? 'replica' : 'replicas'})`;
}

/**
 * Control characters a stored value could carry (ESC, BEL, backspace, CR…)
 * would be obeyed by the terminal: they are shown escaped, as \u001b etc.
 * JSON keeps its own whitespace (tab, newline) as is.
 */
export function formatGet(answer: GetResult): string {
  return answer.found ? `'${answer.value.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, escapeControl)}'` : 'Not found';
}

function escapeControl(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** `GET -v`: the document, then its version on a line of its own. */
export function formatGetWithVersion(answer: GetResult): string[] {
  return answer.found ? [formatGet(answer), `Version: ${answer.version ?? 'unknown'}`] : [formatGet(answer)];
}

export function formatDelete(answer: DeleteResult): string {
  return answer.found ? formatWrite(answer) : 'Not found';
}

export function formatError(message: string): string {
  // Exactly one line, whatever a server or the network put into the message.
  return `Error: ${message.replace(/\s*[\r\n]+\s*/g, ' ')}`;
}

export function formatStatus(heartbeat: Heartbeat): string[] {
  const lines = [
    `Leader: ${heartbeat.node}`,
    `Term: ${heartbeat.term}`,
    ...formatMode(heartbeat),
    `Replication factor: ${heartbeat.replicationFactor}`,
    `Heartbeat interval: ${duration(heartbeat.heartbeatIntervalMs)}, failure timeout: ${duration(heartbeat.failureTimeoutMs)}`,
    `Nodes (${heartbeat.nodes.length}):`,
    ...heartbeat.nodes.map((node) => `  ${node.id}${node.id === heartbeat.node ? ' (leader)' : ''}`),
  ];
  const { repair } = heartbeat;
  if (repair) {
    const counts = `${repair.underReplicated} under-replicated keys, ${repair.transfersInProgress} transfers in progress, ${repair.hintsPending} hints pending`;
    lines.push(`Repair: ${repair.inSync ? 'in sync' : 'in progress'} (${counts})`);
  }
  return [...lines, ...formatWarnings(heartbeat.warnings)];
}

function formatMode({ mode, coordinator }: Heartbeat): string[] {
  if (mode !== 'etcd' || !coordinator) return [`Mode: ${mode ?? 'gossip'}`];
  const endpoints = coordinator.endpoints.map(({ url, healthy }) => `${url.replace(/^https?:\/\//, '')} ${healthy ? 'healthy' : 'unhealthy'}`);
  return [
    `Mode: consistent (etcd, cluster name "${coordinator.clusterName}")${coordinator.connected ? '' : ', this node is cut off from etcd'}`,
    `etcd: ${endpoints.join(', ')}`,
  ];
}

/** Whole seconds read better; anything else stays exact. */
function duration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
