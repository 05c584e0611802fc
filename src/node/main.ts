// Wires one node together: storage, membership, replication and the HTTP
// server. No logic of its own beyond start-up order and shutdown.
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { CLUSTER_NAME, type ClusterRepairStatus, type Heartbeat, type NodeInfo, type RepairStatus } from '../protocol/schemas.js';
import { createLogger } from '../common/logger.js';
import { formatDuration } from '../common/duration.js';
import { ReplicaStore } from '../storage/store.js';
import { MEMBERSHIP_KEY, openGossipMembership } from '../membership/gossip.js';
import { gossipOver } from '../membership/driver.js';
import { realClock, realTimers } from '../common/timers.js';
import { CLUSTER_KEY, stampMismatch, type ClusterStamp } from '../membership/identity.js';
import type { MembershipSource } from '../membership/source.js';
import { PeerClient } from '../transport/peer-client.js';
import { Fence } from '../coordination/fence.js';
import { PlacementLog, type PlacementStore } from '../coordination/placement-log.js';
import { Reachability } from '../coordination/reachability.js';
import { ReplicaBatcher } from '../replication/batcher.js';
import { Coordinator } from '../replication/coordinator.js';
import { RepairService } from '../replication/repair.js';
import { replicaEndpoints } from '../replication/endpoints.js';
import { buildServer } from '../server/app.js';
import { LATENCY_BUCKETS, NodeMetrics } from '../observability/metrics.js';
import { registerMetrics } from '../observability/routes.js';
import { TrafficMeter } from '../observability/traffic.js';
import { ClusterWatch } from '../dashboard/cluster-watch.js';
import { locate } from '../dashboard/locate.js';
import { registerDashboard } from '../dashboard/routes.js';
import { loadClusterSecret, type ClusterSecret } from '../security/secret.js';
import { loadTokensFile } from '../security/tokens.js';
import type { NodeConfig } from './config.js';

const JOINED_KEY = 'joined';
const LAST_ALIVE_KEY = 'lastAlive';

export class StartupError extends Error {}

export interface RunningNode {
  stop(): Promise<void>;
  /** Resolves with a reason when the cluster refuses this node after start-up. */
  rejected: Promise<string>;
}

function warnings(aliveCount: number, replicationFactor: number): string[] {
  return aliveCount < replicationFactor
    ? [`cluster size (${aliveCount}) is smaller than a replication factor (${replicationFactor})!`]
    : [];
}

/** Sums the repair state of every alive node, as this node last heard it. */
function clusterRepair(alive: readonly string[], reports: readonly (RepairStatus | undefined)[]): ClusterRepairStatus {
  const members = [...alive].sort().join(',');
  const total: ClusterRepairStatus = { underReplicated: 0, transfersInProgress: 0, hintsPending: 0, inSync: true };
  for (const report of reports) {
    if (!report) {
      total.inSync = false;
      continue;
    }
    total.underReplicated += report.underReplicated;
    total.transfersInProgress += report.transfersInProgress;
    total.hintsPending += report.hintsPending;
    total.inSync &&= report.syncedFor.join(',') === members;
  }
  total.inSync &&= total.underReplicated === 0 && total.transfersInProgress === 0 && total.hintsPending === 0;
  return total;
}

