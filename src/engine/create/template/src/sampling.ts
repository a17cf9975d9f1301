/**
 * Random points in the unit square, reproducibly: a seeded generator (mulberry32, integer
 * arithmetic only), so every machine draws the same points and computes the same numbers.
 * Notebooks import this module; editing it re-runs the notebooks that do.
 */
export function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The fraction of `points` random points of the unit square that fall inside the quarter disc: π/4 on average. */
export function quarterDiscFraction(points: number, seed: number): number {
  const next = randomSource(seed);
  let inside = 0;
  for (let i = 0; i < points; i++) {
    const x = next();
    const y = next();
    if (x * x + y * y <= 1) inside++;
  }
  return inside / points;
}
