import { mulberry32 } from '../random.ts';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../../engine/util/errors.ts';
import { silentProgress } from '../../../engine/util/progress.ts';
import { argmaxRows, isSuccess, perturbationOf, summarize } from './metrics.ts';
import {
  HEADLINE_DEFINITION,
  type AttackData, type AttackName, type AttackOptions, type AttackResult, type FgsmLoss, type SampleOutcome,
} from './types.ts';

/** Shapes the attacks need from a model and a data set, checked once. */
export interface AttackGeometry {
  /** Per-sample input shape, e.g. [28, 28, 1]. */
  inputShape: number[];
  /** Values per sample (784 for MNIST). */
  size: number;
  numClasses: number;
  n: number;
  ids: ArrayLike<number>;
}

export function geometryOf(model: tf.LayersModel, data: AttackData): AttackGeometry {
  const shape = model.inputs[0].shape.slice(1);
  if (shape.some((d) => d === null)) {
    throw new UserError(`model input shape ${JSON.stringify(model.inputs[0].shape)} has unknown dimensions`,
      'build the model with a fixed inputShape, e.g. [28, 28, 1]');
  }
  const inputShape = shape as number[];
  const size = inputShape.reduce((a, b) => a * b, 1);
  const outShape = (model.outputs[0].shape as Array<number | null>);
  const numClasses = outShape[outShape.length - 1];
  if (numClasses === null || numClasses < 2) throw new UserError(`model output shape ${JSON.stringify(outShape)} is not [n, classes]`, 'the attacks need a model producing logits [n, classes]');
  const n = data.labels.length;
  if (data.images.length !== n * size) {
    throw new UserError(`attack data has ${data.images.length} pixel values for ${n} labels; expected ${n * size} (${n} x ${inputShape.join('x')})`,
      'pass images as a Float32Array of shape [n, ...model input shape] with one label per image');
  }
  if (data.ids && data.ids.length !== n) throw new UserError(`attack data has ${data.ids.length} ids for ${n} labels`, 'give one id per sample or none');
  for (let i = 0; i < n; i++) {
    const y = data.labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) throw new UserError(`label ${y} of sample ${i} is not a class in 0..${numClasses - 1}`, 'labels must be class indices');
  }
  const ids = data.ids ?? Int32Array.from({ length: n }, (_, i) => i);
  return { inputShape, size, numClasses, n, ids };
}

/** The samples at `indices` of `data` (ids follow them), e.g. the first 1,000 test images. */
export function subsetData(data: AttackData, indices: readonly number[]): AttackData {
  const size = data.images.length / Math.max(1, data.labels.length);
  const images = new Float32Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  const ids = new Int32Array(indices.length);
  indices.forEach((src, k) => {
    if (!Number.isInteger(src) || src < 0 || src >= data.labels.length) {
      throw new UserError(`sample index ${src} is outside 0..${data.labels.length - 1}`, 'choose indices inside the data set');
    }
    images.set(data.images.subarray(src * size, (src + 1) * size), k * size);
    labels[k] = data.labels[src];
    ids[k] = data.ids ? data.ids[src] : src;
  });
  return { images, labels, ids };
}

export function logitsOf(model: tf.LayersModel, x: tf.Tensor): tf.Tensor2D {
  return model.apply(x) as tf.Tensor2D;
}

/**
 * The FGSM loss of a batch, summed over samples. Summing (not averaging) keeps every sample's
 * gradient independent of the batch size: a mean would scale tiny float32 gradients by 1/n
 * and could round some to zero, making results depend on batching.
 */
export function fgsmLoss(kind: FgsmLoss, logits: tf.Tensor2D, oneHot: tf.Tensor2D, temperature = 1): tf.Scalar {
  const z = temperature === 1 ? logits : tf.div(logits, temperature) as tf.Tensor2D;
  if (kind === 'softmax-cross-entropy') {
    return tf.losses.softmaxCrossEntropy(oneHot, z, undefined, 0, tf.Reduction.SUM) as tf.Scalar;
  }
  if (kind === 'categorical-cross-entropy') {
    return tf.sum(tf.metrics.categoricalCrossentropy(oneHot, tf.softmax(z)));
  }
  throw new UserError(`unknown FGSM loss '${kind as string}'`, "use 'softmax-cross-entropy' or 'categorical-cross-entropy'");
}

/**
 * Gradient of `loss(logits(x))` with respect to x, plus the logits of that same forward pass
 * (so the clean prediction costs nothing extra). The caller disposes both.
 */
export function gradWithLogits(
  model: tf.LayersModel, x: tf.Tensor, loss: (logits: tf.Tensor2D) => tf.Scalar,
): { grad: tf.Tensor; logits: tf.Tensor2D } {
  let logits: tf.Tensor2D | undefined;
  const grad = tf.grad((xx: tf.Tensor) => {
    const z = logitsOf(model, xx);
    logits = tf.keep(z);
    return loss(z);
  })(x);
  return { grad, logits: logits! };
}

/** Per-sample facts about the loss gradient of one batch (see SampleOutcome). */
export interface GradientFacts {
  zeroGradient: boolean[];
  logitGap: Float64Array;
  saturatedSoftmax: boolean[];
  /** Float32's cancellation regime: the other classes' softmax mass is below 2^-24 (logit-gradient.ts). */
  cancellation?: boolean[];
}

/** One batch of crafted examples. */
export interface CraftedBatch {
  adversarial: Float32Array;
  predBefore: Int32Array;
  iterations: number;
  gradient?: GradientFacts;
}

