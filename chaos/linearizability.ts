// Per-key linearizability of a register, checked with the Wing & Gong
// algorithm as improved by Lowe ("just-in-time linearisation" with a cache of
// visited configurations), the algorithm Knossos and Porcupine use.
//
// The history of one key is a list of operations with an invocation time and,
// for definite operations, a completion time. A history is linearizable if
// every operation can be given one instant (its linearization point) between
// its invocation and its completion so that, in the order of those instants,
// the operations are a legal sequential run of the model: a register whose
// state is a document or "absent", where SET v writes v, DELETE writes absent,
// and GET returns the current state. The store is held to its answers too: a
// SET answered `created` needs the key absent at its linearization point,
// `updated` needs it present; a DELETE answered `deleted` needs it present,
// `not-found` needs it absent (and changes nothing).
//
// The search walks the events in time order. At a call event it tries to
// linearize that operation now (if the model allows it and the pair
// (set of linearized ops, model state) was never explored before); at a return
// event of an operation not yet linearized it is too late, so it backtracks.
// It succeeds when every definite operation is linearized.
//
// Unknown (`info`) operations have no return event: they may take effect at any
// point after their invocation, or never (which is the same as "after every
// observed operation", so the search stops without them). Failed operations
// never happened and are left out. An info GET constrains nothing and is left
// out; so is an info SET whose value no GET ever returned, since taking effect
// could only make later reads harder to explain - unless some answer needs the
// key present (`updated`, `deleted`), which such a SET may explain.

import type { Op } from './history.js';

export type RegisterOp = Pick<Op, 'id' | 'f' | 'value' | 'outcome' | 'invoke' | 'complete'> & Partial<Pick<Op, 'process' | 'key' | 'result'>>;

export interface LinearizabilityFailure {
  /** The longest prefix of operations (ids, in linearization order) that could be linearized. */
  linearized: number[];
  /** The register's state after that prefix: the document, or null for absent. */
  state: string | null;
  /** The operation whose completion was reached before it could take effect. */
  blocked: number;
  /** Operations pending at that moment (invoked, not linearized), the blocked one included. */
  pending: number[];
  /** A person-readable explanation. */
  message: string;
}

export interface LinearizabilityResult {
  verdict: 'linearizable' | 'not-linearizable' | 'unknown';
  /** Operations the search had to place (after dropping fail ops, info reads and unread info writes). */
  opsChecked: number;
  /** Search steps taken; the budget bounds it. */
  steps: number;
  failure?: LinearizabilityFailure;
}

export interface LinearizabilityOptions {
  /** Give up (verdict `unknown`) after this many search steps. */
  maxSteps?: number;
}

const DEFAULT_MAX_STEPS = 20_000_000;

/** The register model: the state is the document text, or null for absent. */
function step(state: string | null, op: RegisterOp): { ok: boolean; next: string | null } {
  // Only a definite answer constrains; an info op's answer was never seen.
  const result = op.outcome === 'ok' ? op.result : undefined;
  switch (op.f) {
    case 'set':
      return { ok: result === 'created' ? state === null : result === 'updated' ? state !== null : true, next: op.value };
    case 'delete':
      if (result === 'not-found') return { ok: state === null, next: null };
      return { ok: result === 'deleted' ? state !== null : true, next: null };
    case 'get':
      return { ok: op.value === state, next: state };
  }
}

/** Drops what cannot constrain the search: failed ops, info reads, info writes nobody read. */
export function relevantOps(ops: readonly RegisterOp[]): RegisterOp[] {
  const read = new Set<string>();
  for (const op of ops) if (op.f === 'get' && op.outcome === 'ok' && op.value !== null) read.add(op.value);
  const needsPresence = ops.some((op) => op.outcome === 'ok' && (op.result === 'updated' || op.result === 'deleted'));
  return ops.filter((op) => {
    if (op.outcome === 'fail') return false;
    if (op.outcome === 'info' && op.f === 'get') return false;
    if (op.outcome === 'info' && op.f === 'set' && !needsPresence && !read.has(op.value ?? '')) return false;
    return true;
  });
}

// 2 × 32-bit Zobrist hashing of the linearized set; exact comparison on a hash hit.
function zobrist(n: number): Uint32Array {
  const table = new Uint32Array(2 * n);
  let x = 0x9e3779b9;
  for (let i = 0; i < table.length; i++) {
    // xorshift32
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    table[i] = x;
  }
  return table;
}

