import * as tf from '@tensorflow/tfjs';
import { loadMnist, saturatedCopy, trainTinyModel } from '../test/attacks-fixtures.ts';
import { gradWithLogits, fgsmLoss } from '../src/ml/attacks/core.ts';
import { logitGaps } from '../src/ml/attacks/metrics.ts';
import { initBackend } from '../src/ml/backends/select.ts';
await initBackend('cpu');
const base = await trainTinyModel();
const t = loadMnist('t10k', 60);
const logits = tf.tidy(() => base.apply(tf.tensor(t.images, [60, 28, 28, 1])) as tf.Tensor);
const gaps = Array.from(logitGaps(await logits.data(), 10)).sort((a, b) => a - b);
const sat = saturatedCopy(base, 69 / gaps[30]);
async function grads() {
  const x = tf.tensor(t.images, [60, 28, 28, 1]);
  const oneHot = tf.oneHot(tf.tensor1d(t.labels, 'int32'), 10).toFloat() as tf.Tensor2D;
  const { grad } = gradWithLogits(sat, x, (z) => fgsmLoss('softmax-cross-entropy', z, oneHot));
  return grad.data();
}
const a = await grads();
await initBackend('wasm');
const b = await grads();
let n = 0;
for (let i = 0; i < a.length; i++) if (Math.sign(a[i]) !== Math.sign(b[i])) { if (n++ < 15) console.log(i, Math.floor(i / 784), a[i], b[i]); }
console.log('differ', n);
