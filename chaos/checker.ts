// The verdicts computed from the history alone: (1) no acknowledged write
// lost, (2) read-after-write for new keys, (4) per-key linearizability.
// Verdict (3), convergence, needs the live replicas: see convergence.ts.
//
// Every check is conservative in the store's favour where the history leaves
// a choice: an `info` op may have taken effect at any time after its
// invocation, or never; a `fail` op never happened; two events at the same
// instant count as concurrent.
import { type HistoryEvent, type Op, FINAL_PROCESS, describeOp, effectiveEnd, isWrite } from './history.js';
import { checkRegister, type LinearizabilityFailure } from './linearizability.js';

/** anomalies: nothing failing, but anomalies this mode allows were seen (and are listed). */
export type VerdictStatus = 'pass' | 'fail' | 'unknown' | 'anomalies';

export interface Violation {
  key: string;
  message: string;
  /** The offending operations, in invocation order. */
  ops: Op[];
  /** Set when the violation overlaps a partition window (an anomaly the default mode allows). */
  partition?: number;
}

export interface Verdict {
  id: 'lost-writes' | 'read-after-write' | 'convergence' | 'linearizability';
  title: string;
  status: VerdictStatus;
  /** True when a failure of this verdict fails the run. */
  hard: boolean;
  summary: string;
  counts: Record<string, number>;
  /** Failures that count against the run. */
  violations: Violation[];
  /** Anomalies reported but allowed in this mode (partition split-brain, non-linearizable keys in default mode). */
  anomalies: Violation[];
  details?: Record<string, unknown>;
}

/** A time span during which a partition (plus the time the cluster needs to merge again) may explain anomalies. */
export interface PartitionWindow {
  fault: number;
  start: number;
  end: number;
}

/**
 * The windows during which the default mode may legitimately lose writes or
 * serve stale data: every partition, from its start until `settleMs` after it
 * healed (two leaders need a few heartbeats to find each other again).
 */
export function partitionWindows(events: readonly HistoryEvent[], settleMs: number, endOfTime = Infinity): PartitionWindow[] {
  const windows: PartitionWindow[] = [];
  const open = new Map<number, number>();
  for (const event of events) {
    if (event.type !== 'nemesis' || event.kind !== 'partition') continue;
    if (event.phase === 'start') open.set(event.fault, event.time);
    else if (event.phase === 'end' && open.has(event.fault)) {
      windows.push({ fault: event.fault, start: open.get(event.fault)!, end: event.time + settleMs });
      open.delete(event.fault);
    }
  }
  for (const [fault, start] of open) windows.push({ fault, start, end: endOfTime });
  return windows.sort((a, b) => a.start - b.start);
}

function overlappingPartition(ops: readonly Op[], windows: readonly PartitionWindow[]): number | undefined {
  for (const window of windows) {
    for (const op of ops) if (op.invoke <= window.end && effectiveEnd(op) >= window.start) return window.fault;
  }
  return undefined;
}

export function byKey(ops: readonly Op[]): Map<string, Op[]> {
  const keys = new Map<string, Op[]>();
  for (const op of ops) {
    let list = keys.get(op.key);
    if (!list) keys.set(op.key, (list = []));
    list.push(op);
  }
  return keys;
}

function show(value: string | null): string {
  return value === null ? 'absent' : value;
}

/** What final value of the key each write could leave behind, and which acknowledged writes would be lost by it. */
/** At most `n` ops of a long list: the first and the last ones. */
function sample(ops: readonly Op[], n = 10): Op[] {
  return ops.length <= n ? [...ops] : [...ops.slice(0, n / 2), ...ops.slice(-n / 2)];
}

function supersedingWrites(candidateEnd: number, writes: readonly Op[], exclude: Op | null, onlySets: boolean): Op[] {
  return writes.filter(
    (w) => w !== exclude && w.outcome === 'ok' && w.invoke > candidateEnd && (!onlySets || w.f === 'set'),
  );
}

export interface FinalRead {
  key: string;
  /** The last successful final read of the key; null when every attempt failed. */
  op: Op | null;
}

/**
 * Verdict 1. For every key the final read's value must be one that some write
 * could have left last:
 *  - a document must come from a SET that did not fail, and no acknowledged
 *    write (SET or DELETE) may have begun after that SET completed;
 *  - "not found" must come from the initial state or from a DELETE that did
 *    not fail, and no acknowledged SET may have begun after it completed
 *    (for the initial state: no acknowledged SET at all).
 */
