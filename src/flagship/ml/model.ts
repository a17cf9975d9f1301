import * as tf from '@tensorflow/tfjs';

/**
 * The paper's 9-layer MNIST network (reference.md, "Network"), producing logits.
 *
 * Dropout is deliberately not a layer: a seeded tfjs Dropout layer repeats the same mask
 * on every call, and an unseeded one draws from Math.random (not reproducible). Training
 * applies dropout itself, after `fc1`, with a fresh seed per step (see `forwardLogits`).
 * The saved model is therefore exactly the deployed (inference) network.
 */
export const ARCHITECTURE = 'papernot2016-mnist-9layer/v1';

/** Name of the layer after which dropout is applied during training. */
export const DROPOUT_AFTER = 'fc1';

export function buildModel(seed: number): tf.Sequential {
  let k = 0;
  const init = () => tf.initializers.glorotUniform({ seed: seed * 16 + k++ });
  const conv = (filters: number, name: string, inputShape?: [number, number, number]) =>
    tf.layers.conv2d({
      name, filters, kernelSize: 3, strides: 1, padding: 'valid', activation: 'relu',
      kernelInitializer: init(), biasInitializer: 'zeros', ...(inputShape ? { inputShape } : {}),
    });
  const dense = (units: number, name: string, activation: 'relu' | 'linear') =>
    tf.layers.dense({ name, units, activation, kernelInitializer: init(), biasInitializer: 'zeros' });

  return tf.sequential({
    name: 'papernot2016',
    layers: [
      conv(32, 'conv1', [28, 28, 1]),
      conv(32, 'conv2'),
      tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2, strides: 2 }),
      conv(64, 'conv3'),
      conv(64, 'conv4'),
      tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2, strides: 2 }),
      tf.layers.flatten({ name: 'flatten' }),
      dense(200, 'fc1', 'relu'),
      dense(200, 'fc2', 'relu'),
      dense(10, 'logits', 'linear'),
    ],
  });
}

export interface ForwardOptions {
  /** Dropout rate after fc1 during training; 0 (or absent) at inference. */
  dropoutRate?: number;
  /** Seed of this step's dropout mask: vary it every step. */
  dropoutSeed?: number;
}

/** Logits of `model` on a batch `x` of shape [n, 28, 28, 1], with optional training dropout. */
export function forwardLogits(model: tf.LayersModel, x: tf.Tensor, opts: ForwardOptions = {}): tf.Tensor2D {
  return tf.tidy(() => {
    let h: tf.Tensor = x;
    for (const layer of model.layers) {
      h = layer.apply(h) as tf.Tensor;
      if (layer.name === DROPOUT_AFTER && opts.dropoutRate && opts.dropoutRate > 0) {
        h = tf.dropout(h, opts.dropoutRate, undefined, opts.dropoutSeed);
      }
    }
    return h as tf.Tensor2D;
  });
}

/** Softmax at temperature T: softmax(logits / T) (the paper's equation (1)). */
export function softmaxAtTemperature(logits: tf.Tensor2D, temperature: number): tf.Tensor2D {
  return tf.tidy(() => tf.softmax(temperature === 1 ? logits : tf.div(logits, temperature)) as tf.Tensor2D);
}
