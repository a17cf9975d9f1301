import * as tf from '@tensorflow/tfjs';
import { loadMnist } from '../test/attacks-fixtures.ts';
import { gradWithLogits, fgsmLoss } from '../src/ml/attacks/core.ts';
import { argmaxRows, logitGaps } from '../src/ml/attacks/metrics.ts';
import { initBackend, backendIdentity } from '../src/ml/backends/select.ts';
import { buildModel } from '../src/ml/model.ts';
await initBackend('cpu');
const model = buildModel(7);
const t = loadMnist('t10k', 60);
const lg = tf.tidy(() => model.apply(tf.tensor(t.images, [60, 28, 28, 1])) as tf.Tensor);
const z = await lg.data();
const labels = Int32Array.from(argmaxRows(z, 10));
const gaps = Array.from(logitGaps(z, 10)).sort((a, b) => a - b);
const last = model.getLayer('logits');
last.setWeights(last.getWeights().map((w) => tf.mul(w, 69 / gaps[30])));
const pick = [5, 11, 37, 45, 46, 57];
const imgs = new Float32Array(pick.length * 784); pick.forEach((s, k) => imgs.set(t.images.subarray(s * 784, (s + 1) * 784), k * 784));
async function g() {
  const x = tf.tensor(imgs, [pick.length, 28, 28, 1]);
  const oneHot = tf.oneHot(tf.tensor1d(pick.map((s) => labels[s]), 'int32'), 10).toFloat() as tf.Tensor2D;
  const r = gradWithLogits(model, x, (zz) => fgsmLoss('softmax-cross-entropy', zz, oneHot));
  return await r.grad.data();
}
const a = await g();
await initBackend((process.argv[2] ?? 'wasm') as never);
console.log(backendIdentity());
const b = await g();
for (let s = 0; s < pick.length; s++) {
  const ga = a.subarray(s * 784, (s + 1) * 784), gb = b.subarray(s * 784, (s + 1) * 784);
  const ma = Math.max(...Array.from(ga, Math.abs)), mb = Math.max(...Array.from(gb, Math.abs));
  if (ma < 1e-34 || ma > 1e-26) continue;
  let flips = 0, worst = 0;
  for (let i = 0; i < 784; i++) if (Math.sign(ga[i]) !== Math.sign(gb[i])) console.log('  flip', i, ga[i], gb[i]);
  for (let i = 0; i < 784; i++) if (Math.sign(ga[i]) !== Math.sign(gb[i])) { flips++; worst = Math.max(worst, Math.abs(ga[i]) / ma); }
  let rel = 0; for (let i = 0; i < 784; i++) rel = Math.max(rel, Math.abs(ga[i] - gb[i]) / ma);
  console.log('sample', s, 'max', ma.toExponential(2), mb.toExponential(2), 'flips', flips, 'worst flip rel', worst.toExponential(2), 'max rel diff', rel.toExponential(2));
}
