// Text for the cluster-inspection commands (LOCATE, NODES): aligned columns,
// one row a node, readable in a terminal and easy to grep.
import type { ClusterSnapshot, KeyLocation } from '../protocol/dashboard.js';
import type { Version } from '../protocol/schemas.js';
import { formatWarnings } from './format.js';

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
}

/** As in the x-warehouse-version header: term.clock.writer. */
export function formatVersion(version: Version | null): string {
  return version ? version.join('.') : '-';
}

export function formatLocation(location: KeyLocation): string[] {
  return table([
    ['NODE', 'OWNER', 'COPY', 'VERSION'],
    ...location.copies.map((copy) => [copy.node, copy.owner ? 'yes' : 'no', copy.copy, formatVersion(copy.version)]),
  ]);
}

function heardAgo(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 1000 ? `${ms} ms ago` : `${(ms / 1000).toFixed(1)} s ago`;
}

export function formatNodes(snapshot: ClusterSnapshot): string[] {
  return [
    ...table([
      ['NODE', 'ROLE', 'STATE', 'TERM', 'LAST HEARTBEAT'],
      ...snapshot.nodes.map((node) => [node.id, node.role, node.state, node.term === null ? '-' : String(node.term), heardAgo(node.lastHeardMsAgo)]),
    ]),
    ...formatWarnings(snapshot.warnings),
  ];
}
