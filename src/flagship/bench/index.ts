import type { BenchSuite } from './types.ts';

/**
 * The bench suites `reprobook bench` runs, in order. Each module under src/flagship/bench/ exports
 * `run: BenchSuite`; they are imported lazily so a missing optional suite cannot break the others.
 */
export const SUITES: ReadonlyArray<{ name: string; load: () => Promise<BenchSuite> }> = [
  { name: 'training', load: async () => (await import('./training.ts')).run },
  { name: 'attacks', load: async () => (await import('./attacks.ts')).run },
  { name: 'kernels', load: async () => (await import('./kernels.ts')).run },
  { name: 'smoke', load: async () => (await import('./smoke.ts')).run },
];
