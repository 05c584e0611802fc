// A short chaos run of the consistent mode: 3 etcd members, each on its own
// loopback address, 3 nodes at replication factor 2 on theirs, a concurrent
// workload, and a nemesis that kills and pauses nodes, pauses one or two etcd
// members (two: no quorum) and cuts nodes from each other or from etcd. Any
// lost acknowledged write, failed read-after-write, unconverged replica or
// non-linearizable key (answers checked) fails it, whatever the fault.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Firewall } from '../../chaos/firewall.js';
import { runChaos } from '../../chaos/run.js';
import { SHORT_RUN, assertRunPassed } from '../helpers/chaos.js';
import { DEFAULT_ETCD_BIN, checkEtcdBinary } from '../../src/local-cluster/etcd-cluster.js';

const withoutPartition = process.env.WAREHOUSE_CHAOS_NO_PARTITION === '1';

describe('chaos, short run of the consistent mode', { skip: checkEtcdBinary(DEFAULT_ETCD_BIN) ?? false }, () => {
  it('loses no acknowledged write, reads new keys back, converges and keeps every key linearizable under node kills and pauses, etcd pauses and partitions', { timeout: 180_000 }, async (t) => {
    if (!withoutPartition) assert.equal(Firewall.unavailableReason(), null, 'partitions need iptables as root; set WAREHOUSE_CHAOS_NO_PARTITION=1 to run without them');
    const out = mkdtempSync(join(tmpdir(), 'warehouse-chaos-etcd-test-'));
    const seed = Number(process.env.WAREHOUSE_CHAOS_SEED ?? 8);
    const result = await runChaos({
      coordinator: 'etcd',
      nodes: 3,
      replicationFactor: 2,
      clients: 4,
      keys: 8,
      opsPerKey: 100,
      durationMs: 40_000,
      ...SHORT_RUN,
      cooldownMs: 8000,
      faults: withoutPartition ? ['kill', 'pause', 'etcd'] : ['kill', 'pause', 'etcd', 'partition'],
      faultMaxMs: 4000,
      gapMaxMs: 2000,
      seed,
      out,
      log: (line) => t.diagnostic(line),
    });
    assertRunPassed(t, result);
    assert.ok(result.stats.ok > 100, `the workload made progress (${result.stats.ok} ok ops)`);
    assert.ok(result.stats.faults >= 2, `the faults ran (${result.stats.faults})`);
    rmSync(out, { recursive: true, force: true });
  });
});
