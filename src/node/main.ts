// Wires one node together: storage, membership, replication and the HTTP
// server. No logic of its own beyond start-up order and shutdown.
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { CLUSTER_NAME, type ClusterRepairStatus, type Heartbeat, type NodeInfo, type RepairStatus } from '../protocol/schemas.js';
import { createLogger } from '../common/logger.js';
import { ReplicaStore } from '../storage/store.js';
import { Membership } from '../membership/machine.js';
import { MembershipDriver, type PersistedMembership } from '../membership/driver.js';
import { discoverCluster, type ClusterView } from '../membership/join.js';
import { CLUSTER_KEY, stampMismatch, type ClusterStamp } from '../membership/identity.js';
import { PeerClient } from '../transport/peer-client.js';
import { ReplicaBatcher } from '../replication/batcher.js';
import { Coordinator } from '../replication/coordinator.js';
import { RepairService } from '../replication/repair.js';
import { buildServer } from '../server/app.js';
import { checkReplicaWrite, checkSyncRequest } from '../security/peer-payloads.js';
import { loadClusterSecret, type ClusterSecret } from '../security/secret.js';
import type { NodeConfig } from './config.js';

const MEMBERSHIP_KEY = 'membership';
const JOINED_KEY = 'joined';
const LAST_ALIVE_KEY = 'lastAlive';
const JOIN_ATTEMPTS = 10;

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
  const remembered = store.getMeta<PersistedMembership>(MEMBERSHIP_KEY);
  const lastAlive = store.getMeta<number>(LAST_ALIVE_KEY);
  if (lastAlive !== undefined && store.count() > 0 && Date.now() - lastAlive > config.tombstoneGraceMs) {
    // Its peers have purged the tombstones of deletes it never saw: its old
    // copies would bring those documents back.
    await store.close();
    const age = (ms: number) => (ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : ms < 7_200_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 3_600_000).toFixed(1)} h`);
    throw new StartupError(
      `the data in ${config.dataDir} is ${age(Date.now() - lastAlive)} old, older than the tombstone grace period (${age(config.tombstoneGraceMs)}): ` +
        'deleted documents could come back. Move the data dir away and start empty (the cluster copies back what this node should hold), or raise --tombstone-grace',
    );
  }

  const founding = !config.join && remembered === undefined;
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

  const peers = new PeerClient({ timeoutMs: config.requestTimeoutMs, secret: clusterSecret.secret, localAddress: isIP(config.host) ? config.host : undefined });
  let view: ClusterView = { leader: null, term: remembered?.term ?? 0, peers: remembered?.peers ?? [] };
  if (config.join) {
    try {
      view = await discoverCluster({ target: config.join, replicationFactor: config.replicationFactor, attempts: JOIN_ATTEMPTS, retryDelayMs: 500, timeoutMs: config.requestTimeoutMs, peers });
    } catch (error) {
      await peers.close();
      await store.close();
      throw new StartupError((error as Error).message);
    }
  }
  await store.putMeta(JOINED_KEY, self.joined);
  if (stamp) await store.putMeta(CLUSTER_KEY, stamp);
  // Remembered at once: a joiner that crashes before its first membership
  // event must rejoin these peers on restart, not found a cluster of its own.
  await store.putMeta(MEMBERSHIP_KEY, { term: view.term, peers: view.peers.filter((id) => id !== self.id) });

  const machine = new Membership(
    {
      self,
      replicationFactor: config.replicationFactor,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      failureTimeoutMs: config.failureTimeoutMs,
      clusterId: stamp?.id ?? null,
    },
    { now: Date.now(), term: view.term, leader: view.leader, peers: view.peers.filter((id) => id !== self.id) },
  );
  const aliveIds = () => machine.aliveIds();
  const repair = new RepairService(
    { self: self.id, replicationFactor: config.replicationFactor, aliveNodes: aliveIds, store, peers, logger },
    {
      intervalMs: config.antiEntropyIntervalMs,
      hintIntervalMs: config.heartbeatIntervalMs,
      tombstoneGraceMs: config.tombstoneGraceMs,
      batchSize: 500,
    },
  );
  const membership = new MembershipDriver(machine, peers, {
    tickMs: Math.min(100, Math.ceil(config.heartbeatIntervalMs / 2)),
    logger,
    persist: (state) => store.putMeta(MEMBERSHIP_KEY, state),
    repairStatus: () => repair.status(),
  });
  membership.on('event', (event) => {
    if (event.type === 'cluster') {
      store.putMeta(CLUSTER_KEY, { id: event.id, replicationFactor: config.replicationFactor } satisfies ClusterStamp).catch((error: Error) =>
        logger.error({ err: error.message }, 'could not stamp the cluster id'),
      );
    } else if (event.type !== 'leader') repair.trigger();
  });
  const coordinator = new Coordinator(
    { self: self.id, replicationFactor: config.replicationFactor, term: () => machine.status().term, aliveNodes: aliveIds },
    store,
    new ReplicaBatcher(peers),
    logger,
  );

  const heartbeat = (): Heartbeat => {
    const { leader, term } = machine.status();
    const nodes = machine.aliveNodes();
    const peerRepairs = machine.peerRepairs();
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
    };
  };

  const server = buildServer(
    {
      heartbeat,
      stats: () => ({ node: self.id, records: store.count(), heapUsedBytes: process.memoryUsage().heapUsed, rssBytes: process.memoryUsage.rss() }),
      leader: () => machine.status(),
      receiveGossip: (gossip) => membership.receive(gossip),
      documents: coordinator,
      replicas: {
        write: async (request) => {
          checkReplicaWrite(request, { maxValueBytes: config.maxValueBytes, term: machine.status().term, now: Date.now() });
          const { records, hintFor } = request;
          const hadValue = await store.apply(records, hintFor);
          repair.noteArrivals(records);
          return { hadValue };
        },
        read: ({ keys }) => ({
          records: keys.map((key) => {
            const stored = store.get(key);
            return stored ? { key, ...stored } : null;
          }),
        }),
      },
      sync: {
        compareDigests: (request) => {
          checkSyncRequest(request, self.id);
          return repair.compareDigests(request);
        },
        listKeys: (request) => {
          checkSyncRequest(request, self.id);
          return repair.listKeys(request);
        },
      },
    },
    { logger, maxValueBytes: config.maxValueBytes, maxInternalBytes: 64 * 1024 * 1024, clusterSecret: clusterSecret.secret },
  );

  try {
    await server.listen({ host: config.host, port: config.port });
  } catch (error) {
    await peers.close();
    await store.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new StartupError(`port ${config.port} on ${config.host} is already in use`);
    throw new StartupError(`cannot listen on ${config.id} (${code ?? (error as Error).message})`);
  }
  membership.start();
  repair.start();
  await store.putMeta(LAST_ALIVE_KEY, Date.now());
  const aliveTimer = setInterval(
    () => void store.putMeta(LAST_ALIVE_KEY, Date.now()).catch(() => {}),
    Math.min(60_000, config.tombstoneGraceMs / 4),
  );
  logger.info({ node: self.id, join: config.join, dataDir: config.dataDir, replicationFactor: config.replicationFactor }, 'node started');
  if (clusterSecret.createdIn) logger.warn({ file: clusterSecret.createdIn }, 'created the cluster secret: joining nodes need this file (--cluster-secret-file)');

  const rejected = new Promise<string>((resolve) => membership.once('rejected', resolve));
  return {
    rejected,
    async stop() {
      clearInterval(aliveTimer);
      membership.stop();
      await repair.stop();
      await server.close();
      await peers.close();
      await store.close();
      logger.info({ node: self.id }, 'node stopped');
    },
  };
}