export function checkRegister(allOps: readonly RegisterOp[], options: LinearizabilityOptions = {}): LinearizabilityResult {
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  const ops = relevantOps(allOps);
  const n = ops.length;
  if (n === 0) return { verdict: 'linearizable', opsChecked: 0, steps: 0 };

  // Events: 0..n-1 are calls, n..2n-1 returns (info ops have none). Sorted by time,
  // calls before returns at equal times (the permissive reading of a tie).
  const events: number[] = [];
  for (let i = 0; i < n; i++) {
    events.push(i);
    if (ops[i]!.outcome === 'ok') events.push(n + i);
  }
  const timeOf = (e: number) => (e < n ? ops[e]!.invoke : ops[e - n]!.complete);
  events.sort((a, b) => timeOf(a) - timeOf(b) || (a < n ? 0 : 1) - (b < n ? 0 : 1) || a - b);

  // A doubly linked list over the events with a head sentinel (index 2n).
  const HEAD = 2 * n;
  const next = new Int32Array(2 * n + 1).fill(-1);
  const prev = new Int32Array(2 * n + 1).fill(-1);
  let last = HEAD;
  for (const e of events) {
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  const hasReturn = (i: number) => ops[i]!.outcome === 'ok';
  const lift = (call: number) => {
    next[prev[call]!] = next[call]!;
    if (next[call] !== -1) prev[next[call]!] = prev[call]!;
    if (hasReturn(call)) {
      const ret = n + call;
      next[prev[ret]!] = next[ret]!;
      if (next[ret] !== -1) prev[next[ret]!] = prev[ret]!;
    }
  };
  const unlift = (call: number) => {
    if (hasReturn(call)) {
      const ret = n + call;
      if (next[ret] !== -1) prev[next[ret]!] = ret;
      next[prev[ret]!] = ret;
    }
    if (next[call] !== -1) prev[next[call]!] = call;
    next[prev[call]!] = call;
  };

  // State ids for the cache: 0 is absent.
  const stateIds = new Map<string | null, number>([[null, 0]]);
  const stateId = (state: string | null) => {
    let id = stateIds.get(state);
    if (id === undefined) {
      id = stateIds.size;
      stateIds.set(state, id);
    }
    return id;
  };

  const words = Math.ceil(n / 32);
  const bits = new Uint32Array(words);
  const table = zobrist(n);
  let h1 = 0;
  let h2 = 0;
  const cache = new Map<string, Uint32Array[]>();
  /** Adds (bits, state) to the cache; false if it was already there. */
  const remember = (sid: number): boolean => {
    const key = `${h1}:${h2}:${sid}`;
    const bucket = cache.get(key);
    if (bucket) {
      for (const seen of bucket) {
        let same = true;
        for (let w = 0; w < words; w++) {
          if (seen[w] !== bits[w]) {
            same = false;
            break;
          }
        }
        if (same) return false;
      }
      bucket.push(bits.slice());
    } else {
      cache.set(key, [bits.slice()]);
    }
    return true;
  };
  const toggle = (i: number) => {
    bits[i >>> 5]! ^= 1 << (i & 31);
    h1 = (h1 ^ table[2 * i]!) >>> 0;
    h2 = (h2 ^ table[2 * i + 1]!) >>> 0;
  };

  let remainingDefinite = 0;
  for (const op of ops) if (op.outcome === 'ok') remainingDefinite++;

  const stack: { call: number; state: string | null }[] = [];
  let state: string | null = null;
  let entry = next[HEAD]!;
  let steps = 0;
  let best: { depth: number; linearized: number[]; state: string | null; blocked: number; pending: number[] } | null = null;

  while (remainingDefinite > 0) {
    if (++steps > maxSteps) return { verdict: 'unknown', opsChecked: n, steps };
    if (entry !== -1 && entry < n) {
      const op = ops[entry]!;
      const { ok, next: nextState } = step(state, op);
      if (ok) {
        toggle(entry);
        if (remember(stateId(nextState))) {
          stack.push({ call: entry, state });
          state = nextState;
          lift(entry);
          if (op.outcome === 'ok') remainingDefinite--;
          entry = next[HEAD]!;
          continue;
        }
        toggle(entry);
      }
      entry = next[entry]!;
      continue;
    }
    // A return event (or the end of the list): the pending op missed its chance. Backtrack.
    if (entry !== -1 && (!best || stack.length > best.depth)) {
      const pending: number[] = [];
      for (let e = next[HEAD]!; e !== -1 && e !== entry; e = next[e]!) if (e < n) pending.push(ops[e]!.id);
      best = { depth: stack.length, linearized: stack.map((s) => ops[s.call]!.id), state, blocked: ops[entry - n]!.id, pending };
    }
    const top = stack.pop();
    if (!top) break;
    const op = ops[top.call]!;
    state = top.state;
    toggle(top.call);
    unlift(top.call);
    if (op.outcome === 'ok') remainingDefinite++;
    entry = next[top.call]!;
  }

  if (remainingDefinite === 0) return { verdict: 'linearizable', opsChecked: n, steps };
  const failure = best ?? { depth: 0, linearized: [], state: null, blocked: ops[0]!.id, pending: [] };
  const blockedOp = ops.find((op) => op.id === failure.blocked)!;
  return {
    verdict: 'not-linearizable',
    opsChecked: n,
    steps,
    failure: {
      linearized: failure.linearized,
      state: failure.state,
      blocked: failure.blocked,
      pending: failure.pending,
      message: explain(blockedOp, failure.state, failure.linearized.length),
    },
  };
}

function show(value: string | null): string {
  return value === null ? 'absent' : value;
}

function explain(op: RegisterOp, state: string | null, prefix: number): string {
  const answered = op.result && op.f !== 'get' ? ` answered ${op.result}` : '';
  const what = (op.f === 'get' ? `GET returning ${show(op.value)}` : op.f === 'set' ? `SET ${op.value}` : 'DELETE') + answered;
  return (
    `after the longest linearizable prefix (${prefix} ops, register = ${show(state)}), ` +
    `op #${op.id} (${what}, invoked at ${op.invoke.toFixed(1)} ms) completed at ${op.complete.toFixed(1)} ms ` +
    `but no order of the pending operations lets it take effect`
  );
}
