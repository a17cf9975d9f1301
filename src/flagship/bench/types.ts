/** One JSON line printed by `npm run bench`. */
export interface BenchRecord {
  bench: string;
  backend?: string;
  /** Throughput in the given unit per second, or a wall time in seconds. */
  value: number;
  unit: string;
  [extra: string]: unknown;
}

export interface BenchOptions {
  backends: string[];
  /** Seconds each throughput measurement should roughly take. */
  seconds: number;
  compareTorch: boolean;
}

/** A bench suite: src/flagship/bench/<name>.ts exports `run`. */
export type BenchSuite = (opts: BenchOptions) => AsyncGenerator<BenchRecord>;
