import * as tf from '@tensorflow/tfjs';
import type { BenchOptions, BenchRecord, BenchSuite } from './types.ts';
import { enterTarget, expandTargets, leaveTargets } from './targets.ts';
import { paperNetworkSteps } from './training.ts';

/**
 * Where a step's time goes, kernel by kernel (tfjs's own profiler, `tf.profile`): one
 * training step and one input gradient of the paper's network, per backend. This is the
 * profile that showed the convolution gradients dominating on XNNPACK; keeping it in the
 * bench makes the next bottleneck as easy to find.
 */

export interface KernelShare {
  kernel: string;
  /** Milliseconds in this kernel, summed over its calls in one step (median over the profiled steps). */
  ms: number;
  calls: number;
  /** Fraction of the step's total kernel time (the sum of the medians). */
  share: number;
}

export interface KernelProfile {
  phase: 'training' | 'input-gradient';
  totalMs: number;
  kernels: KernelShare[];
}

/**
 * Profile each phase (after `warmup` untimed steps), kernels sorted by time: per kernel, the
 * median over `repeats` profiled steps of its time in a step, so that one step slowed by
 * another process on a shared machine does not decide the split.
 */
export async function profileKernels(batch: number, warmup = 2, repeats = 5): Promise<KernelProfile[]> {
  const steps = await paperNetworkSteps(batch);
  const phases: Array<[KernelProfile['phase'], () => tf.Tensor]> = [['training', steps.training], ['input-gradient', steps.inputGradient]];
  const out: KernelProfile[] = [];
  try {
    for (const [phase, run] of phases) {
      const step = () => {
        const t = run();
        t.dataSync();
        t.dispose();
      };
      for (let i = 0; i < warmup; i++) step();
      const samples = new Map<string, { ms: number[]; calls: number }>();
      for (let r = 0; r < repeats; r++) {
        const info = await tf.profile(step);
        const byKernel = new Map<string, { ms: number; calls: number }>();
        for (const k of info.kernels) {
          const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
          e.ms += Number(k.kernelTimeMs) || 0;
          e.calls += 1;
          byKernel.set(k.name, e);
        }
        for (const [name, e] of byKernel) {
          const s = samples.get(name) ?? { ms: [], calls: e.calls };
          s.ms.push(e.ms);
          samples.set(name, s);
        }
      }
      const medians = [...samples].map(([kernel, s]) => ({ kernel, ms: median(s.ms), calls: s.calls }));
      const totalMs = medians.reduce((sum, k) => sum + k.ms, 0);
      const kernels = medians.map((k) => ({ ...k, share: totalMs > 0 ? k.ms / totalMs : 0 })).sort((a, b) => b.ms - a.ms);
      out.push({ phase, totalMs, kernels });
    }
  } finally {
    steps.dispose();
  }
  return out;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

/** The eight most expensive kernels of each phase (medians of 5 steps), per backend; the cpu backend is skipped (minutes a step). */
export const run: BenchSuite = async function* (opts: BenchOptions): AsyncGenerator<BenchRecord> {
  for (const target of expandTargets(opts.backends)) {
    if (target === 'cpu') continue;
    const entered = await enterTarget(target);
    if (!entered.ok) {
      yield { bench: 'kernel-profile', backend: target, value: NaN, unit: 'ms', skipped: entered.reason };
      continue;
    }
    const repeats = 5;
    for (const p of await profileKernels(128, 2, repeats)) {
      for (const k of p.kernels.slice(0, 8)) {
        yield { bench: 'kernel-profile', backend: entered.label, phase: p.phase, kernel: k.kernel, value: round(k.ms), unit: 'ms', calls: k.calls, share: round(k.share, 3), stepMs: round(p.totalMs), batch: 128, medianOfSteps: repeats };
      }
    }
  }
  await leaveTargets();
};
