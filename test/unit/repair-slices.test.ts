// Scans over the whole store must give the event loop back as they go: at a
// million records, one that does not holds every client request for seconds.
// The digest refresh once counted its records per bucket, and a bucket never
// held enough to reach a slice, so a refresh of every bucket ran in one turn.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ReplicaStore } from '../../src/storage/store.js';
import { DigestIndex } from '../../src/replication/digest-index.js';
import { STEPS_PER_SLICE } from '../../src/common/slices.js';
import { mulberry32, uuid4 } from '../../src/common/random.js';
import type { ReplicaRecord } from '../../src/protocol/schemas.js';

const RECORDS = 20_000;
const MEMBERS = ['10.0.0.1:7000', '10.0.0.2:7000', '10.0.0.3:7000'];

/** Turns of the event loop other work got while `work` ran. */
async function turnsDuring(work: Promise<void>): Promise<number> {
  let turns = 0;
  let done = false;
  const tick = () => {
    if (done) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  await work;
  done = true;
  return turns;
}

describe('long scans yield to other requests', () => {
  let store: ReplicaStore;
  const keys: string[] = [];

  before(async () => {
    store = ReplicaStore.open(mkdtempSync(join(tmpdir(), 'wh13-slices-')));
    const rng = mulberry32(7);
    for (let i = 0; i < RECORDS; i++) keys.push(uuid4(rng));
    const records: ReplicaRecord[] = keys.map((key, i) => ({ key, version: [1, i + 1, MEMBERS[0]!], value: '{}' }));
    for (let start = 0; start < records.length; start += 5000) await store.apply(records.slice(start, start + 5000));
  });

  after(() => store.close());

  it('a refresh that scans every bucket gives a turn at least every slice', async () => {
    const index = new DigestIndex(store, MEMBERS[0]!, 2);
    const full = await turnsDuring(index.refresh(MEMBERS));
    // A membership change: every key's owners may have changed, so every bucket is scanned again.
    const rescan = await turnsDuring(index.refresh(MEMBERS.slice(0, 2)));
    const slices = Math.floor(RECORDS / STEPS_PER_SLICE);
    assert.ok(full >= slices, `first refresh: ${full} turns for ${RECORDS} records`);
    assert.ok(rescan >= slices, `refresh after a membership change: ${rescan} turns for ${RECORDS} records`);
  });
});
