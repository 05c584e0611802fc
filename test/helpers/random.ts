// Seeded randomness for tests: the same seed gives the same numbers on every
// machine, so a failing run can be replayed from the seed in its message.

export type Rng = () => number;

/** mulberry32: a tiny 32-bit PRNG with a full period; returns floats in [0, 1). */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max], both included. */
export function randomInt(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

/** A random element of a non-empty list. */
export function pick<T>(rng: Rng, items: readonly T[]): T {
  if (items.length === 0) throw new Error('pick from an empty list');
  return items[Math.floor(rng() * items.length)]!;
}

/** A Fisher-Yates shuffled copy. */
export function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

const HEX = '0123456789abcdef';

/** A random RFC 4122 version-4 UUID, lower case, drawn from the seeded generator. */
export function uuid4(rng: Rng): string {
  let text = '';
  for (let i = 0; i < 32; i++) {
    let nibble = Math.floor(rng() * 16);
    if (i === 12) nibble = 4; // version
    if (i === 16) nibble = 8 | (nibble & 3); // variant 10xx
    text += HEX[nibble];
    if (i === 7 || i === 11 || i === 15 || i === 19) text += '-';
  }
  return text;
}
