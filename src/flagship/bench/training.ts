import * as tf from '@tensorflow/tfjs';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BenchOptions, BenchRecord, BenchSuite } from './types.ts';
import { enterTarget, expandTargets, leaveTargets } from './targets.ts';
import { measureGrid } from './grid.ts';

/**
 * Throughput of the paper's network on each backend: the training step (forward with
 * dropout, softmax cross-entropy, backward, SGD-with-momentum update) and the gradient of
 * the loss with respect to the input (what FGSM computes), at batch 128.
 *
 * Inputs are synthetic (seeded uniform pixels, cycling labels): throughput does not depend
 * on the pixel values, and the bench must not need the data files.
 */

export interface ThroughputOptions {
  batch: number;
  /** Stop after this many timed steps... */
  maxSteps: number;
  /** ...or once this many seconds have been spent timing, whichever comes first (at least 1 step). */
  seconds: number;
  /** Untimed steps first (XNNPACK operator creation, allocator warm-up). */
  warmup: number;
  /** Awaited between the warm-up and the timed steps: lets concurrent measurements start together. */
  ready?: () => Promise<void>;
}

export interface Throughput {
  /** Images per wall-clock second. */
  imagesPerSecond: number;
  /**
   * Images per second of this process's CPU time: on a shared machine this is closer to
   * what the code can do (wasm and cpu run on one thread), wall time is what a user waits.
   */
  imagesPerCpuSecond: number;
  steps: number;
  batch: number;
  seconds: number;
}

/** A fixed batch of synthetic inputs and one-hot labels. */
export function syntheticBatch(batch: number, seed = 1): { x: tf.Tensor4D; y: tf.Tensor2D } {
  return tf.tidy(() => {
    const x = tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', seed) as tf.Tensor4D;
    const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), 'int32');
    return { x, y: tf.oneHot(labels, 10).toFloat() as tf.Tensor2D };
  });
}

async function time(step: () => void, sync: () => Promise<void>, o: ThroughputOptions): Promise<Throughput> {
  for (let i = 0; i < o.warmup; i++) step();
  await sync();
  await o.ready?.();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let steps = 0;
  while (steps < o.maxSteps) {
    step();
    steps++;
    if (steps % 2 === 0 || steps === o.maxSteps) {
      await sync();
      if ((performance.now() - t0) / 1000 >= o.seconds) break;
    }
  }
  await sync();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return { imagesPerSecond: (steps * o.batch) / seconds, imagesPerCpuSecond: (steps * o.batch) / cpuSeconds, steps, batch: o.batch, seconds };
}

/**
 * The two steps the bench times and profiles, on the paper's network and one synthetic
 * batch: a training step (forward with dropout, softmax cross-entropy, backward,
 * SGD-with-momentum update) and d loss / d input (cross-entropy at T = 1, as FGSM needs it).
 * Each returns a tensor to read (which forces the step to finish) and then dispose.
 */
export interface PaperNetworkSteps {
  training(): tf.Tensor;
  inputGradient(): tf.Tensor;
  dispose(): void;
}

