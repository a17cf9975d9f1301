import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { loadMnist, saturatedCopy, trainTinyModel } from './attacks-fixtures.ts';
import { initBackend } from '../src/flagship/ml/backends/select.ts';
import { buildModel } from '../src/flagship/ml/model.ts';
import { crossEntropyLogitGradient64, float64Network, forward64, inputGradient64 } from '../src/flagship/ml/float64-network.ts';
import { exactLogitGradient, inCancellationRegime, logOtherClassMass, FLOAT32_CANCELLATION_LOG_MASS } from '../src/flagship/ml/attacks/logit-gradient.ts';
import { fgsmVariants } from '../src/flagship/ml/attacks/fgsm.ts';
import { judgeFgsm } from '../src/flagship/ml/attacks/float64-judge.ts';
import { argmaxRows, logitGaps } from '../src/flagship/ml/attacks/metrics.ts';
import type { AttackData } from '../src/flagship/ml/attacks/types.ts';

// Issue 20: two correct float32 implementations of FGSM disagreed by 6 points on the baseline,
// because the loss gradient's true-class component cancels once p_y rounds to 1. The `exact`
// variant takes the sign of J^T g with g rescaled in log space; a float64 pass judges both.

before(async () => { await initBackend('wasm'); });

test('the rescaled logit gradient is (p - onehot) / max_{j != y} p_j, finite at any gap', () => {
  const logits = [2, -1, 0.5, 3, 0];
  const y = 3;
  const g = exactLogitGradient(logits, [y], 5);
  const plain = crossEntropyLogitGradient64(logits, y);
  const maxOther = Math.max(...plain.filter((_, j) => j !== y));
  plain.forEach((v, j) => assert.ok(Math.abs(g[j] - v / maxOther) < 1e-12, `entry ${j}: ${g[j]} vs ${v / maxOther}`));
  assert.equal(Math.max(...g.filter((_, j) => j !== y)), 1, 'the runner-up entry is exactly 1');
  // A misclassified sample: the rescaling still points from the true class to the others.
  assert.ok(exactLogitGradient([5, 0, 1], [1], 3)[1] < 0);
  // A gap of 2,000 (a distilled network deployed at T = 1): float32 and even float64 softmax underflow; this does not.
  const huge = exactLogitGradient([2000, 0, -5], [0], 3);
  assert.deepEqual(Array.from(huge), [-(1 + Math.exp(-5)), 1, Math.exp(-5)]);
  assert.ok(crossEntropyLogitGradient64([2000, 0, -5], 0).every((v) => v === 0), 'the plain float64 gradient is the zero vector there');
  // The scale (logitScale / T) applies to the logits the loss sees.
  const scaled = exactLogitGradient([2, 0, 1], [0], 3, 10);
  assert.ok(Math.abs(scaled[2] - 1) < 1e-15 && Math.abs(scaled[1] - Math.exp(-10)) < 1e-18);
});

test('the other classes\' softmax mass in log space, and float32\'s cancellation regime below 2^-24', () => {
  const direct = (z: number[], y: number) => {
    const e = z.map((v) => Math.exp(v));
    const s = e.reduce((a, b) => a + b, 0);
    return Math.log((s - e[y]) / s);
  };
  for (const z of [[1, 2, 3], [10, -3, 0.1], [0, 0, 0]]) {
    for (let y = 0; y < 3; y++) assert.ok(Math.abs(logOtherClassMass(z, [y], 3)[0] - direct(z, y)) < 1e-12);
  }
  // Nine other classes at gap d: mass ~ 9 e^-d; below 2^-24 from d = ln 9 + 24 ln 2 ~ 18.83.
  const nine = (d: number) => [d, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  assert.ok(Math.abs(logOtherClassMass(nine(1000), [0], 10)[0] - (Math.log(9) - 1000)) < 1e-9, 'finite far beyond float64 underflow');
  assert.deepEqual(inCancellationRegime([...nine(18.7), ...nine(19)], [0, 0], 10), [false, true]);
  assert.ok(FLOAT32_CANCELLATION_LOG_MASS === -24 * Math.LN2);
  assert.deepEqual(inCancellationRegime(nine(2), [0], 10, 10), [true], 'logits x 10 are confident');
});

test('the float64 network computes what tfjs computes: logits and input gradients of the paper\'s network', async () => {
  await initBackend('cpu');
  const model = buildModel(3);
  const { images, labels } = loadMnist('t10k', 4);
  const net = float64Network(model);
  assert.equal(net.numClasses, 10);
  for (let i = 0; i < 4; i++) {
    const img = images.subarray(i * 784, (i + 1) * 784);
    const fwd = forward64(net, img);
    const x = tf.tensor(img, [1, 28, 28, 1]);
    const y = tf.oneHot([labels[i]], 10).toFloat();
    const z = (model.apply(x) as tf.Tensor).dataSync();
    const gx = tf.grad((xx: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, model.apply(xx) as tf.Tensor, undefined, 0, tf.Reduction.SUM) as tf.Scalar)(x).dataSync();
    const dx = inputGradient64(net, fwd, crossEntropyLogitGradient64(fwd.logits, labels[i]));
    const maxZ = Math.max(...Array.from(z, Math.abs));
    const maxG = Math.max(...Array.from(dx, Math.abs));
    for (let j = 0; j < 10; j++) assert.ok(Math.abs(z[j] - fwd.logits[j]) <= 1e-5 * maxZ, `logit ${j}`);
    for (let j = 0; j < 784; j++) assert.ok(Math.abs(gx[j] - dx[j]) <= 1e-4 * maxG, `pixel ${j}: ${gx[j]} vs ${dx[j]}`);
    tf.dispose([x, y]);
  }
  await initBackend('wasm');
});

test('the float64 network refuses a layer it cannot compute, by name', () => {
  const m = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 10, activation: 'softmax', name: 'probs' })] });
  assert.throws(() => float64Network(m), /layer 'probs' has activation 'softmax'/);
  const bn = tf.sequential({ layers: [tf.layers.batchNormalization({ inputShape: [28, 28, 1], name: 'bn' })] });
  assert.throws(() => float64Network(bn), /layer 'bn' \(BatchNormalization\) is not supported/);
});

