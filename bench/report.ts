// Turning results into text: the per-phase lines printed as the run goes,
// the summary table at the end, the memory table and the warnings.
import type { MachineInfo } from './machine.js';
import type { PhaseResult } from './phases.js';
import type { MemoryReport } from './target.js';

export interface Ratio {
  phase: string;
  title: string;
  /** Store ops/s divided by etcd ops/s. */
  throughput: number | null;
  /** Store p99 divided by etcd p99 (below 1: the store answers faster). */
  p99: number | null;
}

export interface MemorySnapshot {
  target: string;
  documents: number;
  members: MemoryReport[];
}

const integer = (value: number) => Math.round(value).toLocaleString('en-US');
const millis = (value: number) => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));

export function formatBytes(bytes: number | null): string {
  if (bytes === null) return 'n/a';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

export function formatRatio(ratio: number | null): string {
  return ratio === null ? 'n/a' : `${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}×`;
}

/** A plain text table: first column left-aligned, the others right-aligned. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i <= 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)];
}

function note(result: PhaseResult): string {
  switch (result.endedBy) {
    case 'exhausted':
      return result.phase.startsWith('load') ? '' : 'ran out of keys';
    case 'aborted':
      return 'interrupted';
    default:
      return '';
  }
}

const RESULT_HEADER = ['phase', 'target', 'ops/s', 'p50 ms', 'p99 ms', 'max ms', 'loop max ms', 'requests', 'errors', 'server µs/op', 'client CPU', 'note'];

function resultRow(result: PhaseResult, first: boolean): string[] {
  const latency = result.latencyMs;
  return [
    first ? result.title : '',
    result.target,
    integer(result.opsPerSec),
    latency ? millis(latency.p50) : '-',
    latency ? millis(latency.p99) : '-',
    latency ? millis(latency.max) : '-',
    result.loopDelayMaxMs === null ? 'n/a' : millis(result.loopDelayMaxMs),
    integer(result.ops + result.errors),
    result.errors > 0 ? `${integer(result.errors)} !` : '0',
    result.cpu.serverMicrosPerOp === null ? 'n/a' : integer(result.cpu.serverMicrosPerOp),
    `${result.cpu.clientPercent.toFixed(0)}%`,
    note(result),
  ];
}

/** The lines printed right after one phase has run against one target. */
export function phaseLine(result: PhaseResult): string {
  const latency = result.latencyMs;
  const parts = [
    `${result.title} [${result.target}]:`,
    `${integer(result.opsPerSec)} ops/s`,
    latency ? `p50 ${millis(latency.p50)} ms, p99 ${millis(latency.p99)} ms, max ${millis(latency.max)} ms` : 'no successful request',
    ...(result.loopDelayMaxMs === null ? [] : [`longest event-loop stall ${millis(result.loopDelayMaxMs)} ms`]),
    `${integer(result.ops)} ok in ${(result.elapsedMs / 1000).toFixed(1)} s`,
  ];
  if (result.errors > 0) {
    const kinds = Object.entries(result.errorKinds).map(([kind, count]) => `${kind} ×${count}`).join(', ');
    parts.push(`ERRORS ${integer(result.errors)} (${kinds})`);
  }
  if (note(result)) parts.push(note(result));
  return parts.join('  ');
}

export function ratioLine(ratio: Ratio): string {
  return `${ratio.title}: warehouse/etcd throughput ${formatRatio(ratio.throughput)}, p99 ${formatRatio(ratio.p99)}`;
}

export function computeRatio(store: PhaseResult, etcd: PhaseResult): Ratio {
  const p99 = store.latencyMs && etcd.latencyMs && etcd.latencyMs.p99 > 0 ? store.latencyMs.p99 / etcd.latencyMs.p99 : null;
  return { phase: store.phase, title: store.title, throughput: etcd.opsPerSec > 0 ? store.opsPerSec / etcd.opsPerSec : null, p99 };
}

export function machineLines(machine: MachineInfo, versions: Record<string, string>): string[] {
  return [
    `Machine: ${machine.cpuModel}, ${machine.cores} cores, ${formatBytes(machine.memoryBytes)} RAM, ${machine.os}`,
    `Load average at start: ${machine.loadAverage.join(', ')} (1, 5, 15 min)`,
    `Software: Node.js ${machine.node}, ${Object.entries(versions).map(([name, version]) => `${name} ${version}`).join(', ')}`,
  ];
}

/** The summary table: one row per phase and target, with the warehouse/etcd ratio when comparing. */
export function summaryLines(results: PhaseResult[], ratios: Ratio[]): string[] {
  const rows: string[][] = [];
  const header = ratios.length > 0 ? [...RESULT_HEADER.slice(0, -1), 'vs etcd', 'note'] : RESULT_HEADER;
  let previous = '';
  for (const result of results) {
    const row = resultRow(result, result.phase !== previous);
    previous = result.phase;
    if (ratios.length > 0) {
      const ratio = result.target === 'warehouse' ? ratios.find((candidate) => candidate.phase === result.phase) : undefined;
      row.splice(row.length - 1, 0, ratio ? formatRatio(ratio.throughput) : '');
    }
    rows.push(row);
  }
  return table(header, rows);
}

export function memoryLines(snapshots: MemorySnapshot[]): string[] {
  const rows: string[][] = [];
  for (const snapshot of snapshots) {
    let first = true;
    for (const member of snapshot.members) {
      rows.push([
        first ? `${snapshot.target}, ${integer(snapshot.documents)} documents` : '',
        member.member,
        member.pid === null ? 'n/a' : String(member.pid),
        member.records === null ? 'n/a' : integer(member.records),
        formatBytes(member.rssBytes),
        formatBytes(member.heapUsedBytes),
        formatBytes(member.diskBytes),
      ]);
      first = false;
    }
    const sum = (pick: (member: MemoryReport) => number | null) => {
      const values = snapshot.members.map(pick);
      return values.every((value) => value !== null) ? values.reduce((a, b) => a! + b!, 0) : null;
    };
    const records = sum((m) => m.records);
    rows.push(['', 'total', '', records === null ? 'n/a' : integer(records), formatBytes(sum((m) => m.rssBytes)), formatBytes(sum((m) => m.heapUsedBytes)), formatBytes(sum((m) => m.diskBytes))]);
  }
  return table(['documents', 'member', 'pid', 'records', 'resident (RSS)', 'JS heap used', 'data on disk'], rows);
}

/** Bytes per document between two snapshots of one target: how memory and disk grow with the data. */
export function growthLines(snapshots: MemorySnapshot[]): string[] {
  const lines: string[] = [];
  const targets = [...new Set(snapshots.map((snapshot) => snapshot.target))];
  for (const target of targets) {
    const mine = snapshots.filter((snapshot) => snapshot.target === target);
    if (mine.length < 2) continue;
    const [a, b] = [mine[0]!, mine[mine.length - 1]!];
    const documents = b.documents - a.documents;
    if (documents <= 0) continue;
    const total = (snapshot: MemorySnapshot, pick: (member: MemoryReport) => number | null) => {
      const values = snapshot.members.map(pick);
      return values.every((value) => value !== null) ? values.reduce((x, y) => x! + y!, 0)! : null;
    };
    const per = (pick: (member: MemoryReport) => number | null) => {
      const before = total(a, pick);
      const after = total(b, pick);
      return before === null || after === null ? 'n/a' : `${integer((after - before) / documents)} B`;
    };
    lines.push(
      `${target}: per extra document, all members together: resident ${per((m) => m.rssBytes)}, JS heap ${per((m) => m.heapUsedBytes)}, disk ${per((m) => m.diskBytes)}`,
    );
  }
  return lines;
}

/** Warnings for phases with errors: empty when every request succeeded. */
export function errorLines(results: PhaseResult[]): string[] {
  const failed = results.filter((result) => result.errors > 0);
  if (failed.length === 0) return [];
  return [
    `WARNING: ${failed.length} phase run(s) had errors:`,
    ...failed.map(
      (result) =>
        `  ${result.title} [${result.target}]: ${integer(result.errors)} of ${integer(result.ops + result.errors)} requests failed: ` +
        Object.entries(result.errorKinds)
          .map(([kind, count]) => `${kind} ×${count}`)
          .join(', '),
    ),
  ];
}
