// What the phases send: UUID4 keys, ~200-byte JSON documents, and seeded
// random choices (src/common/random.ts), so that the store and etcd get
// exactly the same requests.
import { randomUUID } from 'node:crypto';

/**
 * An endless list of fresh UUID4 keys, generated on demand and remembered, so
 * that every target asked for key i of a phase gets the same key.
 */
export class KeySequence {
  private readonly keys: string[] = [];

  key(index: number): string {
    while (this.keys.length <= index) this.keys.push(randomUUID());
    return this.keys[index]!;
  }
}

/**
 * A JSON document of exactly `size` bytes (at least the fixed fields' length),
 * derived from the key and its index only: the same for every target.
 */
export function makeDocument(key: string, index: number, size: number): string {
  const head = `{"id":"${key}","seq":${index},"kind":"bench-item","tags":["warehouse","bench"],"price":${(index % 10_000) / 100},"note":"`;
  const tail = '"}';
  const pad = Math.max(0, size - head.length - tail.length);
  return head + 'x'.repeat(pad) + tail;
}

/** The keys one target holds: written by its SET requests, consumed by DELETE. */
export class KeyPool {
  private readonly keys: string[] = [];

  get size(): number {
    return this.keys.length;
  }

  add(key: string): void {
    this.keys.push(key);
  }

  /** A random key held, or undefined when none is. */
  pick(random: () => number): string | undefined {
    return this.keys[Math.floor(random() * this.keys.length)];
  }

  /** Removes and returns the newest key, or undefined when none is left. */
  take(): string | undefined {
    return this.keys.pop();
  }
}
