import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/ml/backends/select.ts';
for (const b of ['cpu', 'wasm'] as const) {
  await initBackend(b);
  const vals = [1e-3, 1e-7, 1e-10, 1e-30, 1e-40, -1e-36, -1e-45, 0];
  const x = tf.tensor1d(vals);
  const show = (name: string, t: tf.Tensor) => console.log(b, name.padEnd(10), Array.from(t.dataSync()).map((v) => (typeof v === 'number' ? v.toExponential(1) : v)).join(' '));
  show('input', x);
  show('sign', tf.sign(x));
  show('abs', tf.abs(x));
  show('greater0', tf.greater(x, 0));
  show('less0', tf.less(x, 0));
  show('notEq0', tf.notEqual(x, 0));
  show('step', tf.step(x));
  show('relu', tf.relu(x));
  show('neg', tf.neg(x));
  show('mul1', tf.mul(x, 1));
  show('where', tf.where(tf.greater(x, 0), x, tf.zerosLike(x)));
  show('max', tf.max(x.slice(4, 1).concat(tf.tensor1d([0]))));
  show('maximum', tf.maximum(x, 0));
  show('argMax', tf.argMax(tf.tensor2d([[0, 1e-40], [1e-45, 0], [-1e-40, 0]]), 1));
  show('sum', tf.sum(tf.tensor1d([1e-40, 1e-40])));
  show('clip', tf.clipByValue(tf.add(tf.tensor1d([0.5, 0.5]), tf.mul(tf.tensor1d([1e-40, -1e-40]), 1e38)), 0, 1));
}
