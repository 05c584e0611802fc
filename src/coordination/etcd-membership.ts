// Membership, the replication factor and leadership kept in etcd: the
// consistent mode. Each node holds one key under a lease whose TTL is the
// failure timeout and keeps it alive every heartbeat interval; a node that
// dies or is cut off from etcd disappears when its lease ends. The key created
// first leads (etcd-view.ts), and a leader serves only while its lease is
// surely alive (leader-lease.ts), so two nodes never serve as leader at once.
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Etcd3, EtcdLeaseInvalidError, type Lease, type Namespace, type Watcher } from 'etcd3';
import type { CoordinatorStatus, EtcdMemberRecord, Gossip, NodeId, NodeInfo, RepairStatus } from '../protocol/schemas.js';
import { CLUSTER_NAME } from '../protocol/schemas.js';
import type { Logger } from '../common/logger.js';
import { replicationFactorMismatch, type MembershipEvent, type PeerView, type ReceiveResult } from '../membership/machine.js';
import { logMembershipEvent } from '../membership/driver.js';
import type { LeaderStatus, MembershipSource } from '../membership/source.js';
import { readView, type EtcdView } from './etcd-view.js';
import { leaseSafeUntil, leaseTtlSeconds } from './leader-lease.js';
import { endpointHealthy } from './endpoint-health.js';
import type { PlacementStore } from './placement-log.js';

const KEY_ROOT = 'warehouse13/clusters/';
const MEMBERS_PREFIX = 'members/';
const REPLICATION_FACTOR_KEY = 'replication-factor';
const PLACEMENT_KEY = 'placement';
const CONNECT_ATTEMPTS = 10;
const CONNECT_RETRY_MS = 500;

export class CoordinatorError extends Error {}

export interface EtcdMembershipOptions {
  self: NodeInfo;
  /** etcd client URLs, `http://HOST:PORT`. */
  endpoints: readonly string[];
  clusterName: string;
  replicationFactor: number;
  heartbeatIntervalMs: number;
  failureTimeoutMs: number;
  requestTimeoutMs: number;
  logger: Logger;
  repairStatus: () => RepairStatus;
}

function emptyView(): EtcdView {
  return { nodes: [], leader: null, term: 0, repairs: new Map(), revisions: new Map() };
}

export class EtcdMembership extends EventEmitter<{ event: [MembershipEvent]; rejected: [string] }> implements MembershipSource, PlacementStore {
  readonly mode = 'etcd' as const;
  private readonly namespace: Namespace;
  private readonly memberKey: string;
  private lease: Lease | null = null;
  private leaseId: string | null = null;
  /** Create revision of our own key: our candidacy, and the term while we lead. */
  private ownRevision: number | null = null;
  /** Monotonic ms until which our lease is surely alive in etcd. */
  private leaseValidUntil = -Infinity;
  /** Monotonic ms of the last read of the member keys that succeeded. */
  private lastRead = -Infinity;
  private view: EtcdView = emptyView();
  private term = 0;
  private published = '';
  private health = new Map<string, boolean>();
  private timer: NodeJS.Timeout | undefined;
  private watcher: Watcher | null = null;
  private stopped = false;
  private registering: Promise<void> | null = null;
  private busy = { keepalive: false, read: false, health: false };

  private constructor(
    private readonly client: Etcd3,
    private readonly options: EtcdMembershipOptions,
  ) {
    super();
    this.namespace = client.namespace(`${KEY_ROOT}${options.clusterName}/`);
    this.memberKey = `${MEMBERS_PREFIX}${options.self.id}`;
  }

