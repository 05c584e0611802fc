// A node whose data is older than the tombstone grace period must not rejoin
// with it: its peers have purged the tombstones of deletes it never saw.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { allocatePorts } from '../../src/local-cluster/ports.js';
import { fastCluster, http, runToExit } from '../helpers/integration.js';
import { documentPath } from '../../src/protocol/paths.js';

const [PORT] = (await allocatePorts(1)) as [number];

describe('data older than the tombstone grace period', () => {
  const cluster = fastCluster('stale', 1);
  after(() => cluster.stop());

  it('makes the node refuse to start, with a one-line reason', async () => {
    const node = await cluster.startNode({ port: PORT, join: null, extraArgs: ['--tombstone-grace', '1s'] });
    const put = await http('PUT', `http://${node.id}${documentPath('0d5d3807-5fbf-4228-a657-5a091c4e497f')}`, '{"a": 1}');
    assert.equal(put.status, 201);
    await node.stop('SIGTERM');
    // The grace is 1 s and the node records that it was alive at least every 250 ms: 1.5 s of silence is past it.
    await sleep(1500);
    const refused = await runToExit('./warehouse-node', [...node.args]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /^Error: the data in .* is \d+\.\d s old, older than the tombstone grace period \(1\.0 s\)/);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
  });
});