export async function startNode(config: NodeConfig): Promise<RunningNode> {
  const logger = createLogger('warehouse-node', config.logLevel);
  const store = ReplicaStore.open(config.dataDir);
  const self: NodeInfo = { id: config.id, joined: store.getMeta<number>(JOINED_KEY) ?? Date.now() };
  const lastAlive = store.getMeta<number>(LAST_ALIVE_KEY);
  if (lastAlive !== undefined && store.count() > 0 && Date.now() - lastAlive > config.tombstoneGraceMs) {
    // Its peers have purged the tombstones of deletes it never saw: its old
    // copies would bring those documents back.
    await store.close();
    throw new StartupError(
      `the data in ${config.dataDir} is ${formatDuration(Date.now() - lastAlive)} old, older than the tombstone grace period (${formatDuration(config.tombstoneGraceMs)}): ` +
        'deleted documents could come back. Move the data dir away and start empty (the cluster copies back what this node should hold), or raise --tombstone-grace',
    );
  }

  // A gossip node founds a cluster when it joins none and remembers none; in the
  // consistent mode etcd knows the cluster, and every node needs the shared secret.
  const founding = !config.coordinator && !config.join && store.getMeta(MEMBERSHIP_KEY) === undefined;
  const stamp = store.getMeta<ClusterStamp>(CLUSTER_KEY) ?? (founding ? { id: randomUUID(), replicationFactor: config.replicationFactor } : undefined);
  let clusterSecret: ClusterSecret;
  try {
    const mismatch = stampMismatch(stamp, config.replicationFactor, config.dataDir);
    if (mismatch) throw new StartupError(mismatch);
    clusterSecret = loadClusterSecret({ file: config.clusterSecretFile, env: config.clusterSecretEnv, dataDir: config.dataDir, founding });
  } catch (error) {
    await store.close();
    throw new StartupError((error as Error).message);
  }

  // Its sources are read at scrape time only, once the node runs; the peer client reports to it from its first request.
  const metrics = new NodeMetrics({
    replicationFactor: config.replicationFactor,
    status: () => membership.status(),
    aliveNodes: () => membership.aliveIds().length,
    repair: () => repair.status(),
    repairTotals: () => repair.totals,
    records: () => store.count(),
    storageBytes: () => store.sizeBytes(),
    ownCopyReads: () => coordinator.ownCopyReads,
  });
  const peers = new PeerClient({
    timeoutMs: config.requestTimeoutMs,
    secret: clusterSecret.secret,
    localAddress: isIP(config.host) ? config.host : undefined,
    tls: config.tls ? { ca: config.tls.ca } : null,
    observe: (peer, path, seconds, ok) => metrics.peerRequest(peer, path, seconds, ok),
  });
  const membershipOptions = {
    self,
    replicationFactor: config.replicationFactor,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    failureTimeoutMs: config.failureTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    logger,
    repairStatus: () => repair.status(),
  };
  let membership: MembershipSource;
  let placementStore: PlacementStore | null = null;
  try {
    if (config.coordinator) {
      // etcd's client (gRPC, protobufs) is loaded only by nodes that use it: it adds a third to a node's start-up CPU.
      const { EtcdMembership } = await import('../coordination/etcd-membership.js');
      const etcd = await EtcdMembership.open({ ...membershipOptions, endpoints: config.coordinator.endpoints, clusterName: config.coordinator.clusterName });
      membership = placementStore = etcd;
    } else {
      membership = await openGossipMembership({
        ...membershipOptions,
        join: config.join ? { target: config.join, peers } : null,
        store,
        gossip: gossipOver(peers, (peer) => peers.heard(peer)),
        clock: realClock,
        timers: realTimers,
        clusterId: stamp?.id ?? null,
      });
    }
  } catch (error) {
    await peers.close();
    await store.close();
    throw new StartupError((error as Error).message);
  }
  await store.putMeta(JOINED_KEY, self.joined);
  if (stamp) await store.putMeta(CLUSTER_KEY, stamp);

  const aliveIds = () => membership.aliveIds();
  const isLeader = () => membership.status().isLeader;
  const reachability = placementStore
    ? new Reachability(peers, { self: self.id, failureTimeoutMs: config.failureTimeoutMs, probeIntervalMs: config.heartbeatIntervalMs, aliveIds, isLeader })
    : null;
  const placement =
    placementStore && reachability
      ? new PlacementLog(placementStore, {
          replicationFactor: config.replicationFactor,
          requestTimeoutMs: config.requestTimeoutMs,
          logger,
          isLeader,
          aliveIds: () => reachability.reachable(),
          repairs: () => new Map([...membership.peerRepairs(), [self.id, repair.status()]]),
        })
      : null;
  const fence = new Fence(store);
  const repair: RepairService = new RepairService(
    { self: self.id, replicationFactor: config.replicationFactor, aliveNodes: aliveIds, store, peers, logger, keepHandedOffCopies: placement ? () => placement.unsettled() : undefined },
    {
      intervalMs: config.antiEntropyIntervalMs,
      hintIntervalMs: config.heartbeatIntervalMs,
      tombstoneGraceMs: config.tombstoneGraceMs,
      batchSize: 500,
      ratePerSecond: config.repairRatePerSecond,
    },
  );
  membership.on('event', (event) => {
    if (event.type === 'node-down') peers.forget(event.node);
    if (event.type === 'leader') metrics.leaderChanged();
    else if (event.type === 'cluster') {
      store.putMeta(CLUSTER_KEY, { id: event.id, replicationFactor: config.replicationFactor } satisfies ClusterStamp).catch((error: Error) =>
        logger.error({ err: error.message }, 'could not stamp the cluster id'),
      );
    } else repair.trigger();
  });
  const coordinator = new Coordinator(
    { self: self.id, replicationFactor: config.replicationFactor, term: () => membership.durableTerm(), aliveNodes: aliveIds, readLease: () => membership.readLease() },
    store,
    new ReplicaBatcher(peers),
    logger,
    placement && reachability ? { fence, placement, placed: () => reachability.reachable() } : null,
  );

  const heartbeat = (): Heartbeat => {
    const { leader, term } = membership.status();
    const nodes = membership.aliveNodes();
    const peerRepairs = membership.peerRepairs();
    return {
      cluster: CLUSTER_NAME,
      node: self.id,
      leader,
      term,
      replicationFactor: config.replicationFactor,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      failureTimeoutMs: config.failureTimeoutMs,
      nodes: nodes.map((node) => ({ ...node, state: 'alive' as const })),
      warnings: warnings(nodes.length, config.replicationFactor),
      repair: clusterRepair(
        nodes.map((node) => node.id),
        nodes.map((node) => (node.id === self.id ? repair.status() : peerRepairs.get(node.id))),
      ),
      mode: membership.mode,
      coordinator: membership.coordinatorStatus(),
    };
  };

  let tokens = config.tokens;
  // Tokens are added and revoked without a restart: SIGHUP reads the file again; a broken file keeps the tokens in force.
  const reloadTokens = (): void => {
    try {
      tokens = loadTokensFile(config.tokensFile!);
      logger.info({ file: config.tokensFile, tokens: tokens.entries.length }, 'tokens reloaded');
    } catch (error) {
      logger.error({ err: (error as Error).message }, 'tokens not reloaded: the ones loaded before stay in force');
    }
  };
  const traffic = new TrafficMeter(self.id, metrics.requestDuration, LATENCY_BUCKETS);
  const server = buildServer(
    {
      heartbeat,
      traffic: () => traffic.traffic(),
      stats: () => ({ node: self.id, records: store.count(), heapUsedBytes: process.memoryUsage().heapUsed, rssBytes: process.memoryUsage.rss() }),
      leader: () => membership.status(),
      receiveGossip: (gossip) => membership.receiveGossip(gossip),
      documents: coordinator,
      ...replicaEndpoints({
        self: self.id,
        store,
        fence,
        repair,
        limits: () => ({ maxValueBytes: config.maxValueBytes, term: membership.status().term, now: Date.now() }),
      }),
    },
    { logger, maxValueBytes: config.maxValueBytes, maxInternalBytes: 64 * 1024 * 1024, clusterSecret: clusterSecret.secret, tls: config.tls, tokens: tokens && (() => tokens!) },
  );
  registerMetrics(server, metrics);
  const watch = new ClusterWatch({ heartbeat, peers: () => membership.peerView(), traffic, client: peers });
  registerDashboard(server, {
    snapshot: () => watch.snapshot(),
    traffic: () => traffic.traffic(),
    locate: (key) =>
      locate(
        {
          self: self.id,
          replicationFactor: config.replicationFactor,
          aliveNodes: aliveIds,
          readLocal: (key) => store.record(key),
          peers,
        },
        key,
      ),
  });

  try {
    await server.listen({ host: config.host, port: config.port });
  } catch (error) {
    await membership.stop();
    await peers.close();
    await store.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new StartupError(`port ${config.port} on ${config.host} is already in use`);
    throw new StartupError(`cannot listen on ${config.id} (${code ?? (error as Error).message})`);
  }
  try {
    await membership.start();
  } catch (error) {
    await membership.stop();
    await server.close();
    await store.close();
    throw new StartupError(`cannot register in the cluster (${(error as Error).message})`);
  }
  repair.start();
  placement?.start(config.heartbeatIntervalMs);
  reachability?.start();
  traffic.start();
  if (config.tokensFile) process.on('SIGHUP', reloadTokens);
  await store.putMeta(LAST_ALIVE_KEY, Date.now());
  const aliveTimer = setInterval(
    () => void store.putMeta(LAST_ALIVE_KEY, Date.now()).catch(() => {}),
    Math.min(60_000, config.tombstoneGraceMs / 4),
  );
  logger.info({ node: self.id, mode: membership.mode, join: config.join, dataDir: config.dataDir, replicationFactor: config.replicationFactor }, 'node started');
  if (clusterSecret.createdIn) logger.warn({ file: clusterSecret.createdIn }, 'created the cluster secret: joining nodes need this file (--cluster-secret-file)');

  const rejected = new Promise<string>((resolve) => membership.once('rejected', resolve));
  return {
    rejected,
    async stop() {
      process.off('SIGHUP', reloadTokens);
      clearInterval(aliveTimer);
      traffic.stop();
      placement?.stop();
      reachability?.stop();
      await membership.stop();
      await repair.stop();
      await server.close();
      await peers.close();
      await store.close();
      logger.info({ node: self.id }, 'node stopped');
    },
  };
}
