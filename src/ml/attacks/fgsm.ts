import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../util/errors.ts';
import { checkEps, fgsmLoss, gradWithLogits, runUntargeted } from './core.ts';
import { argmaxRows } from './metrics.ts';
import type { AttackData, AttackOptions, AttackResult, FgsmParams } from './types.ts';

/**
 * FGSM (Goodfellow et al. 2015), untargeted, L-infinity:
 *   x' = clip(x + eps * sign(grad_x loss(x, y)), 0, 1)
 * with the loss of `params.loss` on logits / temperature in float32 (types.ts, FgsmLoss).
 * sign(0) = 0 (tf.sign), so a pixel whose gradient is exactly zero is left unchanged: on a
 * saturated (distilled, deployed at T = 1) network this is what defeats the attack.
 */
export async function fgsm(model: tf.LayersModel, data: AttackData, params: FgsmParams, opts: AttackOptions = {}): Promise<AttackResult> {
  checkEps(params.eps);
  const loss = params.loss ?? 'softmax-cross-entropy';
  const temperature = params.temperature ?? 1;
  if (!(temperature > 0)) throw new UserError(`FGSM temperature = ${temperature} is not positive`, 'use 1 for the paper\'s attack, or the distillation temperature for the corrected one');
  const name = temperature === 1 ? 'fgsm' : 'fgsm-temperature';
  return runUntargeted(model, data, name, { eps: params.eps, loss, temperature }, opts, async (x, labels, _ids, g) => {
    const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), g.numClasses).toFloat() as tf.Tensor2D);
    const { grad, logits } = gradWithLogits(model, x, (z) => fgsmLoss(loss, z, oneHot, temperature));
    const adv = tf.tidy(() => tf.clipByValue(tf.add(x, tf.mul(tf.sign(grad), params.eps)), 0, 1));
    const [advData, logitData] = await Promise.all([adv.data() as Promise<Float32Array>, logits.data()]);
    tf.dispose([oneHot, grad, logits, adv]);
    return { adversarial: advData, predBefore: argmaxRows(logitData, g.numClasses), iterations: 1 };
  });
}

/** FGSM on logits / T: the temperature-corrected attack on a network distilled at T. */
export function fgsmTemperature(model: tf.LayersModel, data: AttackData, params: FgsmParams & { temperature: number }, opts: AttackOptions = {}): Promise<AttackResult> {
  return fgsm(model, data, params, opts);
}
