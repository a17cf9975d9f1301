import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../../engine/util/errors.ts';
import { logitsOf, runUntargeted } from './core.ts';
import { argmaxRows } from './metrics.ts';
import type { AttackData, AttackOptions, AttackResult } from './types.ts';

export interface CwL2Params {
  /** Margin kappa the adversarial logit must win by (default 0). */
  confidence?: number;
  /** Adam steps per binary-search step (default 100; C&W use up to 10,000). */
  steps?: number;
  /** Binary-search steps over the trade-off constant c (default 5; C&W use 9). */
  binarySteps?: number;
  /** Starting c (default 0.1; C&W use 1e-3 with more binary steps). */
  initialConst?: number;
  /**
   * Adam learning rate (default 0.05; C&W use 1e-2 with 10,000 steps). In tanh space a pixel
   * at 0 or 1 barely moves at first, so a short budget needs a larger rate.
   */
  learningRate?: number;
}

/**
 * Carlini & Wagner's L2 attack (arXiv:1608.04644), untargeted: minimise
 *   ||x' - x||_2^2 + c * max(z_y(x') - max_{k != y} z_k(x'), -kappa)
 * over x' = (tanh(w) + 1) / 2 (always in [0, 1]) with Adam, and binary-search c per sample.
 * The loss is on the logits, so a saturated softmax does not stop it. Keeps, per sample, the
 * smallest-L2 misclassified point found; a sample never misclassified is returned unchanged.
 */
export async function cwL2(model: tf.LayersModel, data: AttackData, params: CwL2Params = {}, opts: AttackOptions = {}): Promise<AttackResult> {
  const kappa = params.confidence ?? 0;
  const steps = params.steps ?? 100;
  const binarySteps = params.binarySteps ?? 5;
  const initialConst = params.initialConst ?? 0.1;
  const learningRate = params.learningRate ?? 0.05;
  if (!Number.isInteger(steps) || steps < 1 || !Number.isInteger(binarySteps) || binarySteps < 1) {
    throw new UserError(`C&W steps = ${steps}, binarySteps = ${binarySteps} must be positive integers`, 'use e.g. steps 100, binarySteps 5');
  }
  if (!(initialConst > 0) || !(learningRate > 0) || !(kappa >= 0)) {
    throw new UserError('C&W initialConst and learningRate must be positive and confidence non-negative', 'use the defaults');
  }
  const recorded = { confidence: kappa, steps, binarySteps, initialConst, learningRate };
  return runUntargeted(model, data, 'cw-l2', recorded, opts, async (x, labels, _ids, g) => {
    const m = labels.length;
    const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), g.numClasses).toFloat() as tf.Tensor2D);
    const isTrue = tf.tidy(() => tf.cast(oneHot, 'bool'));
    const clean = tf.tidy(() => logitsOf(model, x));
    const predBefore = argmaxRows(await clean.data(), g.numClasses);
    clean.dispose();
    const original = (await x.data()) as Float32Array;
    const best = Float32Array.from(original);
    const bestL2 = new Float64Array(m).fill(Infinity);
    const c = new Float64Array(m).fill(initialConst);
    const lower = new Float64Array(m).fill(0);
    const upper = new Float64Array(m).fill(1e10);
    const w0 = tf.tidy(() => tf.atanh(tf.mul(tf.sub(tf.mul(x, 2), 1), 0.999999)));

    for (let bs = 0; bs < binarySteps; bs++) {
      const w = tf.variable(w0); // shares w0's data until Adam assigns new values
      const cT = tf.tensor1d(Float32Array.from(c));
      const optimizer = tf.train.adam(learningRate);
      const succeeded = new Uint8Array(m);
      const evaluate = () => tf.tidy(() => {
        const adv = tf.div(tf.add(tf.tanh(w), 1), 2);
        const z = logitsOf(model, adv);
        const l2 = tf.sum(tf.reshape(tf.square(tf.sub(adv, x)), [m, -1]), 1);
        return { adv, z, l2 };
      });
      for (let s = 0; s < steps; s++) {
        optimizer.minimize(() => tf.tidy(() => {
          const adv = tf.div(tf.add(tf.tanh(w), 1), 2);
          const z = logitsOf(model, adv);
          const trueLogit = tf.sum(tf.mul(z, oneHot), 1);
          const otherMax = tf.max(tf.where(isTrue, tf.fill(z.shape, -Infinity), z), 1);
          const margin = tf.maximum(tf.sub(trueLogit, otherMax), -kappa);
          const dist = tf.sum(tf.reshape(tf.square(tf.sub(adv, x)), [m, -1]), 1);
          return tf.sum(tf.add(dist, tf.mul(cT, margin))) as tf.Scalar;
        }), false, [w]);
        // Check progress every 10 steps and at the end: cheap relative to the steps themselves.
        if (s % 10 === 9 || s === steps - 1) {
          const { adv, z, l2 } = evaluate();
          const [advData, zData, l2Data] = await Promise.all([adv.data(), z.data(), l2.data()]);
          tf.dispose([adv, z, l2]);
          const pred = argmaxRows(zData, g.numClasses);
          for (let i = 0; i < m; i++) {
            let otherMax = -Infinity;
            for (let k = 0; k < g.numClasses; k++) if (k !== labels[i]) otherMax = Math.max(otherMax, zData[i * g.numClasses + k]);
            if (pred[i] !== labels[i] && otherMax - zData[i * g.numClasses + labels[i]] >= kappa) {
              succeeded[i] = 1;
              if (l2Data[i] < bestL2[i]) {
                bestL2[i] = l2Data[i];
                best.set(advData.subarray(i * g.size, (i + 1) * g.size), i * g.size);
              }
            }
          }
        }
      }
      tf.dispose([w, cT]);
      optimizer.dispose();
      for (let i = 0; i < m; i++) {
        if (succeeded[i]) {
          upper[i] = Math.min(upper[i], c[i]);
          c[i] = (lower[i] + upper[i]) / 2;
        } else {
          lower[i] = Math.max(lower[i], c[i]);
          c[i] = upper[i] < 1e9 ? (lower[i] + upper[i]) / 2 : c[i] * 10;
        }
      }
    }
    tf.dispose([oneHot, isTrue, w0]);
    return { adversarial: best, predBefore, iterations: steps * binarySteps };
  });
}
