// A node's registration in etcd takes three calls (grant a lease, delete a
// stale key, put its key on the lease). A CI chaos run had the last two fail
// (the client's circuit breaker for one etcd member was open) while the lease
// lived on: the node kept that keyless lease alive and stayed out of every
// view for good. Here the put fails once, for real etcd, and the node must
// come back on its own.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3, type Namespace } from 'etcd3';
import { EtcdMembership } from '../../src/coordination/etcd-membership.js';
import { DEFAULT_ETCD_BIN, EtcdCluster, checkEtcdBinary } from '../../src/local-cluster/etcd-cluster.js';
import { createLogger } from '../../src/common/logger.js';
import { waitFor } from '../../src/local-cluster/wait.js';

const SELF = { id: '127.0.0.1:1', joined: 1 };
const REPAIR = { underReplicated: 0, transfersInProgress: 0, hintsPending: 0, syncedFor: [], cleanPasses: 0 };

describe('registration in etcd', { timeout: 60_000, skip: checkEtcdBinary(DEFAULT_ETCD_BIN) ?? false }, () => {
  let etcd: EtcdCluster;
  let membership: EtcdMembership;
  let admin: Etcd3;

  before(async () => {
    etcd = await EtcdCluster.start({ bin: DEFAULT_ETCD_BIN, workDir: null });
    admin = new Etcd3({ hosts: etcd.endpoints });
    membership = await EtcdMembership.open({
      self: SELF,
      endpoints: etcd.endpoints,
      clusterName: 'registration',
      replicationFactor: 1,
      heartbeatIntervalMs: 100,
      failureTimeoutMs: 2000,
      requestTimeoutMs: 1000,
      logger: createLogger('etcd-registration-test', 'silent'),
      repairStatus: () => REPAIR,
    });
    await membership.start();
  });

  after(async () => {
    await membership?.stop();
    admin?.close();
    await etcd?.stop();
  });

  it('registers again after a registration that failed once its lease was granted', async () => {
    await waitFor(() => membership.status().isLeader, { timeoutMs: 10_000, message: 'the node to lead its one-node cluster' });
    const termBefore = membership.status().term;

    // The node's own etcd client: its next put of its member key fails, as a call to a broken member would.
    const namespace = (membership as unknown as { namespace: Namespace }).namespace;
    const put = namespace.put.bind(namespace);
    let failed = 0;
    namespace.put = (key) => {
      const builder = put(key);
      if (String(key).startsWith('members/') && failed === 0) {
        failed++;
        builder.exec = () => Promise.reject(new Error('injected: the etcd member is unreachable'));
      }
      return builder;
    };

    // Ending the node's lease from outside makes it register again, through the failing put.
    const leases = await admin.leaseClient.leaseLeases({});
    assert.ok(leases.leases.length > 0, 'the node holds a lease');
    for (const { ID } of leases.leases) await admin.leaseClient.leaseRevoke({ ID });

    await waitFor(() => failed === 1, { timeoutMs: 10_000, message: 'the registration after the revoke to fail at its put' });
    await waitFor(() => membership.status().isLeader && membership.status().term > termBefore, {
      timeoutMs: 10_000,
      message: 'the node to register again and lead under a new term',
    });
    assert.deepEqual(membership.aliveIds(), [SELF.id]);
  });
});