export type UntargetedCrafter = (
  x: tf.Tensor, labels: Int32Array, ids: ArrayLike<number>, geometry: AttackGeometry,
) => Promise<CraftedBatch>;

/** One of several attacks crafted from shared work (e.g. the FGSM variants of one gradient pass). */
export interface UntargetedVariant {
  attack: AttackName;
  params: Record<string, string | number | boolean>;
}

/** Crafts every variant of a batch at once, keyed like the variants it was given. */
export type UntargetedVariantsCrafter<V extends string> = (
  x: tf.Tensor, labels: Int32Array, ids: ArrayLike<number>, geometry: AttackGeometry,
) => Promise<Record<V, CraftedBatch>>;

/**
 * The batched evaluation loop shared by the untargeted attacks: craft a batch (every variant
 * of it), classify each variant's result, record outcomes, and summarise each variant.
 */
export async function runUntargetedVariants<V extends string>(
  model: tf.LayersModel, data: AttackData, variants: Record<V, UntargetedVariant>,
  opts: AttackOptions, craft: UntargetedVariantsCrafter<V>,
): Promise<Record<V, AttackResult>> {
  const g = geometryOf(model, data);
  const names = Object.keys(variants) as V[];
  const batchSize = opts.batchSize ?? 100;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserError(`batch size ${batchSize} is not a positive integer`, 'use e.g. 100');
  const keep = Math.min(opts.keepAdversarial ?? Infinity, g.n);
  const kept = new Map(names.map((v) => [v, new Float32Array(keep * g.size)]));
  const outcomes = new Map<V, SampleOutcome[]>(names.map((v) => [v, []]));
  const label = names.map((v) => variants[v].attack).filter((a, i, all) => all.indexOf(a) === i).join('+');
  const task = (opts.progress ?? silentProgress).start(label, g.n, 'img');
  const t0 = performance.now();
  for (let start = 0; start < g.n; start += batchSize) {
    const end = Math.min(g.n, start + batchSize);
    const m = end - start;
    const xs = data.images.subarray(start * g.size, end * g.size);
    const labels = Int32Array.from({ length: m }, (_, i) => data.labels[start + i]);
    const ids = Array.from({ length: m }, (_, i) => g.ids[start + i]);
    const x = tf.tensor(xs, [m, ...g.inputShape]);
    let crafted: Record<V, CraftedBatch>;
    try {
      crafted = await craft(x, labels, ids, g);
    } finally {
      x.dispose();
    }
    for (const v of names) {
      const c = crafted[v];
      const logitsAfter = tf.tidy(() => logitsOf(model, tf.tensor(c.adversarial, [m, ...g.inputShape])));
      const predAfter = argmaxRows(await logitsAfter.data(), g.numClasses);
      logitsAfter.dispose();
      const list = outcomes.get(v)!;
      for (let i = 0; i < m; i++) {
        const pert = perturbationOf(xs, i * g.size, c.adversarial, i * g.size, g.size);
        list.push({
          id: ids[i], label: labels[i], predBefore: c.predBefore[i], predAfter: predAfter[i],
          correctBefore: c.predBefore[i] === labels[i],
          success: isSuccess('untargeted', labels[i], predAfter[i]),
          ...pert, iterations: c.iterations,
          ...(c.gradient ? {
            zeroGradient: c.gradient.zeroGradient[i],
            logitGap: c.gradient.logitGap[i],
            saturatedSoftmax: c.gradient.saturatedSoftmax[i],
            ...(c.gradient.cancellation ? { cancellation: c.gradient.cancellation[i] } : {}),
          } : {}),
        });
        const k = start + i;
        if (k < keep) kept.get(v)!.set(c.adversarial.subarray(i * g.size, (i + 1) * g.size), k * g.size);
      }
    }
    task.update(end);
  }
  const wallMs = performance.now() - t0;
  const results = {} as Record<V, AttackResult>;
  for (const v of names) {
    const summary = summarize(variants[v].attack, 'untargeted', variants[v].params, g.n, outcomes.get(v)!);
    results[v] = { summary, outcomes: outcomes.get(v)!, adversarial: kept.get(v)!, timing: { wallMs, perSecond: g.n / Math.max(wallMs / 1000, 1e-9) } };
  }
  const rates = names.map((v) => `${names.length > 1 ? `${v} ` : ''}${(100 * results[v].summary.headlineRate).toFixed(2)}%`).join(', ');
  task.done(`${label}: success ${rates} (definition ${HEADLINE_DEFINITION})`);
  return results;
}

/** One untargeted attack: `runUntargetedVariants` with a single variant. */
export async function runUntargeted(
  model: tf.LayersModel, data: AttackData, attack: AttackName,
  params: Record<string, string | number | boolean>, opts: AttackOptions, craft: UntargetedCrafter,
): Promise<AttackResult> {
  const results = await runUntargetedVariants(model, data, { only: { attack, params } }, opts, async (...args) => ({ only: await craft(...args) }));
  return results.only;
}

/** Seeded uniform [0, 1) generator: deterministic random starts per sample (the project's one PRNG). */
export function seededUniform(seed: number): () => number {
  return mulberry32(seed);
}

/** Mixes a run seed and a sample id into one 32-bit seed, so that a sample's noise does not depend on batching. */
export function mixSeed(seed: number, id: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(id >>> 0, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

export function checkEps(eps: number, name = 'eps'): void {
  if (!Number.isFinite(eps) || eps < 0 || eps > 1) throw new UserError(`${name} = ${eps} is not in [0, 1]`, 'pixels are in [0, 1]; the paper uses eps = 0.3');
}
