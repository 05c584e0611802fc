// Frames of a peer stream: what one side seals the other reads back whatever
// the chunking, and a frame that was changed, replayed, sealed with another
// key or announced larger than the limit is refused.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FrameError, FrameReader, FrameWriter } from '../../src/transport/frames.js';

const KEY = randomBytes(32);

describe('peer stream frames', () => {
  it('read back in order, however the bytes are cut', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 300 }), { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1 }), (payloads, cuts) => {
        const writer = new FrameWriter(KEY);
        const bytes = Buffer.concat(payloads.map((payload) => writer.encode(payload)));
        const reader = new FrameReader(KEY, 10_000);
        const read: string[] = [];
        for (let offset = 0, i = 0; offset < bytes.length; i++) {
          const size = cuts[i % cuts.length]!;
          read.push(...reader.push(bytes.subarray(offset, offset + size)));
          offset += size;
        }
        assert.deepEqual(read, payloads);
      }),
    );
  });

  it('refuses a changed byte anywhere after the length', () => {
    const frame = new FrameWriter(KEY).encode('{"id":1,"path":"/internal/v1/replicas/read","body":{"keys":[]}}');
    for (let i = 4; i < frame.length; i++) {
      const changed = Buffer.from(frame);
      changed[i] = changed[i]! ^ 0x01;
      assert.throws(() => new FrameReader(KEY, 10_000).push(changed), FrameError, `byte ${i}`);
    }
  });

  it('refuses a frame replayed, or sealed with another key', () => {
    const writer = new FrameWriter(KEY);
    const first = writer.encode('one');
    const reader = new FrameReader(KEY, 10_000);
    assert.deepEqual(reader.push(first), ['one']);
    assert.throws(() => reader.push(first), FrameError);
    assert.throws(() => new FrameReader(randomBytes(32), 10_000).push(new FrameWriter(KEY).encode('one')), FrameError);
  });

  it('refuses a frame above the limit from its length alone, and one shorter than its MAC', () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(32 + 10_001);
    assert.throws(() => new FrameReader(KEY, 10_000).push(header), /above the limit/);
    header.writeUInt32BE(31);
    assert.throws(() => new FrameReader(KEY, 10_000).push(header), /shorter than its MAC/);
    assert.deepEqual(new FrameReader(KEY, 10_000).push(header.subarray(0, 3)), [], 'an incomplete length waits for more');
  });
});
