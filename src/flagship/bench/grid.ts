import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Throughput, ThroughputOptions } from './training.ts';

/**
 * Throughput of the whole machine as the experiment grid uses it: one worker thread per core
 * (the grid's piscina pool), each with its own backend and wasm heap, all running the same
 * step at once. The figure is the sum over the workers of images per wall-clock second, timed
 * over the same window (every worker warms up, then all start together).
 */

export type GridPhase = 'training' | 'input-gradient';

export interface GridThroughput {
  workers: number;
  /** Images per wall-clock second, summed over the workers. */
  imagesPerSecond: number;
  /** Each worker's own figure. */
  perWorker: Throughput[];
}

/** What a worker thread is asked (workerData). */
export interface GridTask {
  target: string;
  phase: GridPhase;
  options: Omit<ThroughputOptions, 'ready'>;
}

/** What a worker thread answers: 'ready' after its warm-up, then its figure or why it could not run. */
export type GridMessage = { ready: true } | { result: Throughput } | { error: string };

export const gridWorkers = (): number => availableParallelism();

/** Run `workers` threads of `task` together; rejects with the first worker's error. */
export async function measureGrid(task: GridTask, workers = gridWorkers()): Promise<GridThroughput> {
  const threads = Array.from({ length: workers }, () => new Worker(new URL('./grid-worker.mjs', import.meta.url), { workerData: task, execArgv: [] }));
  let ready = 0;
  try {
    const results = await Promise.all(threads.map((w) => new Promise<Throughput>((resolve, reject) => {
      w.on('message', (m: GridMessage) => {
        if ('ready' in m) {
          // Every worker has warmed up: start them all at once.
          if (++ready === workers) for (const t of threads) t.postMessage('go');
        } else if ('result' in m) resolve(m.result);
        else reject(new Error(m.error));
      });
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`a bench worker exited with code ${code} before it answered`)));
    })));
    return { workers, imagesPerSecond: results.reduce((s, r) => s + r.imagesPerSecond, 0), perWorker: results };
  } finally {
    await Promise.all(threads.map((t) => t.terminate()));
  }
}