export function checkLostWrites(ops: readonly Op[], finals: readonly FinalRead[], windows: readonly PartitionWindow[], strict: boolean): Verdict {
  const keys = byKey(ops.filter((op) => op.process !== FINAL_PROCESS));
  const found: Violation[] = [];
  let acknowledged = 0;
  let keysChecked = 0;
  for (const { key, op: final } of finals) {
    const writes = (keys.get(key) ?? []).filter(isWrite);
    acknowledged += writes.filter((w) => w.outcome === 'ok').length;
    if (!final) {
      found.push({ key, message: 'the final read of the key failed on every attempt, so its value is unknown', ops: [] });
      continue;
    }
    keysChecked++;
    const value = final.value;
    if (value !== null) {
      const source = writes.find((w) => w.f === 'set' && w.value === value);
      if (!source) {
        found.push({ key, message: `final value ${value} was never written to this key`, ops: [final] });
        continue;
      }
      if (source.outcome === 'fail') {
        found.push({ key, message: `final value ${value} comes from a SET that definitely failed`, ops: [source, final] });
        continue;
      }
      const later = supersedingWrites(effectiveEnd(source), writes, source, false);
      if (later.length > 0) {
        found.push({
          key,
          message:
            `final value ${value} (${describeOp(source)}) should have been replaced by ${later.length} acknowledged write(s) that ` +
            `began after it completed, e.g. ${describeOp(later[later.length - 1]!)}: those writes are lost`,
          ops: [source, ...sample(later), final],
        });
      }
      continue;
    }
    // Not found: the initial state or a DELETE must be the last write.
    const deletes = writes.filter((w) => w.f === 'delete' && w.outcome !== 'fail');
    const latestDelete = deletes.reduce<Op | null>((best, d) => (!best || effectiveEnd(d) > effectiveEnd(best) ? d : best), null);
    const candidateEnd = latestDelete ? effectiveEnd(latestDelete) : -Infinity;
    const later = supersedingWrites(candidateEnd, writes, null, true);
    if (later.length > 0) {
      const basis = latestDelete ? `the last DELETE (${describeOp(latestDelete)})` : 'the initial state (the key was never deleted)';
      found.push({
        key,
        message:
          `final read says not found, but ${later.length} acknowledged SET(s) began after ${basis} completed, ` +
          `e.g. ${describeOp(later[later.length - 1]!)}: those writes are lost`,
        ops: [...(latestDelete ? [latestDelete] : []), ...sample(later), final],
      });
    }
  }
  return classify(
    {
      id: 'lost-writes',
      title: '1. No acknowledged write lost',
      hard: true,
      counts: { keys: finals.length, keysChecked, acknowledgedWrites: acknowledged },
    },
    found,
    windows,
    strict,
    (v, a) => (v + a === 0 ? `every key's final value is one a write could have left last (${finals.length} keys, ${acknowledged} acknowledged writes)` : `${v} key(s) lost acknowledged writes outside partitions, ${a} inside partition windows`),
  );
}

/**
 * Verdict 2. A SET is "creating" when it was acknowledged and no other write to
 * the key (that did not fail) was invoked before it. Every GET invoked after a
 * creating SET completed must return its value or one that could be later:
 * the value of another SET, or "not found" if a DELETE, invoked before the GET
 * completed (any other write started after the creating one, so it may be later).
 */
export function checkReadAfterWrite(ops: readonly Op[], windows: readonly PartitionWindow[], strict: boolean): Verdict {
  const found: Violation[] = [];
  let creations = 0;
  let readsChecked = 0;
  for (const [key, list] of byKey(ops)) {
    const writes = list.filter((op) => isWrite(op) && op.outcome !== 'fail');
    if (writes.length === 0) continue;
    const first = writes.reduce((a, b) => (b.invoke < a.invoke ? b : a));
    if (first.f !== 'set' || first.outcome !== 'ok') continue;
    if (writes.some((w) => w !== first && w.invoke <= first.invoke)) continue;
    creations++;
    for (const get of list) {
      if (get.f !== 'get' || get.outcome !== 'ok' || get.invoke <= first.complete) continue;
      readsChecked++;
      if (get.value === first.value) continue;
      const explained =
        get.value === null
          ? writes.some((w) => w.f === 'delete' && w.invoke < get.complete)
          : writes.some((w) => w !== first && w.f === 'set' && w.value === get.value && w.invoke < get.complete);
      if (explained) continue;
      found.push({
        key,
        message:
          `${describeOp(get)} returned ${show(get.value)} after the key was created by ${describeOp(first)}, ` +
          `and no other write invoked before the read completed could explain it`,
        ops: [first, get],
      });
    }
  }
  return classify(
    {
      id: 'read-after-write',
      title: '2. Read-after-write for new keys',
      hard: true,
      counts: { creatingSets: creations, readsChecked },
    },
    found,
    windows,
    strict,
    (v, a) =>
      v + a === 0
        ? `${readsChecked} reads after ${creations} key creations saw the created value or a later one`
        : `${v} stale read(s) of new keys outside partitions, ${a} inside partition windows`,
  );
}

export interface KeyLinearizability {
  key: string;
  verdict: 'linearizable' | 'not-linearizable' | 'unknown';
  ops: number;
  steps: number;
  failure?: LinearizabilityFailure;
}

export interface LinearizabilityCheckOptions {
  /** Search budget per key (steps). */
  maxSteps?: number;
  /**
   * A write that took longer than this was retried by the client (the client's
   * request timeout): it may have been applied twice, once per attempt. Such
   * violations are flagged, since the register model allows one effect per op.
   */
  retryAfterMs?: number;
}

