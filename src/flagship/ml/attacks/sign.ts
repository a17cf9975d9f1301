import * as tf from '@tensorflow/tfjs';

/**
 * The sign step of the gradient attacks, exact for every float32.
 *
 * tfjs's `tf.sign` is not: on the wasm backend (tfjs 4.22) it returns 0 for any |x| below
 * about 1e-7, and the loss gradients of a distilled network deployed at T = 1 are typically
 * 1e-40 to 1e-20, subnormals included. A sign of 0 leaves the pixel unchanged, so FGSM would
 * look defeated where the gradient is tiny but not zero. The sign is therefore taken here, in
 * JavaScript, on the values read back from the backend: a comparison with 0 is exact for
 * every double, and a float32 read into a double (subnormals included) is exact too. Only
 * ±0 maps to 0 (NaN too, so that a broken gradient never moves a pixel).
 */
export function exactSignValues(values: ArrayLike<number>): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = v > 0 ? 1 : v < 0 ? -1 : 0;
  }
  return out;
}

/** `exactSignValues` of a tensor, as a new float32 tensor of the same shape (the caller disposes it). */
export async function exactSign(t: tf.Tensor): Promise<tf.Tensor> {
  return tf.tensor(exactSignValues(await t.data() as Float32Array), t.shape, 'float32');
}
