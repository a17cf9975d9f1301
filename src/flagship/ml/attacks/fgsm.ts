import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../../engine/util/errors.ts';
import { checkEps, fgsmLoss, gradWithLogits, runUntargeted } from './core.ts';
import { argmaxRows } from './metrics.ts';
import { exactSignValues } from './sign.ts';
import { gradientFacts } from './saturation.ts';
import type { AttackData, AttackOptions, AttackResult, FgsmParams } from './types.ts';

/**
 * FGSM (Goodfellow et al. 2015), untargeted, L-infinity:
 *   x' = clip(x + eps * sign(grad_x loss(x, y)), 0, 1)
 * with the loss of `params.loss` on logits / temperature in float32 (types.ts, FgsmLoss).
 * The sign is exact down to the smallest subnormal (sign.ts: tf.sign on wasm is not). Only an
 * exactly zero gradient leaves a pixel unchanged: on a saturated (distilled, deployed at
 * T = 1) network that, and nothing else, is what defeats the attack.
 */
export async function fgsm(model: tf.LayersModel, data: AttackData, params: FgsmParams, opts: AttackOptions = {}): Promise<AttackResult> {
  checkEps(params.eps);
  const loss = params.loss ?? 'softmax-cross-entropy';
  const temperature = params.temperature ?? 1;
  if (!(temperature > 0)) throw new UserError(`FGSM temperature = ${temperature} is not positive`, 'use 1 for the paper\'s attack, or the distillation temperature for the corrected one');
  const logitScale = params.logitScale ?? 1;
  if (!(logitScale > 0) || !Number.isFinite(logitScale)) throw new UserError(`FGSM logitScale = ${logitScale} is not a positive number`, 'use 1 (no scaling), or T for the logits x T control');
  const name = temperature === 1 ? 'fgsm' : 'fgsm-temperature';
  const recorded = { eps: params.eps, loss, temperature, ...(logitScale !== 1 ? { logitScale } : {}) };
  const scaled = (z: tf.Tensor2D) => (logitScale === 1 ? z : tf.mul(z, logitScale) as tf.Tensor2D);
  return runUntargeted(model, data, name, recorded, opts, async (x, labels, _ids, g) => {
    const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), g.numClasses).toFloat() as tf.Tensor2D);
    const { grad, logits } = gradWithLogits(model, x, (z) => fgsmLoss(loss, scaled(z), oneHot, temperature));
    const gradData = (await grad.data()) as Float32Array;
    const sign = tf.tensor(exactSignValues(gradData), grad.shape, 'float32');
    const adv = tf.tidy(() => tf.clipByValue(tf.add(x, tf.mul(sign, params.eps)), 0, 1));
    const seen = tf.tidy(() => scaled(logits));
    const [advData, logitData, seenData] = await Promise.all([adv.data() as Promise<Float32Array>, logits.data(), seen.data()]);
    tf.dispose([oneHot, grad, sign, logits, adv, seen]);
    return {
      adversarial: advData, predBefore: argmaxRows(logitData, g.numClasses), iterations: 1,
      gradient: gradientFacts(gradData, seenData, g.size, g.numClasses),
    };
  });
}

/** FGSM on logits / T: the temperature-corrected attack on a network distilled at T. */
export function fgsmTemperature(model: tf.LayersModel, data: AttackData, params: FgsmParams & { temperature: number }, opts: AttackOptions = {}): Promise<AttackResult> {
  return fgsm(model, data, params, opts);
}
