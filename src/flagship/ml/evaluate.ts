import * as tf from '@tensorflow/tfjs';
import { forwardLogits } from './model.ts';
import { IMAGE_SIZE, type Split } from './data/mnist.ts';

/** Logits (n * 10, row-major) of the deployed network (no dropout) on `images` (n * 784 in [0, 1]). */
export function predictLogits(model: tf.LayersModel, images: Float32Array, batchSize = 256): Float32Array {
  const n = images.length / IMAGE_SIZE;
  if (!Number.isInteger(n)) throw new RangeError(`images has ${images.length} values, not a multiple of ${IMAGE_SIZE}`);
  const out = new Float32Array(n * 10);
  for (let start = 0; start < n; start += batchSize) {
    const b = Math.min(batchSize, n - start);
    const logits = tf.tidy(() => {
      const x = tf.tensor4d(images.slice(start * IMAGE_SIZE, (start + b) * IMAGE_SIZE), [b, 28, 28, 1]);
      return forwardLogits(model, x);
    });
    out.set(logits.dataSync() as Float32Array, start * 10);
    logits.dispose();
  }
  return out;
}

/** Index of the largest of each row of 10 (first one on ties). */
export function argmaxRows(logits: Float32Array, classes = 10): Uint8Array {
  const n = logits.length / classes;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
    out[i] = best;
  }
  return out;
}

/** Fraction of `split` classified correctly by the deployed network. */
export function evaluateAccuracy(model: tf.LayersModel, split: Split, batchSize = 256): number {
  if (split.count === 0) return NaN;
  const predicted = argmaxRows(predictLogits(model, split.images.subarray(0, split.count * IMAGE_SIZE), batchSize));
  let correct = 0;
  for (let i = 0; i < split.count; i++) if (predicted[i] === split.labels[i]) correct++;
  return correct / split.count;
}
