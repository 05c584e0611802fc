// Seeded randomness: every random choice of the chaos harness, the benchmark
// and the tests (workload, keys, values, fault schedule, simulated networks)
// comes from one of these, so a run can be replayed from its seed. Where timing
// is real, a replay makes the same decisions, not the same interleaving.

export type Rng = () => number;

/** mulberry32: a tiny 32-bit PRNG; returns floats in [0, 1). */
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

/** An independent stream for one purpose (e.g. client 3), derived from the run's seed. */
export function substream(seed: number, label: string): Rng {
  let hash = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < label.length; i++) hash = Math.imul(hash ^ label.charCodeAt(i), 0x01000193);
  const rng = mulberry32(hash >>> 0);
  rng();
  return rng;
}

/** An integer in [min, max], both included. */
export function randomInt(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

/** A float in [min, max). */
export function uniform(rng: Rng, min: number, max: number): number {
  return min + rng() * (max - min);
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  if (items.length === 0) throw new Error('pick from an empty list');
  return items[Math.floor(rng() * items.length)]!;
}

export function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

const HEX = '0123456789abcdef';

/** A random UUID4 (version nibble 4, variant 8-b), as the store requires for keys. */
export function uuid4(rng: Rng): string {
  let out = '';
  for (let i = 0; i < 32; i++) {
    let digit = Math.floor(rng() * 16);
    if (i === 12) digit = 4;
    if (i === 16) digit = 8 + (digit & 3);
    out += HEX[digit];
    if (i === 7 || i === 11 || i === 15 || i === 19) out += '-';
  }
  return out;
}