export async function paperNetworkSteps(batch: number): Promise<PaperNetworkSteps> {
  const { buildModel, forwardLogits } = await import('../ml/model.ts');
  const model = buildModel(1);
  const { x, y } = syntheticBatch(batch);
  const optimizer = tf.train.momentum(0.1, 0.5);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const gradFn = tf.grad((input: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, forwardLogits(model, input)));
  let dropoutSeed = 1;
  return {
    training: () => optimizer.minimize(() => {
      const logits = forwardLogits(model, x, { dropoutRate: 0.5, dropoutSeed: dropoutSeed++ });
      return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
    }, true, vars)!,
    inputGradient: () => gradFn(x),
    dispose: () => {
      optimizer.dispose();
      // tfjs-core 4.22: MomentumOptimizer.dispose() forgets SGDOptimizer's learning-rate scalar.
      (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
      x.dispose();
      y.dispose();
      model.dispose();
    },
  };
}

async function measureStep(o: ThroughputOptions, pick: (s: PaperNetworkSteps) => () => tf.Tensor): Promise<Throughput> {
  const steps = await paperNetworkSteps(o.batch);
  const run = pick(steps);
  let last: tf.Tensor | null = null;
  const step = () => {
    last?.dispose();
    last = run();
  };
  // Reading the result forces the step to finish (the wasm and cpu backends are synchronous anyway).
  const sync = async () => { if (last) await last.data(); };
  try {
    return await time(step, sync, o);
  } finally {
    (last as tf.Tensor | null)?.dispose();
    steps.dispose();
  }
}

/** Training throughput of the paper's network on the active backend. */
export const measureTraining = (o: ThroughputOptions): Promise<Throughput> => measureStep(o, (s) => s.training);

/** Throughput of d loss / d input (cross-entropy at T = 1), as FGSM needs it. */
export const measureInputGradient = (o: ThroughputOptions): Promise<Throughput> => measureStep(o, (s) => s.inputGradient);

/** Step counts per backend: the pure-JS cpu backend manages about 1 image/s. */
export function plan(backend: string, seconds: number): ThroughputOptions {
  if (backend === 'cpu') return { batch: 8, maxSteps: 1, seconds, warmup: 0 };
  return { batch: 128, maxSteps: 1000, seconds, warmup: 2 };
}

const TORCH_SCRIPT = fileURLToPath(new URL('./torch_bench.py', import.meta.url));
const run$ = promisify(execFile);

/** A python that can import torch: pyenv's python3 first on PATH, then Debian's /usr/bin/python3. */
export async function findTorchPython(): Promise<{ python: string; version: string } | undefined> {
  for (const python of ['python3', '/usr/bin/python3']) {
    try {
      const { stdout } = await run$(python, ['-c', 'import torch; print(torch.__version__)'], { timeout: 60_000 });
      return { python, version: stdout.trim() };
    } catch {
      // not this one
    }
  }
  return undefined;
}

interface TorchRecord { bench: string; threads: number; value: number; imagesPerCpuSecond: number | null; steps: number; seconds: number; batch: number; torch: string }

/** The same network in PyTorch on 1 and 2 threads, with its ratio to the tfjs figures of this run. */
interface Mine { backend: string; value: number; perCpuSecond: number }

/** This run's whole-machine figure (measureGrid) of one backend, for the PyTorch 2-thread ratio. */
interface Grid { backend: string; workers: number; value: number }

async function* compareTorch(seconds: number, ours: Map<string, Mine>, grids: Map<string, Grid>): AsyncGenerator<BenchRecord> {
  const found = await findTorchPython();
  if (!found) {
    yield {
      bench: 'torch', backend: 'pytorch', value: NaN, unit: 'images/s',
      skipped: 'PyTorch is not importable by python3 or /usr/bin/python3; install it (e.g. apt-get install python3-torch) to compare',
    };
    return;
  }
  for (const threads of [1, 2]) {
    // torch.set_num_threads does not reach the BLAS library Debian's torch links (OpenBLAS
    // when libopenblas is installed, with its own thread pool): pin that too.
    const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
    const { stdout } = await run$(found.python, [TORCH_SCRIPT, '--threads', String(threads), '--seconds', String(seconds)], { timeout: 600_000, env });
    for (const line of stdout.split('\n').filter((l) => l.trim().startsWith('{'))) {
      const r = JSON.parse(line) as TorchRecord;
      const mine = ours.get(r.bench);
      const grid = threads === workersOf(grids) ? grids.get(r.bench) : undefined;
      yield {
        bench: r.bench, backend: `pytorch-${threads}-thread${threads > 1 ? 's' : ''}`, value: round(r.value), unit: 'images/s',
        batch: r.batch, steps: r.steps, seconds: round(r.seconds), threads, torch: r.torch, python: found.python,
        ...(r.imagesPerCpuSecond ? { imagesPerCpuSecond: round(r.imagesPerCpuSecond) } : {}),
        ...(mine ? {
          comparedTo: mine.backend,
          ratioTorchToTfjs: ratio(r.value, mine.value),
          // Per CPU-second: less sensitive to other processes on a shared machine.
          ...(r.imagesPerCpuSecond ? { ratioTorchToTfjsPerCpuSecond: ratio(r.imagesPerCpuSecond, mine.perCpuSecond) } : {}),
        } : {}),
        // The machine against the machine: our grid's worker threads against PyTorch's threads.
        ...(grid ? { gridComparedTo: `${grid.workers} workers of ${grid.backend}`, ratioGridToTorch: ratio(grid.value, r.value) } : {}),
      };
    }
  }
}

export const run: BenchSuite = async function* (opts: BenchOptions): AsyncGenerator<BenchRecord> {
  const { describeBackend } = await import('../ml/backends/select.ts');
  // The fastest non-cpu tfjs figure of this run, for the PyTorch ratio.
  const ours = new Map<string, Mine>();
  const keep = (bench: string, backend: string, t: Throughput) => {
    if (backend === 'cpu') return;
    const prev = ours.get(bench);
    if (!prev || t.imagesPerSecond > prev.value) ours.set(bench, { backend, value: t.imagesPerSecond, perCpuSecond: t.imagesPerCpuSecond });
  };
  /** The identity each target that ran computed with. */
  const labels = new Map<string, string>();
  for (const target of expandTargets(opts.backends)) {
    const entered = await enterTarget(target);
    if (!entered.ok) {
      yield { bench: 'training', backend: target, value: NaN, unit: 'images/s', skipped: entered.reason };
      continue;
    }
    const name = entered.label;
    labels.set(target, name);
    const p = plan(name, opts.seconds);
    const provenance = describeBackend();
    const label = name === 'cpu' ? `tiny run: batch ${p.batch}, ${p.maxSteps} steps` : undefined;
    const t = await measureTraining(p);
    keep('training', name, t);
    yield {
      bench: 'training', backend: name, value: round(t.imagesPerSecond), unit: 'images/s', imagesPerCpuSecond: round(t.imagesPerCpuSecond),
      batch: t.batch, steps: t.steps, seconds: round(t.seconds), ...(label ? { note: label } : {}), provenance,
    };
    const g = await measureInputGradient(p);
    keep('input-gradient', name, g);
    yield {
      bench: 'input-gradient', backend: name, value: round(g.imagesPerSecond), unit: 'images/s', imagesPerCpuSecond: round(g.imagesPerCpuSecond),
      batch: g.batch, steps: g.steps, seconds: round(g.seconds), ...(label ? { note: label } : {}), provenance,
    };
  }
  await leaveTargets();
  const grids = new Map<string, Grid>();
  // The machine's figure for the first backend asked for that ran (its default kernels).
  const gridTarget = opts.backends.find((b) => b !== 'cpu' && labels.has(b));
  if (gridTarget) {
    for (const phase of ['training', 'input-gradient'] as const) {
      const g = await measureGrid({ target: gridTarget, phase, options: plan(gridTarget, opts.seconds) });
      const backend = labels.get(gridTarget)!;
      grids.set(phase, { backend, workers: g.workers, value: g.imagesPerSecond });
      yield {
        bench: `grid-${phase}`, backend, value: round(g.imagesPerSecond), unit: 'images/s', workers: g.workers,
        perWorker: g.perWorker.map((t) => round(t.imagesPerSecond)), batch: g.perWorker[0]!.batch, seconds: round(Math.max(...g.perWorker.map((t) => t.seconds))),
        note: 'one worker thread per core, as the experiment grid runs, all timed over the same window',
      };
    }
  }
  if (opts.compareTorch) yield* compareTorch(opts.seconds, ours, grids);
};

/** The worker count of this run's grid figures (every phase uses the same), or 0 when none ran. */
const workersOf = (grids: Map<string, Grid>) => [...grids.values()][0]?.workers ?? 0;

const round = (v: number) => Math.round(v * 10) / 10;
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
