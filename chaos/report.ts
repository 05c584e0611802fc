// The run's report as one self-contained HTML page: the verdicts with their
// offending operations, a timeline (one lane per client, ops as bars coloured
// by type and outcome, fault windows as shaded bands), a close-up timeline of
// every key with a problem, and the list of faults.
import { basename } from 'node:path';
import type { Verdict, Violation } from './checker.js';
import { FINAL_PROCESS, type HistoryEvent, type NemesisEvent, type Op, describeOp } from './history.js';

export interface ReportInput {
  summary: {
    passed: boolean;
    seed: number;
    startedAt: string;
    machine: Record<string, unknown>;
    options: Record<string, unknown>;
    stats: Record<string, number>;
    errors: string[];
  };
  verdicts: Verdict[];
  ops: Op[];
  events: HistoryEvent[];
  outDir: string;
}

const escapeMap: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function esc(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => escapeMap[c]!);
}

const FAULT_COLORS: Record<string, string> = { kill: 'rgba(214,48,49,0.16)', pause: 'rgba(240,160,0,0.2)', partition: 'rgba(70,70,210,0.14)' };
const FAULT_INK: Record<string, string> = { kill: '#b02020', pause: '#a86a00', partition: '#3636a8' };

function opColor(op: Op): string {
  if (op.outcome === 'fail') return '#9a9a9a';
  if (op.outcome === 'info') return '#e8572f';
  return op.f === 'get' ? '#5b8fd6' : op.f === 'set' ? '#2e9e5b' : '#8a5cc2';
}

/** {"writer":3,"n":17} -> 3.17 */
function shortValue(value: string | null): string {
  if (value === null) return '∅';
  try {
    const parsed = JSON.parse(value) as { writer?: unknown; n?: unknown };
    if (typeof parsed.writer === 'number' && typeof parsed.n === 'number') return `${parsed.writer}.${parsed.n}`;
  } catch {
    // not ours
  }
  return value.length > 12 ? `${value.slice(0, 11)}…` : value;
}

function opLabel(op: Op): string {
  if (op.f === 'set') return `SET ${shortValue(op.value)}`;
  if (op.f === 'delete') return 'DEL';
  return op.outcome === 'ok' ? `GET→${shortValue(op.value)}` : 'GET';
}

interface FaultWindow {
  fault: number;
  kind: string;
  start: number;
  end: number;
  detail: string;
  nodes: string[];
}

function faultWindows(events: readonly HistoryEvent[], endOfTime: number): FaultWindow[] {
  const starts = new Map<number, NemesisEvent>();
  const windows: FaultWindow[] = [];
  for (const event of events) {
    if (event.type !== 'nemesis') continue;
    if (event.phase === 'start') starts.set(event.fault, event);
    else if (starts.has(event.fault) && !windows.some((w) => w.fault === event.fault)) {
      const start = starts.get(event.fault)!;
      windows.push({ fault: event.fault, kind: event.kind, start: start.time, end: event.time, detail: start.detail ?? '', nodes: start.nodes });
    }
  }
  for (const [fault, start] of starts) {
    if (!windows.some((w) => w.fault === fault)) windows.push({ fault, kind: start.kind, start: start.time, end: endOfTime, detail: start.detail ?? '', nodes: start.nodes });
  }
  return windows.sort((a, b) => a.start - b.start);
}

function laneName(process: number): string {
  return process === FINAL_PROCESS ? 'final' : `client ${process}`;
}

interface TimelineOptions {
  ops: readonly Op[];
  windows: readonly FaultWindow[];
  from: number;
  to: number;
  width: number;
  highlight: ReadonlySet<number>;
  labels: boolean;
  phases?: readonly { name: string; time: number }[];
}

