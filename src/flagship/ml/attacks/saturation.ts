import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../../engine/util/errors.ts';
import { silentProgress, type ProgressReporter } from '../../../engine/util/progress.ts';
import { fgsmLoss, geometryOf, gradWithLogits, type GradientFacts } from './core.ts';
import { inCancellationRegime } from './logit-gradient.ts';
import { histogram, logitGaps, quantiles } from './metrics.ts';
import type { AttackData, FgsmLoss, SampleOutcome } from './types.ts';

export interface SaturationOptions {
  /** The FGSM loss whose gradient is inspected (default 'softmax-cross-entropy'). */
  loss?: FgsmLoss;
  /** Loss on logits / temperature (default 1: the deployed network, as FGSM sees it). */
  temperature?: number;
  batchSize?: number;
  progress?: ProgressReporter;
  /** Lower edges of the logit-gap histogram bins; the last bin is open. */
  gapEdges?: number[];
}

export const GAP_QUANTILES = [0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1] as const;
export const DEFAULT_GAP_EDGES = [0, 1, 2, 5, 10, 17, 20, 50, 88, 104, 200, 500, 1000, 2000, 5000];

/**
 * Why gradient attacks fail on a distilled network, measured (reference.md, "Why distillation
 * works"). JSON-serialisable.
 */
export interface SaturationReport {
  samples: number;
  params: { loss: FgsmLoss; temperature: number };
  /** Samples whose FGSM-loss gradient wrt the input is exactly 0 in every pixel (float32). */
  zeroGradientCount: number;
  zeroGradientFraction: number;
  /** Samples whose largest softmax probability at T = 1 is exactly 1 in float32. */
  saturatedSoftmaxFraction: number;
  /**
   * Samples in float32's cancellation regime: the softmax mass of the classes other than the
   * true one (of the logits the loss sees) is below 2^-24, so p_y rounds to 1 and the loss
   * gradient's direction is set by rounding (logit-gradient.ts).
   */
  cancellationCount: number;
  cancellationFraction: number;
  /** Top logit minus second logit. */
  logitGap: {
    mean: number;
    quantiles: Array<{ p: number; value: number }>;
    histogram: { edges: number[]; counts: number[] };
  };
}

/**
 * Per sample of a batch: is the loss gradient exactly zero in every pixel (float32, no
 * threshold), the logit gap, and is the top softmax probability exactly 1 in float32 (the
 * softmax of `logits` evaluated as float32 is: exp(z - max), summed in order, 1 / sum).
 */
export function gradientFacts(grad: ArrayLike<number>, logits: ArrayLike<number>, size: number, numClasses: number): GradientFacts {
  const m = Math.floor(logits.length / numClasses);
  const zeroGradient: boolean[] = [];
  const saturatedSoftmax: boolean[] = [];
  for (let i = 0; i < m; i++) {
    let allZero = true;
    for (let p = i * size; p < (i + 1) * size; p++) if (grad[p] !== 0) { allZero = false; break; }
    zeroGradient.push(allZero);
    let max = -Infinity;
    for (let j = 0; j < numClasses; j++) max = Math.max(max, logits[i * numClasses + j]);
    let sum = 0;
    for (let j = 0; j < numClasses; j++) sum = Math.fround(sum + Math.fround(Math.exp(logits[i * numClasses + j] - max)));
    saturatedSoftmax.push(Math.fround(1 / sum) === 1);
  }
  return { zeroGradient, logitGap: logitGaps(logits, numClasses), saturatedSoftmax };
}

