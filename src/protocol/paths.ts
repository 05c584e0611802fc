// Every HTTP path a node serves, declared once: the server registers these
// and clients, peers, tests and tools call them, so the two sides cannot
// drift apart. The paths are part of the wire format.

export const HEARTBEAT_PATH = '/v1/heartbeat';
export const STATS_PATH = '/v1/stats';
export const DOCUMENTS_PREFIX = '/v1/documents/';
export const DOCUMENT_ROUTE = `${DOCUMENTS_PREFIX}:key`;
export const CLUSTER_PATH = '/v1/cluster';
export const EVENTS_PATH = '/v1/events';
export const TRAFFIC_PATH = '/v1/traffic';
export const LOCATE_ROUTE = '/v1/locate/:key';
export const METRICS_PATH = '/metrics';
export const UI_PATH = '/ui';

/** Node-to-node routes live below this prefix, guarded by the cluster secret rather than by tokens. */
export const INTERNAL_PREFIX = '/internal/';
export const GOSSIP_PATH = '/internal/v1/gossip';
/** A member's heartbeat, signed: how a joining node learns the cluster whatever the public API demands (TLS, tokens). */
export const INTERNAL_HEARTBEAT_PATH = '/internal/v1/heartbeat';
/** The leader's traffic as a follower's dashboard asks for it, signed like every node-to-node request. */
export const INTERNAL_TRAFFIC_PATH = '/internal/v1/traffic';
export const REPLICA_WRITE_PATH = '/internal/v1/replicas/write';
export const REPLICA_READ_PATH = '/internal/v1/replicas/read';
export const SYNC_DIGEST_PATH = '/internal/v1/sync/digest';
export const SYNC_KEYS_PATH = '/internal/v1/sync/keys';

export function documentPath(key: string): string {
  return `${DOCUMENTS_PREFIX}${encodeURIComponent(key)}`;
}

export function locatePath(key: string): string {
  return `/v1/locate/${encodeURIComponent(key)}`;
}

/** Upgraded to a stream of signed frames that carries every internal route between members (transport/frames.ts). */
export const PEER_STREAM_PATH = '/internal/v1/stream';
/** The `Upgrade` token of a peer stream. */
export const PEER_STREAM_PROTOCOL = 'warehouse13-frames/1';