  /**
   * Connects to etcd and stores the replication factor if this cluster has
   * none yet, in one transaction; a node with another factor is refused with
   * gossip mode's words.
   */
  static async open(options: EtcdMembershipOptions): Promise<EtcdMembership> {
    const client = new Etcd3({
      hosts: [...options.endpoints],
      // Unary calls get the request timeout; the watch stream lives on.
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + options.requestTimeoutMs }),
    });
    const membership = new EtcdMembership(client, options);
    try {
      await membership.checkReplicationFactor();
    } catch (error) {
      client.close();
      throw error;
    }
    return membership;
  }

  private async checkReplicationFactor(): Promise<void> {
    const { replicationFactor } = this.options;
    let lastError = '';
    for (let attempt = 1; attempt <= CONNECT_ATTEMPTS; attempt++) {
      try {
        const answer = await this.namespace
          .if(REPLICATION_FACTOR_KEY, 'Create', '==', 0)
          .then(this.namespace.put(REPLICATION_FACTOR_KEY).value(String(replicationFactor)))
          .else(this.namespace.get(REPLICATION_FACTOR_KEY))
          .commit();
        if (answer.succeeded) return;
        const stored = Number(answer.responses[0]?.response_range?.kvs[0]?.value.toString());
        if (stored !== replicationFactor) throw new CoordinatorError(replicationFactorMismatch(stored, replicationFactor));
        return;
      } catch (error) {
        if (error instanceof CoordinatorError) throw error;
        lastError = (error as Error).message;
        if (attempt < CONNECT_ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, CONNECT_RETRY_MS));
      }
    }
    throw new CoordinatorError(`cannot reach etcd at ${this.options.endpoints.join(', ')} (${lastError})`);
  }

  async start(): Promise<void> {
    await this.register();
    await this.read();
    this.timer = setInterval(() => this.tick(), this.options.heartbeatIntervalMs);
    this.tick();
    this.namespace
      .watch()
      .prefix(MEMBERS_PREFIX)
      .create()
      .then((watcher) => {
        if (this.stopped) return void watcher.cancel();
        this.watcher = watcher;
        // Joins, departures and repair reports are seen at once, not at the next tick.
        watcher.on('put', () => void this.read());
        watcher.on('delete', () => void this.read());
        watcher.on('error', (error) => this.options.logger.debug({ err: error.message }, 'etcd watch failed'));
      })
      .catch((error: Error) => this.options.logger.warn({ err: error.message }, 'cannot watch etcd; reading it every heartbeat'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.watcher?.cancel().catch(() => {});
    // Revoked rather than left to expire, so that a new leader is elected at once.
    await this.lease?.revoke().catch(() => {});
    this.client.close();
  }

  status(): LeaderStatus {
    const now = performance.now();
    const isLeader =
      !this.stopped &&
      this.ownRevision !== null &&
      this.view.leader === this.options.self.id &&
      this.view.revisions.get(this.options.self.id) === this.ownRevision &&
      now < this.leaseValidUntil;
    // A view older than the failure timeout may name a leader that is gone;
    // and naming ourselves while our lease may have ended would send clients
    // in circles.
    const stale = now - this.lastRead > this.options.failureTimeoutMs;
    const leader = stale || (this.view.leader === this.options.self.id && !isLeader) ? null : this.view.leader;
    return { leader, term: this.term, isLeader };
  }

  aliveNodes(): readonly NodeInfo[] {
    return this.view.nodes;
  }

  aliveIds(): readonly NodeId[] {
    return this.view.nodes.map((node) => node.id);
  }

  /** Reads in this mode ask and repair every owner before answering: none is served from one copy. */
  readLease(): null {
    return null;
  }

  /** Members present in etcd; "heard" when this node last read the membership from etcd. */
  peerView(): readonly PeerView[] {
    const lastHeard = Date.now() - (performance.now() - this.lastRead);
    return this.view.nodes.filter((node) => node.id !== this.options.self.id).map((node) => ({ id: node.id, lastHeard, term: null, departed: false }));
  }

  peerRepairs(): ReadonlyMap<NodeId, RepairStatus | undefined> {
    return this.view.repairs;
  }

  /** The term is a revision etcd has already made durable on a quorum. */
  durableTerm(): Promise<number> {
    return Promise.resolve(this.status().term);
  }

  receiveGossip(): Promise<{ result: ReceiveResult; answer: Gossip }> {
    const { leader, term } = this.status();
    return Promise.resolve({
      result: { accepted: false, reason: `${this.options.self.id} is in the consistent mode: its cluster is kept in etcd, not gossiped` },
      answer: { cluster: CLUSTER_NAME, from: this.options.self, leader, term, replicationFactor: this.options.replicationFactor, nodes: [...this.view.nodes] },
    });
  }

  coordinatorStatus(): CoordinatorStatus {
    return {
      clusterName: this.options.clusterName,
      endpoints: this.options.endpoints.map((url) => ({ url, healthy: this.health.get(url) ?? false })),
      connected: performance.now() < this.leaseValidUntil,
    };
  }

  async readPlacement(): Promise<{ value: string | null; revision: number }> {
    const answer = await this.namespace.get(PLACEMENT_KEY).exec();
    const kv = answer.kvs[0];
    return { value: kv ? kv.value.toString() : null, revision: kv ? Number(kv.mod_revision) : 0 };
  }

  /** Only while our own member key stands: a node whose lease ended may not rewrite what its successors rely on. */
  async writePlacement(value: string, revision: number): Promise<number | null> {
    if (this.ownRevision === null) return null;
    const answer = await this.namespace
      .if(PLACEMENT_KEY, 'Mod', '==', revision)
      .and(this.memberKey, 'Create', '==', this.ownRevision)
      .then(this.namespace.put(PLACEMENT_KEY).value(value))
      .commit();
    return answer.succeeded ? Number(answer.header.revision) : null;
  }

  private tick(): void {
    if (this.stopped) return;
    void this.keepAlive();
    void this.read();
    void this.checkHealth();
  }

  private record(): string {
    const record: EtcdMemberRecord = { node: this.options.self, repair: this.options.repairStatus() };
    return JSON.stringify(record);
  }

  /** A fresh lease and a fresh key: a new candidacy, so a later term if this node leads again. */
  private register(): Promise<void> {
    this.registering ??= (async () => {
      this.ownRevision = null;
      this.lease?.release();
      const ttlSeconds = leaseTtlSeconds(this.options.failureTimeoutMs);
      const lease = this.namespace.lease(ttlSeconds, { autoKeepAlive: false });
      lease.on('lost', () => {});
      const sentAt = performance.now();
      const leaseId = await lease.grant();
      this.lease = lease;
      this.leaseId = leaseId;
      this.leaseValidUntil = leaseSafeUntil(sentAt, this.options.failureTimeoutMs);
      // A key left by an earlier run of this node (the same HOST:PORT, which
      // we now listen on, so that run is over) would carry its old term.
      await this.namespace.delete().key(this.memberKey).exec();
      const value = this.record();
      const put = await this.namespace.put(this.memberKey).value(value).lease(leaseId).exec();
      this.published = value;
      this.ownRevision = Number(put.header.revision);
      this.options.logger.info({ lease: leaseId, revision: this.ownRevision, cluster: this.options.clusterName }, 'registered in etcd');
    })().finally(() => (this.registering = null));
    return this.registering;
  }

  private async keepAlive(): Promise<void> {
    if (this.busy.keepalive || this.registering) return;
    this.busy.keepalive = true;
    try {
      const lease = this.lease;
      // A registration that failed after its grant leaves a lease with no key: alive in etcd's eyes, absent
      // from every view; keeping that lease alive would keep this node out of the cluster for good.
      if (!lease || this.ownRevision === null) return await this.register();
      const sentAt = performance.now();
      const answer = await lease.keepaliveOnce({ deadline: Date.now() + this.options.requestTimeoutMs });
      if (lease !== this.lease) return;
      this.leaseValidUntil = Math.max(this.leaseValidUntil, leaseSafeUntil(sentAt, Math.min(this.options.failureTimeoutMs, Number(answer.TTL) * 1000)));
      await this.publishRepair();
    } catch (error) {
      if (this.stopped) return;
      if (error instanceof EtcdLeaseInvalidError) {
        this.options.logger.warn({ lease: this.leaseId }, 'etcd lease expired; registering again');
        this.lease = null;
        await this.register().catch((failure: Error) => this.options.logger.warn({ err: failure.message }, 'cannot register in etcd'));
      } else {
        this.options.logger.debug({ err: (error as Error).message }, 'etcd keepalive failed');
      }
    } finally {
      this.busy.keepalive = false;
    }
  }

  /** Our repair state, for the cluster's STATUS, written only when it changed. */
  private async publishRepair(): Promise<void> {
    const value = this.record();
    if (value === this.published || this.ownRevision === null || this.leaseId === null) return;
    const answer = await this.namespace
      .if(this.memberKey, 'Create', '==', this.ownRevision)
      .then(this.namespace.put(this.memberKey).value(value).lease(this.leaseId))
      .commit();
    if (answer.succeeded) this.published = value;
  }

  private async read(): Promise<void> {
    if (this.busy.read || this.stopped) return;
    this.busy.read = true;
    try {
      const startedAt = performance.now();
      const answer = await this.namespace.getAll().prefix(MEMBERS_PREFIX).exec();
      const view = readView(answer.kvs.map((kv) => ({ value: kv.value.toString(), createRevision: Number(kv.create_revision) })));
      this.lastRead = startedAt;
      this.apply(view);
      const mine = view.revisions.get(this.options.self.id);
      // Our key is gone while we thought our lease alive: someone deleted it.
      if (this.ownRevision !== null && mine !== this.ownRevision && !this.registering) {
        this.options.logger.warn({ revision: this.ownRevision }, 'our etcd key disappeared; registering again');
        this.lease = null;
        void this.register().catch((error: Error) => this.options.logger.warn({ err: error.message }, 'cannot register in etcd'));
      }
    } catch (error) {
      this.options.logger.debug({ err: (error as Error).message }, 'etcd read failed');
    } finally {
      this.busy.read = false;
    }
  }

  private apply(view: EtcdView): void {
    const before = new Set(this.view.nodes.map((node) => node.id));
    const after = new Set(view.nodes.map((node) => node.id));
    const previous = this.view.leader;
    this.view = view;
    // A term never goes down on a node (the newest leader's key is the
    // youngest leader key): the max is belt and braces against a wiped etcd.
    this.term = Math.max(this.term, view.term);
    const events: MembershipEvent[] = [];
    for (const node of view.nodes) if (!before.has(node.id) && node.id !== this.options.self.id) events.push({ type: 'node-up', node });
    for (const id of before) if (!after.has(id) && id !== this.options.self.id) events.push({ type: 'node-down', node: id });
    if (view.leader !== null && view.leader !== previous) events.push({ type: 'leader', leader: view.leader, term: view.term, previous });
    for (const event of events) {
      logMembershipEvent(this.options.logger, event);
      this.emit('event', event);
    }
  }

  private async checkHealth(): Promise<void> {
    if (this.busy.health) return;
    this.busy.health = true;
    try {
      const results = await Promise.all(this.options.endpoints.map((url) => endpointHealthy(url, this.options.requestTimeoutMs)));
      this.options.endpoints.forEach((url, i) => this.health.set(url, results[i]!));
    } finally {
      this.busy.health = false;
    }
  }
}