/** The paper's network, untrained, labels = its own predictions, last layer scaled until its softmax is confident like a distilled network's. */
async function confidentConvNet(count: number, targetGap: number): Promise<{ model: tf.LayersModel; data: AttackData }> {
  const model = buildModel(7);
  const t = loadMnist('t10k', count);
  const logits = tf.tidy(() => model.apply(tf.tensor(t.images, [count, 28, 28, 1])) as tf.Tensor);
  const raw = await logits.data();
  logits.dispose();
  const labels = Int32Array.from(argmaxRows(raw, 10));
  const gaps = Array.from(logitGaps(raw, 10)).sort((a, b) => a - b);
  const last = model.getLayer('logits');
  last.setWeights(last.getWeights().map((w) => tf.mul(w, targetGap / gaps[Math.floor(count / 2)])));
  return { model, data: { images: t.images, labels } };
}

test('on a confident network, float32 FGSM follows rounding and exact FGSM follows float64, pixel for pixel', async () => {
  // Median logit gap 18: about half the digits in float32's cancellation regime (gap above
  // about 18.8), most inside float64's judgeable range (other-class mass >= 1e-12).
  const { model, data } = await confidentConvNet(40, 18);
  const j = await judgeFgsm(model, data, { eps: 0.3 });
  assert.ok(j.cancellation >= 10, `${j.cancellation} of 40 digits in float32's cancellation regime`);
  assert.ok(j.judgeable >= 20, `${j.judgeable} digits judgeable in float64`);
  assert.equal(j.rescalingAgainstFloat64.digitsDiffering, 0, 'the rescaling itself is exact');
  assert.equal(j.againstFloat64.exact.digitsDiffering, 0, `exact differs from float64 on ${j.againstFloat64.exact.pixelsDiffering} pixels`);
  assert.ok(j.againstFloat64.exact.pixels > 5000, 'on thousands of compared pixels');
  assert.ok(j.againstFloat64.float32.digitsDiffering >= 5, `float32 differs from float64 on ${j.againstFloat64.float32.digitsDiffering} digits`);
  // And the attack itself: the same network, the same digits, two adversarial sets.
  const v = await fgsmVariants(model, data, { eps: 0.3 }, ['float32', 'exact']);
  let differing = 0;
  for (let i = 0; i < 40; i++) {
    const a = v.float32.adversarial.subarray(i * 784, (i + 1) * 784);
    const b = v.exact.adversarial.subarray(i * 784, (i + 1) * 784);
    if (a.some((x, k) => x !== b[k])) differing++;
  }
  assert.ok(differing >= 5, `${differing} digits perturbed differently`);
  assert.ok(v.exact.outcomes.every((o) => o.cancellation !== undefined));
  model.dispose();
});

test('on a network far from saturation the two gradients agree, and unclipped FGSM leaves [0, 1]', async () => {
  const base = await trainTinyModel();
  await initBackend('wasm');
  const t = loadMnist('t10k', 40);
  const data = { images: t.images, labels: t.labels };
  const j = await judgeFgsm(base, data, { eps: 0.3 });
  assert.equal(j.cancellation, 0);
  assert.equal(j.againstRescaled64.exact.digitsDiffering, 0);
  // float32 loses relative precision in p_y - 1 as 1e-7 / (other classes' mass) well before
  // full cancellation, so a pixel or two of a confident digit may still flip.
  assert.ok(j.againstRescaled64.float32.digitsDiffering <= 2, `float32 differs on ${j.againstRescaled64.float32.digitsDiffering} digits`);
  const v = await fgsmVariants(base, data, { eps: 0.3 }, ['float32', 'float32-noclip', 'exact-noclip']);
  const a = v['exact-noclip'].adversarial;
  const b = v['float32-noclip'].adversarial;
  assert.ok(a.filter((x, k) => x !== b[k]).length <= 5, 'the two gradients move the same pixels the same way, but for a near-tie or two');
  assert.ok(v['float32-noclip'].adversarial.some((x) => x < 0 || x > 1), 'unclipped pixels leave [0, 1]');
  assert.ok(v.float32.adversarial.every((x) => x >= 0 && x <= 1));
  assert.equal(v.float32.summary.params.clip, true);
  assert.equal(v['float32-noclip'].summary.params.clip, false);
  // A saturated copy (logits x 1e3): float32's gradient is exactly zero, exact's is not.
  const sat = saturatedCopy(base, 1e3);
  const s = await fgsmVariants(sat, data, { eps: 0.3 }, ['float32', 'exact']);
  assert.ok(s.float32.outcomes.filter((o) => o.zeroGradient).length > 30, 'float32: zero gradients');
  assert.equal(s.exact.outcomes.filter((o) => o.zeroGradient).length, 0, 'exact: none');
  assert.ok(s.exact.summary.headlineRate > s.float32.summary.headlineRate + 0.3);
});