function timeline({ ops, windows, from, to, width, highlight, labels, phases = [] }: TimelineOptions): string {
  const lanes = [...new Set(ops.map((op) => op.process))].sort((a, b) => (a === FINAL_PROCESS ? 1 : b === FINAL_PROCESS ? -1 : a - b));
  const laneHeight = labels ? 22 : 14;
  const left = 70;
  const top = 28;
  const height = top + lanes.length * laneHeight + 24;
  const span = Math.max(1, to - from);
  const x = (t: number) => left + ((Math.min(Math.max(t, from), to) - from) / span) * (width - left - 10);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="11">`);
  // Fault bands behind everything.
  for (const w of windows) {
    if (w.end < from || w.start > to) continue;
    const x0 = x(w.start);
    const x1 = Math.max(x0 + 2, x(w.end));
    parts.push(`<rect x="${x0.toFixed(1)}" y="${top - 14}" width="${(x1 - x0).toFixed(1)}" height="${height - top - 10}" fill="${FAULT_COLORS[w.kind] ?? 'rgba(0,0,0,.1)'}"><title>${esc(`fault ${w.fault}: ${w.kind} ${w.detail}`)}</title></rect>`);
    parts.push(`<text x="${(x0 + 3).toFixed(1)}" y="${top - 4}" fill="${FAULT_INK[w.kind] ?? '#333'}" font-weight="600">${esc(`${w.kind} ${w.nodes.map((n) => n.slice(n.lastIndexOf('.') + 1, n.lastIndexOf(':'))).join('+')}`)}</text>`);
  }
  // Time axis.
  const stepMs = niceStep(span / ((width - left) / 90));
  for (let t = Math.ceil(from / stepMs) * stepMs; t <= to; t += stepMs) {
    const tx = x(t);
    parts.push(`<line x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${top - 2}" y2="${height - 20}" stroke="#ddd" stroke-width="0.5"/>`);
    parts.push(`<text x="${tx.toFixed(1)}" y="${height - 6}" text-anchor="middle" fill="#555">${formatTime(t, stepMs)}</text>`);
  }
  for (const phase of phases) {
    if (phase.time < from || phase.time > to) continue;
    const px = x(phase.time);
    parts.push(`<line x1="${px.toFixed(1)}" x2="${px.toFixed(1)}" y1="${top - 14}" y2="${height - 20}" stroke="#222" stroke-dasharray="3,3" stroke-width="0.8"><title>${esc(phase.name)}</title></line>`);
  }
  lanes.forEach((lane, i) => {
    const y = top + i * laneHeight;
    parts.push(`<text x="4" y="${y + laneHeight / 2 + 4}" fill="#333">${esc(laneName(lane))}</text>`);
    parts.push(`<line x1="${left}" x2="${width - 10}" y1="${y + laneHeight - 1}" y2="${y + laneHeight - 1}" stroke="#f0f0f0"/>`);
  });
  const laneIndex = new Map(lanes.map((lane, i) => [lane, i]));
  for (const op of ops) {
    if (op.complete < from || op.invoke > to) continue;
    const y = top + laneIndex.get(op.process)! * laneHeight + 2;
    const x0 = x(op.invoke);
    const w = Math.max(1, x(op.complete) - x0);
    const marked = highlight.has(op.id);
    const stroke = marked ? ' stroke="#000" stroke-width="1.5"' : '';
    // Long runs: tooltips only where they matter, to keep the page a reasonable size.
    const tooltip = ops.length <= 30_000 || marked || op.outcome !== 'ok';
    parts.push(
      `<rect x="${x0.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${laneHeight - 5}" fill="${opColor(op)}"${stroke}>` +
        (tooltip ? `<title>${esc(describeOp(op) + (op.error ? ` (${op.error})` : ''))}</title>` : '') +
        '</rect>',
    );
    if (labels && (marked || w > 28)) parts.push(`<text x="${(x0 + 2).toFixed(1)}" y="${y + laneHeight - 9}" fill="#111" font-size="10" font-weight="${marked ? 700 : 400}" style="paint-order:stroke" stroke="#fff" stroke-width="2.5">${esc(opLabel(op))}</text>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

function niceStep(raw: number): number {
  const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000];
  return steps.find((s) => s >= raw) ?? 600_000;
}

function formatTime(ms: number, step: number): string {
  return step >= 1000 ? `${(ms / 1000).toFixed(0)}s` : `${(ms / 1000).toFixed(step >= 100 ? 1 : step >= 10 ? 2 : 3)}s`;
}

function statusBadge(status: string, hard: boolean): string {
  const color = status === 'pass' ? '#2e9e5b' : status === 'fail' ? '#d63031' : status === 'anomalies' ? '#d68a00' : '#777';
  return `<span class="badge" style="background:${color}">${esc(status.toUpperCase())}</span>${hard ? '' : ' <span class="muted">(reported, not failing)</span>'}`;
}

function opsTable(ops: readonly Op[]): string {
  if (ops.length === 0) return '';
  const rows = ops
    .map(
      (op) =>
        `<tr><td>#${op.id}</td><td>${esc(laneName(op.process))}</td><td>${op.f.toUpperCase()}</td><td><code>${esc(op.f === 'delete' ? '' : op.f === 'get' && op.outcome !== 'ok' ? '?' : op.value ?? 'not found')}</code></td>` +
        `<td class="num">${op.invoke.toFixed(1)}</td><td class="num">${op.complete.toFixed(1)}</td><td>${esc(op.node ?? '')}</td><td class="o-${op.outcome}">${op.outcome}${op.error ? ` <span class="muted">${esc(op.error.slice(0, 120))}</span>` : ''}</td></tr>`,
    )
    .join('');
  return `<table class="ops"><tr><th>op</th><th>process</th><th>f</th><th>value</th><th>invoked (ms)</th><th>completed (ms)</th><th>leader</th><th>outcome</th></tr>${rows}</table>`;
}

