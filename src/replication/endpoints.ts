// The replica side of replication: what a node answers to its peers' replica
// writes and reads and to their anti-entropy requests. The HTTP server serves
// these on a node; the simulator calls them through its simulated network.
import type {
  NodeId,
  ReplicaReadRequest,
  ReplicaReadResponse,
  ReplicaWriteRequest,
  ReplicaWriteResponse,
  SyncDigestRequest,
  SyncDigestResponse,
  SyncKeysRequest,
  SyncKeysResponse,
} from '../protocol/schemas.js';
import type { Fence } from '../coordination/fence.js';
import { checkReplicaWrite, checkSyncRequest, type PeerLimits } from '../security/peer-payloads.js';
import type { ReplicaStorage } from '../storage/replicas.js';
import type { RepairService } from './repair.js';

export interface ReplicaEndpoints {
  replicas: {
    write(request: ReplicaWriteRequest): Promise<ReplicaWriteResponse>;
    read(request: ReplicaReadRequest): ReplicaReadResponse;
  };
  sync: {
    compareDigests(request: SyncDigestRequest): Promise<SyncDigestResponse>;
    listKeys(request: SyncKeysRequest): Promise<SyncKeysResponse>;
  };
}

export interface ReplicaSide {
  self: NodeId;
  store: ReplicaStorage;
  fence: Pick<Fence, 'admit'>;
  repair: Pick<RepairService, 'noteArrivals' | 'compareDigests' | 'listKeys'>;
  /** The limits a replica write is checked against, as of now. */
  limits(): PeerLimits;
}

export function replicaEndpoints(side: ReplicaSide): ReplicaEndpoints {
  const { self, store, repair } = side;
  return {
    replicas: {
      write: async (request) => {
        checkReplicaWrite(request, side.limits());
        const { records, hintFor, fence: token } = request;
        await side.fence.admit(token);
        const results = await store.apply(records, hintFor);
        repair.noteArrivals(records);
        return { applied: results.map((result) => result.applied), current: results.map((result) => result.current) };
      },
      read: ({ keys, requests }) => ({
        records: keys.map((key) => store.record(key)),
        ...(requests ? { known: requests.map((id) => (id ? store.knownRequest(id) : null)) } : {}),
      }),
    },
    sync: {
      compareDigests: (request) => {
        checkSyncRequest(request, self);
        return repair.compareDigests(request);
      },
      listKeys: (request) => {
        checkSyncRequest(request, self);
        return repair.listKeys(request);
      },
    },
  };
}