/**
 * Verdict 4: every key's history (SET, GET, DELETE as a register) must be
 * linearizable. In the default mode violations are anomalies, counted and
 * reported but not failing; `strict` (for a consensus mode) makes them fail.
 */
export function checkLinearizability(
  ops: readonly Op[],
  windows: readonly PartitionWindow[],
  strict: boolean,
  options: LinearizabilityCheckOptions = {},
): Verdict & { keys: KeyLinearizability[] } {
  const results: KeyLinearizability[] = [];
  const found: Violation[] = [];
  let retried = 0;
  for (const [key, list] of byKey(ops)) {
    const result = checkRegister(list, options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps });
    results.push({ key, verdict: result.verdict, ops: result.opsChecked, steps: result.steps, ...(result.failure ? { failure: result.failure } : {}) });
    if (!result.failure) continue;
    const byId = new Map(list.map((op) => [op.id, op]));
    const blocked = byId.get(result.failure.blocked)!;
    const tail = result.failure.linearized.slice(-4).map((id) => byId.get(id)!);
    const pending = result.failure.pending.map((id) => byId.get(id)!);
    // The write(s) that produced what the blocked read returned: the most telling ops of all.
    const sources =
      blocked.f !== 'get'
        ? []
        : blocked.value !== null
          ? list.filter((op) => op.f === 'set' && op.value === blocked.value)
          : list
              .filter((op) => op.f === 'delete' && op.outcome !== 'fail' && op.invoke < blocked.complete)
              .sort((a, b) => a.complete - b.complete)
              .slice(-2);
    const involved = [...new Map([...sources, ...tail, ...pending, blocked].map((op) => [op.id, op])).values()].sort((a, b) => a.invoke - b.invoke);
    let message = result.failure.message;
    const threshold = options.retryAfterMs;
    const slow = threshold === undefined ? [] : involved.filter((op) => isWrite(op) && op.outcome === 'ok' && op.complete - op.invoke > threshold);
    if (slow.length > 0) {
      retried++;
      message +=
        `. ${slow.map((op) => `#${op.id} (${op.f.toUpperCase()}, ${(op.complete - op.invoke).toFixed(0)} ms)`).join(', ')} outlasted the client's ` +
        `request timeout and was retried: a retry that is applied again after the first attempt took effect explains this`;
    }
    const violation: Violation = { key, message, ops: involved };
    const partition = overlappingPartition(involved.filter((op) => op.process !== FINAL_PROCESS), windows);
    if (partition !== undefined) violation.partition = partition;
    found.push(violation);
  }
  const unknown = results.filter((r) => r.verdict === 'unknown').length;
  const bad = found.length;
  const inPartitions = found.filter((v) => v.partition !== undefined).length;
  const retriedOutside = found.filter((v) => v.partition === undefined && /was retried/.test(v.message)).length;
  return {
    id: 'linearizability',
    title: '4. Per-key linearizability',
    hard: strict,
    status: bad > 0 ? (strict ? 'fail' : 'anomalies') : unknown > 0 ? 'unknown' : 'pass',
    summary:
      bad === 0
        ? `all ${results.length - unknown} keys checked are linearizable${unknown ? `; ${unknown} key(s) exceeded the search budget` : ''}`
        : `${bad} of ${results.length} keys are not linearizable: ${inPartitions} during a partition window, ` +
          `${bad - inPartitions} outside` +
          (bad > inPartitions ? ` (${retriedOutside} of them involve a write the client retried)` : '') +
          (strict ? '' : '; reported, not failing: the default mode does not promise linearizability') +
          (unknown ? `; ${unknown} key(s) exceeded the search budget` : ''),
    counts: {
      keys: results.length,
      linearizable: results.filter((r) => r.verdict === 'linearizable').length,
      notLinearizable: bad,
      unknown,
      duringPartitions: inPartitions,
      outsidePartitions: bad - inPartitions,
      involvingRetriedWrites: retried,
    },
    violations: strict ? found : [],
    anomalies: strict ? [] : found,
    keys: results,
  };
}

/** Splits violations into hard ones and partition-explained anomalies (hard too in strict mode). */
function classify(
  base: Pick<Verdict, 'id' | 'title' | 'hard' | 'counts'>,
  found: Violation[],
  windows: readonly PartitionWindow[],
  strict: boolean,
  summarize: (violations: number, anomalies: number) => string,
): Verdict {
  const violations: Violation[] = [];
  const anomalies: Violation[] = [];
  for (const violation of found) {
    const partition = overlappingPartition(violation.ops.filter((op) => op.process !== FINAL_PROCESS), windows);
    if (partition !== undefined) violation.partition = partition;
    if (partition !== undefined && !strict) anomalies.push(violation);
    else violations.push(violation);
  }
  return {
    ...base,
    status: violations.length > 0 ? 'fail' : anomalies.length > 0 ? 'anomalies' : 'pass',
    summary: summarize(violations.length, anomalies.length),
    counts: { ...base.counts, violations: violations.length, partitionAnomalies: anomalies.length },
    violations,
    anomalies,
  };
}
