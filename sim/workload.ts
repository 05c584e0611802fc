// Simulated clients: each one sends SET, DELETE and GET requests (some
// conditional, every write with an idempotency key) to the Coordinator of the
// leader its node redirects it to (in a partition, its side's leader), retries
// a write that failed or timed out with the same key as the real client does,
// and records every request in the history.
import type { NodeId, Version, WriteResultKind } from '../src/protocol/schemas.js';
import type { Condition } from '../src/replication/decide.js';
import type { WriteOutcome } from '../src/replication/coordinator.js';
import { pick, randomInt, uuid4, type Rng } from '../src/common/random.js';
import type { Scheduler } from './scheduler.js';
import type { NodeProcess, SimCluster } from './cluster.js';

export interface Op {
  id: number;
  client: number;
  key: string;
  f: 'set' | 'delete' | 'get';
  /** SET: the document sent; GET: the document read (null: absent). */
  value: string | null;
  requestId: string | null;
  condition: Condition | null;
  invoke: number;
  complete: number;
  /** ok: answered; fail: did not happen; info: may or may not have happened. */
  status: 'ok' | 'fail' | 'info';
  result: WriteResultKind | WriteOutcome['kind'] | 'found' | 'absent' | null;
  /** The version answered (a write's, or the one read). */
  version: Version | null;
  node: NodeId | null;
  attempts: number;
  error: string | null;
}

export interface WorkloadOptions {
  clients: number;
  keys: number;
  durationMs: number;
  maxThinkMs: number;
  /** A client's deadline for one attempt. */
  timeoutMs: number;
  /** Attempts of a write before its outcome is unknown. */
  attempts: number;
}

export const RETRY_PAUSE_MS = 200;

type Attempt = { status: 'ok'; outcome: WriteOutcome | { found: boolean; value?: string; version?: Version } } | { status: 'fail' | 'info'; error: string };

export async function runClients(scheduler: Scheduler, cluster: SimCluster, rng: (label: string) => Rng, options: WorkloadOptions): Promise<Op[]> {
  const keyRng = rng('keys');
  const keys = Array.from({ length: options.keys }, () => uuid4(keyRng));
  const history: Op[] = [];
  await Promise.all(Array.from({ length: options.clients }, (_, client) => runClient(client, rng(`client-${client}`))));
  return history;

  async function runClient(client: number, random: Rng): Promise<void> {
    const seen = new Map<string, Version>();
    // The node this client talks to; it moves to another when that one is down, as the client's failover does.
    let via = pick(random, cluster.ids);
    const leader = () => {
      if (!cluster.node(via).process && cluster.up().length > 0) via = pick(random, cluster.up()).id;
      return cluster.leaderFor(via);
    };
    for (let n = 0; ; n++) {
      await scheduler.sleep(randomInt(random, 1, options.maxThinkMs));
      if (scheduler.elapsed() >= options.durationMs) return;
      const key = pick(random, keys);
      const roll = random();
      const f = roll < 0.5 ? 'set' : roll < 0.65 ? 'delete' : 'get';
      const known = seen.get(key);
      const conditionRoll = random();
      const condition: Condition | null =
        f === 'get' ? null : conditionRoll < 0.1 ? { ifAbsent: true } : conditionRoll < 0.2 && known ? { ifVersion: known } : null;
      const op: Op = {
        id: history.length,
        client,
        key,
        f,
        value: f === 'set' ? JSON.stringify({ client, n }) : null,
        requestId: f === 'get' ? null : uuid4(random),
        condition: f === 'delete' && condition && 'ifAbsent' in condition ? null : condition,
        invoke: scheduler.elapsed(),
        complete: -1,
        status: 'info',
        result: null,
        version: null,
        node: null,
        attempts: 0,
        error: null,
      };
      history.push(op);
      await perform(op, leader);
      op.complete = scheduler.elapsed();
      if (op.version && op.status === 'ok') seen.set(key, op.version);
    }
  }

  async function perform(op: Op, leader: () => NodeProcess | null): Promise<void> {
    const tries = op.f === 'get' ? 1 : options.attempts;
    for (let attempt = 1; attempt <= tries; attempt++) {
      op.attempts = attempt;
      const result = await once(op, leader());
      if (result.status === 'ok') {
        op.status = 'ok';
        record(op, result.outcome);
        return;
      }
      op.error = result.error;
      await scheduler.sleep(RETRY_PAUSE_MS);
    }
    // A write refused by the leader may still have landed on some replica.
    op.status = op.f === 'get' ? 'fail' : 'info';
  }

  function once(op: Op, leader: NodeProcess | null): Promise<Attempt> {
    if (!leader) return Promise.resolve({ status: 'fail', error: 'no leader' });
    op.node = leader.node;
    const request =
      op.f === 'get'
        ? cluster.read(leader, op.key)
        : leader.coordinator.write(op.key, { value: op.value, requestId: op.requestId!, ...(op.condition ? { condition: op.condition } : {}) });
    return new Promise<Attempt>((resolve) => {
      const cancel = scheduler.after(options.timeoutMs, () => resolve({ status: 'info', error: 'timed out' }));
      request.then(
        (outcome) => {
          cancel();
          resolve({ status: 'ok', outcome });
        },
        (error: Error) => {
          cancel();
          resolve({ status: 'info', error: error.message });
        },
      );
    });
  }
}

function record(op: Op, outcome: WriteOutcome | { found: boolean; value?: string; version?: Version }): void {
  if ('found' in outcome) {
    op.result = outcome.found ? 'found' : 'absent';
    op.value = outcome.value ?? null;
    op.version = outcome.version ?? null;
    return;
  }
  if (outcome.kind === 'written') {
    op.result = outcome.result;
    op.version = outcome.version;
  } else op.result = outcome.kind;
}
