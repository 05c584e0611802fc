// Starting what the phases run against: the store (a local cluster, or a
// running one) and, with --compare etcd, a local etcd cluster, both at once.
import type { BenchOptions } from './options.js';
import { LocalCluster } from '../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../src/local-cluster/ports.js';
import { makeTempFolder } from '../src/local-cluster/processes.js';
import { WarehouseTarget } from './store-target.js';
import { EtcdTarget } from './etcd.js';
import { EtcdCluster } from '../src/local-cluster/etcd-cluster.js';
import type { TargetState } from './phases.js';
import { KeyPool } from './workload.js';

/**
 * The targets, the store first. Whatever was started is registered in `stops`
 * as soon as it is, so the caller stops it even when the other start fails.
 */
export async function startTargets(options: BenchOptions, etcdVersion: string, stops: (() => Promise<void>)[]): Promise<TargetState[]> {
  const [store, etcd] = await Promise.allSettled([
    (async () => {
      // The consistent mode's own etcd, apart from the one compared against: its load is the store's cost.
      const coordination = !options.target && options.coordinator === 'etcd' ? await EtcdCluster.start({ bin: options.etcdBin, workDir: options.workDir }) : null;
      if (coordination) stops.push(() => coordination.stop());
      const cluster = options.target
        ? null
        : new LocalCluster({
            baseDir: makeTempFolder('warehouse-bench-', options.workDir),
            replicationFactor: options.replicationFactor,
            logLevel: 'warn',
            coordinator: coordination?.coordinatorUrl,
          });
      if (cluster) {
        stops.push(() => cluster.stop());
        await cluster.start(await allocatePorts(options.nodes));
      }
      const target = await WarehouseTarget.connect(options.target ?? cluster!.running()[0]!.id, options.concurrency, cluster, coordination ? 'consistent mode' : null);
      stops.push(() => target.close());
      return target;
    })(),
    (async () => {
      if (options.compare !== 'etcd') return null;
      const cluster = await EtcdCluster.start({ bin: options.etcdBin, workDir: options.workDir });
      stops.push(() => cluster.stop());
      const target = new EtcdTarget(cluster, etcdVersion);
      stops.push(() => target.close());
      return target;
    })(),
  ]);
  if (store.status === 'rejected') throw store.reason;
  if (etcd.status === 'rejected') throw etcd.reason;
  const states: TargetState[] = [{ target: store.value, keys: new KeyPool() }];
  if (etcd.value) states.push({ target: etcd.value, keys: new KeyPool() });
  return states;
}
