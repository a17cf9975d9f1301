import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../../engine/util/errors.ts';
import { checkEps, fgsmLoss, gradWithLogits, runUntargetedVariants, type CraftedBatch, type GradientFacts } from './core.ts';
import { exactLogitGradient, inCancellationRegime } from './logit-gradient.ts';
import { argmaxRows } from './metrics.ts';
import { exactSignValues } from './sign.ts';
import { gradientFacts } from './saturation.ts';
import {
  fgsmVariantOf,
  type AttackData, type AttackOptions, type AttackResult, type FgsmGradient, type FgsmParams, type FgsmVariant,
} from './types.ts';

/**
 * FGSM (Goodfellow et al. 2015), untargeted, L-infinity:
 *   x' = clip(x + eps * sign(grad_x loss(x, y)), 0, 1)
 * with the loss of `params.loss` on logits / temperature, in one of two arithmetics
 * (types.ts, FgsmGradient): 'float32', the framework's own gradient of that loss, or 'exact',
 * the sign of the true gradient through the rescaled logit gradient (logit-gradient.ts); and
 * with or without the clip to [0, 1].
 *
 * The sign is exact down to the smallest subnormal (sign.ts: tf.sign on wasm is not). Only an
 * exactly zero gradient leaves a pixel unchanged.
 */

/** The base parameters of every variant (the gradient and the clip are the variant's). */
export type FgsmBaseParams = Omit<FgsmParams, 'gradient' | 'clip'>;

export function checkFgsmParams(params: FgsmBaseParams): { loss: NonNullable<FgsmParams['loss']>; temperature: number; logitScale: number } {
  checkEps(params.eps);
  const loss = params.loss ?? 'softmax-cross-entropy';
  const temperature = params.temperature ?? 1;
  if (!(temperature > 0)) throw new UserError(`FGSM temperature = ${temperature} is not positive`, 'use 1 for the paper\'s attack, or the distillation temperature for the corrected one');
  const logitScale = params.logitScale ?? 1;
  if (!(logitScale > 0) || !Number.isFinite(logitScale)) throw new UserError(`FGSM logitScale = ${logitScale} is not a positive number`, 'use 1 (no scaling), or T for the logits x T control');
  return { loss, temperature, logitScale };
}

/** x + eps * sign, clipped to [0, 1] or not, in float32 (the same bits as tfjs's add and clip). */
function step(x: Float32Array, sign: Float32Array, eps: number, clip: boolean): Float32Array {
  const e = Math.fround(eps);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = Math.fround(x[i] + e * sign[i]);
    out[i] = clip ? Math.min(1, Math.max(0, v)) : v;
  }
  return out;
}

/**
 * Every requested FGSM variant from shared passes: one forward and backward pass per gradient
 * kind used (the float32 loss gradient; the rescaled exact one), each variant's step from its
 * gradient's sign, and one classification pass per variant. Keyed by variant.
 */
export async function fgsmVariants<V extends FgsmVariant>(
  model: tf.LayersModel, data: AttackData, params: FgsmBaseParams, variants: readonly V[], opts: AttackOptions = {},
): Promise<Record<V, AttackResult>> {
  if (variants.length === 0) throw new UserError('FGSM: no variant requested', `name at least one of float32, float32-noclip, exact, exact-noclip`);
  const { loss, temperature, logitScale } = checkFgsmParams(params);
  const name = temperature === 1 ? 'fgsm' : 'fgsm-temperature';
  const specs = Object.fromEntries(variants.map((v) => {
    const { gradient, clip } = fgsmVariantOf(v);
    return [v, { attack: name, params: { eps: params.eps, loss, temperature, ...(logitScale !== 1 ? { logitScale } : {}), gradient, clip } }];
  })) as unknown as Record<V, { attack: typeof name; params: Record<string, string | number | boolean> }>;
  const gradients = [...new Set(variants.map((v) => fgsmVariantOf(v).gradient))];
  // The loss sees logitScale * z / T; the exact gradient drops every positive factor.
  const lossScale = logitScale / temperature;
  return runUntargetedVariants(model, data, specs, opts, async (x, labels, _ids, g) => {
    const xs = (await x.data()) as Float32Array;
    const passes = await fgsmGradients(model, x, labels, g.numClasses, { loss, temperature, logitScale }, gradients);
    // Every pass sees the same logits (same inputs, same batch): the facts come from the first.
    const logitData = passes.get(gradients[0])!.logits;
    const seen = logitScale === 1 ? logitData : Float32Array.from(logitData, (v) => v * logitScale);
    const predBefore = argmaxRows(logitData, g.numClasses);
    const cancellation = inCancellationRegime(logitData, labels, g.numClasses, lossScale);
    const facts = new Map<FgsmGradient, GradientFacts>([...passes].map(([kind, p]) => [kind, { ...gradientFacts(p.grad, seen, g.size, g.numClasses), cancellation }]));
    const signs = new Map([...passes].map(([kind, p]) => [kind, exactSignValues(p.grad)]));
    const out = {} as Record<V, CraftedBatch>;
    for (const v of variants) {
      const { gradient, clip } = fgsmVariantOf(v);
      out[v] = { adversarial: step(xs, signs.get(gradient)!, params.eps, clip), predBefore, iterations: 1, gradient: facts.get(gradient)! };
    }
    return out;
  });
}