/** The report of `gaps` and per-sample flags (the one summary behind both entry points below). */
function summarizeSaturation(facts: { zero: number; saturated: number; cancellation: number; gaps: Float64Array }, params: SaturationReport['params'], edges: number[]): SaturationReport {
  const n = facts.gaps.length;
  let sum = 0;
  for (const v of facts.gaps) sum += v;
  const qs = quantiles(facts.gaps, GAP_QUANTILES);
  return {
    samples: n,
    params,
    zeroGradientCount: facts.zero,
    zeroGradientFraction: n > 0 ? facts.zero / n : 0,
    saturatedSoftmaxFraction: n > 0 ? facts.saturated / n : 0,
    cancellationCount: facts.cancellation,
    cancellationFraction: n > 0 ? facts.cancellation / n : 0,
    logitGap: {
      mean: n > 0 ? sum / n : NaN,
      quantiles: GAP_QUANTILES.map((p, i) => ({ p, value: qs[i] })),
      histogram: { edges: [...edges], counts: histogram(facts.gaps, edges) },
    },
  };
}

/**
 * The saturation report of an FGSM run, from the gradient facts it recorded per sample (the
 * same gradient the attack used: no second pass, and no chance of measuring another one).
 */
export function saturationFromOutcomes(outcomes: readonly SampleOutcome[], params: SaturationReport['params'], edges: number[] = DEFAULT_GAP_EDGES): SaturationReport {
  if (outcomes.some((o) => o.zeroGradient === undefined || o.logitGap === undefined || o.cancellation === undefined)) {
    throw new Error('saturationFromOutcomes: these outcomes carry no gradient facts (only FGSM records them)');
  }
  return summarizeSaturation({
    zero: outcomes.filter((o) => o.zeroGradient).length,
    saturated: outcomes.filter((o) => o.saturatedSoftmax).length,
    cancellation: outcomes.filter((o) => o.cancellation).length,
    gaps: Float64Array.from(outcomes, (o) => o.logitGap!),
  }, params, edges);
}

/**
 * Per model: the fraction of samples whose loss gradient is exactly zero (the exact sign maps
 * only those to 0, so FGSM leaves them untouched) and the distribution of the logit gap that
 * causes it.
 */
export async function saturationDiagnostic(model: tf.LayersModel, data: AttackData, opts: SaturationOptions = {}): Promise<SaturationReport> {
  const g = geometryOf(model, data);
  const loss = opts.loss ?? 'softmax-cross-entropy';
  const temperature = opts.temperature ?? 1;
  const batchSize = opts.batchSize ?? 100;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserError(`batch size ${batchSize} is not a positive integer`, 'use e.g. 100');
  const edges = opts.gapEdges ?? DEFAULT_GAP_EDGES;
  if (edges.some((e, i) => i > 0 && e <= edges[i - 1])) throw new UserError('gapEdges must be increasing', 'give bin lower edges in increasing order');
  const task = (opts.progress ?? silentProgress).start('saturation', g.n, 'img');
  let zero = 0;
  let saturated = 0;
  let cancellation = 0;
  const gaps = new Float64Array(g.n);
  for (let start = 0; start < g.n; start += batchSize) {
    const end = Math.min(g.n, start + batchSize);
    const m = end - start;
    const labels = Int32Array.from({ length: m }, (_, i) => data.labels[start + i]);
    const x = tf.tensor(data.images.subarray(start * g.size, end * g.size), [m, ...g.inputShape]);
    const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), g.numClasses).toFloat() as tf.Tensor2D);
    const { grad, logits } = gradWithLogits(model, x, (z) => fgsmLoss(loss, z, oneHot, temperature));
    const [gradData, logitData] = await Promise.all([grad.data(), logits.data()]);
    tf.dispose([x, oneHot, grad, logits]);
    const facts = gradientFacts(gradData, logitData, g.size, g.numClasses);
    zero += facts.zeroGradient.filter(Boolean).length;
    saturated += facts.saturatedSoftmax.filter(Boolean).length;
    cancellation += inCancellationRegime(logitData, labels, g.numClasses, 1 / temperature).filter(Boolean).length;
    gaps.set(facts.logitGap, start);
    task.update(end);
  }
  task.done();
  return summarizeSaturation({ zero, saturated, cancellation, gaps }, { loss, temperature }, edges);
}
