import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../../engine/util/errors.ts';
import { checkEps, logitsOf, mixSeed, runUntargeted, seededUniform } from './core.ts';
import { argmaxRows } from './metrics.ts';
import { exactSign } from './sign.ts';
import type { AttackData, AttackOptions, AttackResult, PgdParams } from './types.ts';

/**
 * The C&W margin loss, summed over the batch: max over other classes of the logit minus the
 * true logit. Positive means misclassified. It uses the logits only, so a saturated softmax
 * cannot hide its gradient.
 */
export function marginLoss(logits: tf.Tensor2D, oneHot: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const isTrue = tf.cast(oneHot, 'bool');
    const trueLogit = tf.sum(tf.mul(logits, oneHot), 1);
    const otherMax = tf.max(tf.where(isTrue, tf.fill(logits.shape, -Infinity), logits), 1);
    return tf.sum(tf.sub(otherMax, trueLogit));
  });
}

/**
 * Projected gradient ascent on the margin loss in the L-infinity ball of radius eps around x,
 * intersected with [0, 1]: x_{k+1} = proj(x_k + stepSize * sign(grad)), with the exact sign of sign.ts. A fixed number of steps
 * (no early stop) and the last iterate is the adversarial example. The optional random start
 * draws each sample's noise from (seed, sample id), so results do not depend on batching.
 */
export async function pgd(model: tf.LayersModel, data: AttackData, params: PgdParams, opts: AttackOptions = {}): Promise<AttackResult> {
  checkEps(params.eps);
  checkEps(params.stepSize, 'stepSize');
  if (!Number.isInteger(params.steps) || params.steps < 1) throw new UserError(`PGD steps = ${params.steps} is not a positive integer`, 'use e.g. 40 steps');
  const randomStart = params.randomStart ?? false;
  const seed = params.seed ?? 0;
  const recorded = { eps: params.eps, steps: params.steps, stepSize: params.stepSize, randomStart, seed };
  return runUntargeted(model, data, 'pgd-margin', recorded, opts, async (x, labels, ids, g) => {
    const m = labels.length;
    const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), g.numClasses).toFloat() as tf.Tensor2D);
    const clean = tf.tidy(() => logitsOf(model, x));
    const predBefore = argmaxRows(await clean.data(), g.numClasses);
    clean.dispose();
    const lo = tf.tidy(() => tf.clipByValue(tf.sub(x, params.eps), 0, 1));
    const hi = tf.tidy(() => tf.clipByValue(tf.add(x, params.eps), 0, 1));
    let adv: tf.Tensor;
    if (randomStart) {
      const noise = new Float32Array(m * g.size);
      for (let i = 0; i < m; i++) {
        const rand = seededUniform(mixSeed(seed, ids[i]));
        for (let p = 0; p < g.size; p++) noise[i * g.size + p] = (2 * rand() - 1) * params.eps;
      }
      adv = tf.tidy(() => tf.minimum(tf.maximum(tf.add(x, tf.tensor(noise, x.shape)), lo), hi));
    } else {
      adv = tf.clone(x);
    }
    const gradOf = tf.grad((xx: tf.Tensor) => marginLoss(logitsOf(model, xx), oneHot));
    for (let step = 0; step < params.steps; step++) {
      const grad = tf.tidy(() => gradOf(adv));
      const sign = await exactSign(grad);
      const next = tf.tidy(() => tf.minimum(tf.maximum(tf.add(adv, tf.mul(sign, params.stepSize)), lo), hi));
      tf.dispose([grad, sign, adv]);
      adv = next;
    }
    const advData = (await adv.data()) as Float32Array;
    tf.dispose([adv, lo, hi, oneHot]);
    return { adversarial: advData, predBefore, iterations: params.steps };
  });
}