/** The input gradient and the logits of one gradient kind's pass over a batch. */
export interface FgsmPass {
  grad: Float32Array;
  logits: Float32Array;
}

/**
 * FGSM's input gradients of a batch `x`, one forward and backward pass per kind: 'float32',
 * the framework's gradient of the loss on logitScale * logits / temperature; 'exact', J^T g
 * with g the rescaled logit gradient of that same pass (logit-gradient.ts; every positive
 * factor dropped, so only its sign is meaningful).
 */
export async function fgsmGradients(
  model: tf.LayersModel, x: tf.Tensor, labels: Int32Array, numClasses: number,
  params: { loss: NonNullable<FgsmParams['loss']>; temperature: number; logitScale: number }, kinds: readonly FgsmGradient[],
): Promise<Map<FgsmGradient, FgsmPass>> {
  const { loss, temperature, logitScale } = params;
  const scaled = (z: tf.Tensor2D) => (logitScale === 1 ? z : tf.mul(z, logitScale) as tf.Tensor2D);
  const passes = new Map<FgsmGradient, FgsmPass>();
  for (const kind of kinds) {
    const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses).toFloat() as tf.Tensor2D);
    const objective = kind === 'float32'
      ? (z: tf.Tensor2D) => fgsmLoss(loss, scaled(z), oneHot, temperature)
      // J^T g for the rescaled g of this very forward pass: sum(z * g) has logit gradient g.
      : (z: tf.Tensor2D) => {
        const G = exactLogitGradient(z.dataSync(), labels, numClasses, logitScale / temperature);
        return tf.sum(tf.mul(z, tf.tensor(Float32Array.from(G), z.shape))) as tf.Scalar;
      };
    const { grad, logits } = gradWithLogits(model, x, objective);
    const [gradData, logitData] = await Promise.all([grad.data() as Promise<Float32Array>, logits.data() as Promise<Float32Array>]);
    tf.dispose([oneHot, grad, logits]);
    passes.set(kind, { grad: gradData, logits: logitData });
  }
  return passes;
}

/** One FGSM variant (default: float32 gradient, clipped). */
export async function fgsm(model: tf.LayersModel, data: AttackData, params: FgsmParams, opts: AttackOptions = {}): Promise<AttackResult> {
  const { gradient = 'float32', clip = true, ...base } = params;
  if (gradient !== 'float32' && gradient !== 'exact') throw new UserError(`FGSM gradient '${String(gradient)}' is unknown`, "use 'float32' or 'exact'");
  const variant = `${gradient}${clip ? '' : '-noclip'}` as FgsmVariant;
  return (await fgsmVariants(model, data, base, [variant], opts))[variant];
}

/** FGSM on logits / T: the temperature-corrected attack on a network distilled at T. */
export function fgsmTemperature(model: tf.LayersModel, data: AttackData, params: FgsmParams & { temperature: number }, opts: AttackOptions = {}): Promise<AttackResult> {
  return fgsm(model, data, params, opts);
}
