// A cluster's identity, stamped in every member's data dir: the id chosen by
// the founder, and the replication factor the data was placed with. A data dir
// restarted with another factor, or brought to another cluster, is refused.
export const CLUSTER_KEY = 'cluster';

export interface ClusterStamp {
  id: string;
  replicationFactor: number;
}

export function stampMismatch(stamp: ClusterStamp | undefined, replicationFactor: number, dataDir: string): string | null {
  if (!stamp || stamp.replicationFactor === replicationFactor) return null;
  return (
    `the data in ${dataDir} belongs to a cluster with replication factor ${stamp.replicationFactor}, not ${replicationFactor}: ` +
    `start with --replication-factor ${stamp.replicationFactor}, or move the data dir away to start empty`
  );
}
