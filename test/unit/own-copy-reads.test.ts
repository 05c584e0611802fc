// The leader's reads from its own copy (Coordinator.ownCopy): a two-node
// cluster in one process, the leader's peer an in-memory replica behind a
// transport that counts what is asked of it. A read may skip the peer only
// for a version this leader wrote and acknowledged under the read lease it
// still holds, and only while its own copy is that version.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Coordinator } from '../../src/replication/coordinator.js';
import { ReplicaBatcher } from '../../src/replication/batcher.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { REPLICA_READ_PATH, REPLICA_WRITE_PATH } from '../../src/protocol/paths.js';
import type { PeerTransport } from '../../src/transport/peer-client.js';
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
  let lease: number | null = 1;
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
      lease = epoch;
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

  it('ask every owner once the lease changed, lapsed, or the own copy is another version', async () => {
    const { coordinator, own, asked, setLease } = twoNodes();
    const key = uuid4(Math.random);
    await coordinator.write(key, { value: '{"a":1}' });
    let reads = asked.reads;
    const askedPeer = async (what: string) => {
      assert.equal((await coordinator.read(key)).found, true);
      assert.equal(asked.reads, reads + 1, what);
      reads = asked.reads;
    };
    setLease(2);
    await askedPeer('another epoch: another leader may have come in between');
    setLease(null);
    await askedPeer('no lease');
    setLease(1);
    assert.equal((await coordinator.read(key)).found, true);
    assert.equal(asked.reads, reads, 'the same epoch again');
    // A newer copy reaches the leader's store from elsewhere (a hand-off, a repair).
    const mine = own.record(key)!;
    await own.apply([{ ...mine, version: [mine.version[0] + 1, mine.version[1], PEER], value: '{"a":2}' }]);
    await askedPeer('its own copy is no longer the version it wrote');
    assert.equal(coordinator.ownCopyReads, 1);
  });

  it('never answer from a write that was not acknowledged', async () => {
    const { coordinator, own, asked, holdWrites } = twoNodes();
    const key = uuid4(Math.random);
    await coordinator.write(key, { value: '{"a":1}' });
    // The condition fails: no version is issued, the last acknowledged one still answers.
    assert.equal((await coordinator.write(key, { value: '{"a":2}', condition: { ifAbsent: true } })).kind, 'exists');
    const reads = asked.reads;
    assert.equal(((await coordinator.read(key)) as { value: string }).value, '{"a":1}');
    assert.equal(asked.reads, reads);
    // A write in flight: its version may already be in the leader's own copy, but it is not acknowledged yet.
    const held = holdWrites();
    const writing = coordinator.write(key, { value: '{"a":2}' });
    await held.arrived;
    assert.equal(own.record(key)!.value, '{"a":2}', 'the leader\'s copy is written before the peer answers');
    await coordinator.read(key);
    assert.equal(asked.reads, reads + 2, 'the survey of the write and the read both asked the peer');
    held.release();
    assert.equal((await writing).kind, 'written');
    assert.equal(((await coordinator.read(key)) as { value: string }).value, '{"a":2}');
    assert.equal(asked.reads, reads + 2);
  });
});
