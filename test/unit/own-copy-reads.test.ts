// The leader's reads from its own copy (Coordinator.ownCopy): a two-node
// cluster in one process, the leader's peer an in-memory replica behind a
// transport that counts what is asked of it. A read may skip the peer only
// for a copy the leader wrote under the read lease it still holds, with no
// write of the key in flight, while every write of its own under that lease
// landed in its own store.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Coordinator } from '../../src/replication/coordinator.js';
import { ReplicaBatcher } from '../../src/replication/batcher.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { REPLICA_READ_PATH, REPLICA_WRITE_PATH } from '../../src/protocol/paths.js';
import type { PeerTransport } from '../../src/transport/peer-client.js';
import type { ReadLease } from '../../src/membership/source.js';
import type { ReplicaRecord } from '../../src/protocol/schemas.js';
import { createLogger } from '../../src/common/logger.js';
import { uuid4 } from '../../src/common/random.js';

const LEADER = '127.0.0.1:7001';
const PEER = '127.0.0.1:7002';

function memoryStore(): MemoryStore {
  return new MemoryStore({ now: () => Date.now(), durable: () => Promise.resolve() });
}

function twoNodes() {
  const own = memoryStore();
  const peer = memoryStore();
  const asked = { reads: 0, writes: 0 };
  let lease: ReadLease | null = { epoch: 1, term: 1 };
  /** While set, the peer sits on replica writes until `release`, and calls `arrived` when one comes. */
  let hold: { arrived: () => void; release: Promise<void> } | null = null;
  const transport: PeerTransport = {
    async post<T>(to: string, path: string, body: unknown): Promise<T> {
      assert.equal(to, PEER);
      if (path === REPLICA_READ_PATH) {
        const { keys } = body as { keys: string[] };
        asked.reads += keys.length;
        return { records: keys.map((key) => peer.record(key)) } as T;
      }
      assert.equal(path, REPLICA_WRITE_PATH);
      const { records } = body as { records: ReplicaRecord[] };
      asked.writes += records.length;
      if (hold) {
        hold.arrived();
        await hold.release;
      }
      const results = await peer.apply(records);
      return { applied: results.map((result) => result.applied), current: results.map((result) => result.current) } as T;
    },
  };
  const coordinator = new Coordinator(
    { self: LEADER, replicationFactor: 2, term: () => Promise.resolve(1), aliveNodes: () => [LEADER, PEER], readLease: () => lease },
    own,
    new ReplicaBatcher(transport),
    createLogger('own-copy-reads', 'silent'),
  );
  return {
    coordinator,
    own,
    asked,
    setLease: (epoch: number | null) => {
      lease = epoch === null ? null : { epoch, term: 1 };
    },
    /** Resolves once a replica write reached the peer; the peer answers it when `release` is called. */
    holdWrites: () => {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const arrived = new Promise<void>((resolve) => (hold = { arrived: resolve, release: released }));
      return { arrived, release };
    },
  };
}

describe('reads from the leader\'s own copy', () => {
  it('answer a key this leader wrote under the lease it still holds without asking the other owner', async () => {
    const { coordinator, asked } = twoNodes();
    const key = uuid4(Math.random);
    const written = await coordinator.write(key, { value: '{"a":1}' });
    assert.equal(written.kind, 'written');
    const before = asked.reads;
    for (let i = 0; i < 2; i++) assert.deepEqual(await coordinator.read(key), { found: true, value: '{"a":1}', version: written.version });
    assert.equal(asked.reads, before);
    await coordinator.write(key, { value: null });
    assert.deepEqual(await coordinator.read(key), { found: false });
    assert.equal(asked.reads, before + 1, 'only the DELETE\'s survey asked the peer');
    assert.equal(coordinator.ownCopyReads, 3);
  });

  it('ask every owner once the lease changed or lapsed, for a copy written before, by another node, or with a write in flight', async () => {
    const { coordinator, own, asked, setLease, holdWrites } = twoNodes();
    const key = uuid4(Math.random);
    await coordinator.write(key, { value: '{"a":1}' });
    let reads = asked.reads;
    const read = async (what: string, fromPeer: boolean) => {
      assert.equal((await coordinator.read(key)).found, true);
      assert.equal(asked.reads, reads + (fromPeer ? 1 : 0), what);
      reads = asked.reads;
    };
    await read('written under this lease', false);
    setLease(2);
    await read('another epoch: another leader may have come in between', true);
    await read('still: the copy was written before this lease', true);
    await coordinator.write(key, { value: '{"a":2}' });
    reads = asked.reads;
    await read('written again under this lease', false);
    setLease(null);
    await read('no lease', true);
    setLease(1);
    await read('an earlier epoch back is another lease', true);
    await coordinator.write(key, { value: '{"a":3}' });
    reads = asked.reads;
    await read('written under it', false);
    // A newer copy reaches the leader's store from elsewhere (a hand-off, a repair).
    const mine = own.record(key)!;
    await own.apply([{ ...mine, version: [mine.version[0], mine.version[1] + 1, PEER], value: '{"a":4}' }]);
    await read('another node wrote its own copy', true);
    await coordinator.write(key, { value: '{"a":5}' });
    // A write in flight: its version may already be in the leader's own copy, but it is not acknowledged yet.
    const held = holdWrites();
    const writing = coordinator.write(key, { value: '{"a":6}' });
    await held.arrived;
    assert.equal(own.record(key)!.value, '{"a":6}', 'the leader\'s copy is written before the peer answers');
    reads = asked.reads;
    await read('a write of the key is in flight', true);
    held.release();
    assert.equal((await writing).kind, 'written');
    await read('acknowledged', false);
  });

  it('stop answering from their own copies for the rest of the lease once one of its writes missed its own store', async () => {
    const { coordinator, own, asked, setLease } = twoNodes();
    const [first, second] = [uuid4(Math.random), uuid4(Math.random)];
    await coordinator.write(first, { value: '{"n":1}' });
    await coordinator.write(second, { value: '{"n":2}' });
    const reads = asked.reads;
    await coordinator.read(first);
    assert.equal(asked.reads, reads);
    // Its own store fails one write; the other owner holds it, so it is acknowledged.
    const apply = own.apply.bind(own);
    own.apply = () => Promise.reject(new Error('disk full'));
    const written = await coordinator.write(second, { value: '{"n":3}' });
    own.apply = apply;
    assert.equal(written.kind === 'written' && written.replicas, 1);
    assert.equal(((await coordinator.read(second)) as { value: string }).value, '{"n":3}', 'the other owner\'s copy answers');
    const after = asked.reads;
    await coordinator.read(first);
    assert.equal(asked.reads, after + 1, 'no own copy answers under this lease any more');
    setLease(2);
    await coordinator.write(first, { value: '{"n":4}' });
    const renewed = asked.reads;
    assert.equal(((await coordinator.read(first)) as { value: string }).value, '{"n":4}');
    assert.equal(asked.reads, renewed, 'a new lease starts whole');
  });
});