const MAX_LISTED = 15;

function violationBlock(v: Violation, allOps: readonly Op[], windows: readonly FaultWindow[], anomaly: boolean): string {
  const keyOps = allOps.filter((op) => op.key === v.key);
  let closeUp = '';
  // The close-up spans the offending ops of the run itself; a final read (long after) is only in the table.
  const focus = v.ops.filter((op) => op.process !== FINAL_PROCESS);
  if (focus.length > 0) {
    const lo = focus.reduce((min, op) => Math.min(min, op.invoke), Infinity);
    const hi = focus.reduce((max, op) => Math.max(max, op.complete), -Infinity);
    const margin = Math.max(50, (hi - lo) * 0.15);
    const from = lo - margin;
    const to = hi + margin;
    const shown = keyOps.filter((op) => op.process !== FINAL_PROCESS && op.complete >= from && op.invoke <= to);
    closeUp = `<div class="scroll">${timeline({ ops: shown, windows, from, to, width: 1100, highlight: new Set(v.ops.map((op) => op.id)), labels: true })}</div>`;
  }
  return (
    `<div class="violation${anomaly ? ' anomaly' : ''}"><div><b>key ${esc(v.key)}</b>${v.partition !== undefined ? ` <span class="muted">(during partition fault ${v.partition})</span>` : ''}</div>` +
    `<p>${esc(v.message)}</p>${closeUp}<details><summary>offending operations (${v.ops.length})</summary>${opsTable(v.ops)}</details></div>`
  );
}

function verdictSection(verdict: Verdict, ops: readonly Op[], windows: readonly FaultWindow[]): string {
  const parts = [`<h3>${esc(verdict.title)} ${statusBadge(verdict.status, verdict.hard)}</h3><p>${esc(verdict.summary)}</p>`];
  const counts = Object.entries(verdict.counts).map(([k, v]) => `${esc(k)}: <b>${v}</b>`).join(' · ');
  if (counts) parts.push(`<p class="muted">${counts}</p>`);
  if (verdict.violations.length) {
    parts.push(`<h4>Violations (${verdict.violations.length}${verdict.violations.length > MAX_LISTED ? `, first ${MAX_LISTED} shown` : ''})</h4>`);
    for (const v of verdict.violations.slice(0, MAX_LISTED)) parts.push(violationBlock(v, ops, windows, false));
  }
  if (verdict.anomalies.length) {
    parts.push(`<details><summary>Anomalies allowed in this mode (${verdict.anomalies.length}${verdict.anomalies.length > MAX_LISTED ? `, first ${MAX_LISTED} shown` : ''})</summary>`);
    for (const v of verdict.anomalies.slice(0, MAX_LISTED)) parts.push(violationBlock(v, ops, windows, true));
    parts.push('</details>');
  }
  return `<section class="verdict">${parts.join('')}</section>`;
}

