/**
 * Seeds. One user seed determines everything random in training (initialisation,
 * shuffling, each step's dropout mask) through sub-seeds derived from
 * (seed, purpose, step), so that two uses never share a stream and a change to one
 * (say, more epochs) does not shift the others.
 */

/** A PRNG returning floats in [0, 1). */
export type Rng = () => number;

/** mulberry32: a tiny 32-bit PRNG, plenty for shuffling. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** murmur3's 32-bit finaliser: a bijective mix, so distinct inputs stay distinct. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A sub-seed for `purpose` (e.g. 'init', 'shuffle', 'dropout') at `step`, as a uint32.
 * Deterministic across platforms: integer arithmetic only.
 */
export function deriveSeed(seed: number, purpose: string, step = 0): number {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed ${seed} is not a safe integer`);
  if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`step ${step} is not a non-negative integer`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  let h = fmix32(fnv1a(purpose) ^ 0x9e3779b9);
  h = fmix32(h ^ lo);
  h = fmix32((h + hi) >>> 0);
  h = fmix32(h ^ (step >>> 0));
  h = fmix32((h + Math.floor(step / 4294967296)) >>> 0);
  return h;
}

/** Fisher–Yates shuffle in place. */
export function shuffleInPlace<T extends { length: number; [i: number]: unknown }>(array: T, rng: Rng): T {
  for (let i = array.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = array[i];
    array[i] = array[j];
    array[j] = tmp;
  }
  return array;
}

/** A seeded permutation of 0..n-1. */
export function permutation(n: number, seed: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return shuffleInPlace(p, mulberry32(seed));
}