export function renderReport({ summary, verdicts, ops, events, outDir }: ReportInput): string {
  const end = events.reduce((max, e) => Math.max(max, e.time), 0);
  const windows = faultWindows(events, end);
  const phases = events.filter((e): e is Extract<HistoryEvent, { type: 'phase' }> => e.type === 'phase');
  const flagged = new Set<number>();
  for (const v of verdicts) for (const list of [v.violations, v.anomalies]) for (const violation of list) for (const op of violation.ops) flagged.add(op.id);
  const width = Math.round(Math.min(14_000, Math.max(1200, (end / 1000) * 40)));
  const o = summary.options;
  const command =
    `npm run chaos -- --nodes ${String(o.nodes)} --replication-factor ${String(o.replicationFactor)} --clients ${String(o.clients)} --duration ${Number(o.durationMs) / 1000}s ` +
    `--keys ${String(o.keys)} --faults ${(o.faults as string[]).join(',')} --seed ${summary.seed}`;
  const faultRows = windows
    .map((w) => `<tr><td>${w.fault}</td><td style="color:${FAULT_INK[w.kind]}">${esc(w.kind)}</td><td class="num">${(w.start / 1000).toFixed(2)}</td><td class="num">${(w.end / 1000).toFixed(2)}</td><td>${esc(w.detail)}</td></tr>`)
    .join('');
  const stats = Object.entries(summary.stats).map(([k, v]) => `${esc(k)}: <b>${v}</b>`).join(' · ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Warehouse 13 chaos run, seed ${summary.seed}: ${summary.passed ? 'PASS' : 'FAIL'}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{margin-bottom:4px} .muted{color:#777;font-size:90%} code{font-size:90%}
.badge{color:#fff;padding:2px 8px;border-radius:4px;font-size:80%;font-weight:700}
.scroll{overflow-x:auto;border:1px solid #e4e4e4;margin:8px 0}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #e4e4e4;padding:3px 6px;text-align:left;vertical-align:top} .num{text-align:right}
.o-ok{color:#2e9e5b}.o-fail{color:#888}.o-info{color:#e8572f}
.verdict{border-top:1px solid #ddd;padding-top:4px}
.violation{border-left:4px solid #d63031;padding:4px 10px;margin:10px 0;background:#fff8f8}
.violation.anomaly{border-left-color:#d68a00;background:#fffbf2}
.legend span{display:inline-block;margin-right:14px} .sw{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle}
</style></head><body>
<h1>Warehouse 13 chaos run ${statusBadge(summary.passed ? 'pass' : 'fail', true)}</h1>
<p class="muted">seed ${summary.seed} · started ${esc(summary.startedAt)} · ${esc(JSON.stringify(summary.machine))}</p>
<p><code>${esc(command)}</code></p>
<p>${stats}</p>
${summary.errors.length ? `<h2>Run errors</h2><ul>${summary.errors.map((e) => `<li><pre>${esc(e)}</pre></li>`).join('')}</ul>` : ''}
<h2>Verdicts</h2>
<p class="muted">Verdicts 1–3 fail the run. Partition anomalies (during a partition, until ${Number(o.partitionSettleMs) / 1000} s after it healed) and non-linearizable keys are what the default mode allows: they are listed and counted, and fail the run only with --strict.</p>
${verdicts.map((v) => verdictSection(v, ops, windows)).join('\n')}
<h2>Timeline</h2>
<p class="legend"><span><i class="sw" style="background:#5b8fd6"></i>GET ok</span><span><i class="sw" style="background:#2e9e5b"></i>SET ok</span><span><i class="sw" style="background:#8a5cc2"></i>DELETE ok</span><span><i class="sw" style="background:#e8572f"></i>info (unknown)</span><span><i class="sw" style="background:#9a9a9a"></i>fail</span>
<span><i class="sw" style="background:${FAULT_COLORS.kill}"></i>kill</span><span><i class="sw" style="background:${FAULT_COLORS.pause}"></i>pause</span><span><i class="sw" style="background:${FAULT_COLORS.partition}"></i>partition</span><span>black outline: an op named in a verdict · dashed lines: phases (${esc(phases.map((p) => p.name).join(', '))})</span></p>
<p class="muted">Hover a bar for the operation; scroll sideways. Times are ms since the run began.</p>
<div class="scroll">${timeline({ ops, windows, from: Math.max(0, ops.reduce((min, op) => Math.min(min, op.invoke), end) - 500), to: end, width, highlight: flagged, labels: false, phases })}</div>
<h2>Faults</h2>
<table><tr><th>#</th><th>kind</th><th>start (s)</th><th>end (s)</th><th>what</th></tr>${faultRows}</table>
<h2>Files</h2>
<ul><li><a href="history.jsonl">history.jsonl</a>: every invocation, completion and fault, one JSON object a line</li><li><a href="verdicts.json">verdicts.json</a>: options, machine, fault plan, verdicts with offending operations</li><li><code>cluster/*.log</code>: the nodes' logs</li></ul>
<p class="muted">${esc(basename(outDir))}</p>
</body></html>
`;
}
