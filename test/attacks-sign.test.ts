import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { loadMnist, saturatedCopy, trainTinyModel } from './attacks-fixtures.ts';
import { exactSign, exactSignValues } from '../src/flagship/ml/attacks/sign.ts';
import { fgsm } from '../src/flagship/ml/attacks/fgsm.ts';
import { gradWithLogits, fgsmLoss } from '../src/flagship/ml/attacks/core.ts';
import { argmaxRows, logitGaps } from '../src/flagship/ml/attacks/metrics.ts';
import { subsetData } from '../src/flagship/ml/attacks/evaluate.ts';
import { initBackend } from '../src/flagship/ml/backends/select.ts';
import { buildModel } from '../src/flagship/ml/model.ts';
import type { AttackData } from '../src/flagship/ml/attacks/types.ts';

// Issue 11: tf.sign on the wasm backend returns 0 below about 1e-7, and the FGSM gradients of a
// distilled network deployed at T = 1 are 1e-40 to 1e-20. The attacks take the sign in JS instead.

const SMALLEST_SUBNORMAL = 2 ** -149;
const PROBE = [1e-3, 1e-7, 1e-10, 1e-30, 1e-38, 1e-40, SMALLEST_SUBNORMAL, -1e-36, -SMALLEST_SUBNORMAL, 0, -0];
const EXPECTED_SIGN = [1, 1, 1, 1, 1, 1, 1, -1, -1, 0, 0];

/** Backends that load here: cpu and wasm always; the TensorFlow ones where their packages install. */
async function loadableBackends(): Promise<string[]> {
  const out: string[] = [];
  for (const name of ['cpu', 'wasm', 'tensorflow'] as const) {
    try {
      await initBackend(name);
      out.push(name);
    } catch { /* not installed on this machine: covered where it loads */ }
  }
  return out;
}

let backends: string[];
before(async () => { backends = await loadableBackends(); });

test('exact sign: every non-zero float32 down to the smallest subnormal is ±1, only ±0 is 0', () => {
  const probe = Float32Array.from(PROBE);
  assert.equal(probe[6], SMALLEST_SUBNORMAL, 'the probe holds a float32 subnormal');
  assert.deepEqual(Array.from(exactSignValues(probe)), EXPECTED_SIGN);
  assert.deepEqual(Array.from(exactSignValues([NaN])), [0], 'a NaN gradient never moves a pixel');
});

test('exact sign of subnormals on every backend that loads, and the ops the attacks rely on keep them', async () => {
  assert.ok(backends.includes('cpu') && backends.includes('wasm'), `cpu and wasm load (got ${backends.join(', ')})`);
  for (const name of backends) {
    await initBackend(name as never);
    const x = tf.tensor1d(PROBE);
    // -0 and 0 are the same value here (wasm's maximum(-0, 0) is -0).
    const read = async (t: tf.Tensor) => { const v = Array.from(await t.data(), (e) => (e === 0 ? 0 : e)); t.dispose(); return v; };
    const sign = await exactSign(x);
    assert.deepEqual(Array.from(await sign.data()), EXPECTED_SIGN, `${name}: exact sign`);
    sign.dispose();
    // The comparisons and reductions behind the saturation diagnostic, JSMA's domain and the
    // clipping of FGSM / PGD: none may flush a subnormal to zero.
    const positive = PROBE.map((v) => (v > 0 ? 1 : 0));
    assert.deepEqual(await read(tf.greater(x, 0)), positive, `${name}: greater`);
    assert.deepEqual(await read(tf.less(x, 0)), PROBE.map((v) => (v < 0 ? 1 : 0)), `${name}: less`);
    assert.deepEqual(await read(tf.notEqual(x, 0)), PROBE.map((v) => (v !== 0 ? 1 : 0)), `${name}: notEqual`);
    assert.deepEqual(await read(tf.step(x)), positive, `${name}: step`);
    assert.deepEqual(await read(tf.abs(x)), Array.from(Float32Array.from(PROBE, Math.abs)), `${name}: abs`);
    assert.deepEqual(await read(tf.where(tf.greater(x, 0), x, tf.zerosLike(x))), Array.from(Float32Array.from(PROBE, (v) => (v > 0 ? v : 0))), `${name}: where`);
    assert.deepEqual(await read(tf.maximum(x, 0)), Array.from(Float32Array.from(PROBE, (v) => (v > 0 ? v : 0))), `${name}: maximum`);
    assert.deepEqual(await read(tf.max(tf.tensor1d([0, SMALLEST_SUBNORMAL, -1]))), [SMALLEST_SUBNORMAL], `${name}: max`);
    assert.deepEqual(await read(tf.argMax(tf.tensor2d([[0, SMALLEST_SUBNORMAL], [SMALLEST_SUBNORMAL, 0], [-SMALLEST_SUBNORMAL, 0]]), 1)), [1, 0, 1], `${name}: argMax`);
    x.dispose();
  }
  await initBackend('cpu');
});

/** The input gradients of `model`'s FGSM loss on `data`, per sample the largest |value|. */
async function gradientScale(model: tf.LayersModel, data: AttackData): Promise<number[]> {
  const n = data.labels.length;
  const x = tf.tensor(data.images, [n, 28, 28, 1]);
  const oneHot = tf.oneHot(tf.tensor1d(Int32Array.from(data.labels), 'int32'), 10).toFloat() as tf.Tensor2D;
  const { grad, logits } = gradWithLogits(model, x, (z) => fgsmLoss('softmax-cross-entropy', z, oneHot));
  const g = await grad.data();
  tf.dispose([x, oneHot, grad, logits]);
  return Array.from({ length: n }, (_, i) => Math.max(...Array.from(g.subarray(i * 784, (i + 1) * 784), Math.abs)));
}

/**
 * FGSM on `model` on the cpu and the wasm backend: the same outcomes, and the same adversarial
 * pixels but for at most `allowedFraction` of them (see the convolutional test).
 */
async function assertFgsmAgrees(model: tf.LayersModel, data: AttackData, eps: number, allowedFraction = 0): Promise<void> {
  await initBackend('cpu');
  const onCpu = await fgsm(model, data, { eps });
  await initBackend('wasm');
  const onWasm = await fgsm(model, data, { eps });
  await initBackend('cpu');
  assert.deepEqual(onWasm.outcomes.map((o) => [o.predBefore, o.predAfter, o.success]), onCpu.outcomes.map((o) => [o.predBefore, o.predAfter, o.success]));
  assert.ok(onWasm.outcomes.every((o) => o.linf > eps - 1e-6), 'every sample moved by the full eps on wasm');
  let differ = 0;
  for (let i = 0; i < onCpu.adversarial.length; i++) if (onCpu.adversarial[i] !== onWasm.adversarial[i]) differ++;
  assert.ok(differ <= allowedFraction * onCpu.adversarial.length, `${differ} of ${onCpu.adversarial.length} adversarial pixels differ between cpu and wasm`);
}

/**
 * The samples of `data` whose largest input gradient on `model` (cpu backend) lies in
 * [1e-34, 1e-26]: tiny, but far above the subnormal range, where a pixel's gradient is a sum
 * of a few ulps of 2^-149 and its last bit depends on the order of the sum (so on the backend).
 */
async function tinyGradientSamples(model: tf.LayersModel, data: AttackData): Promise<AttackData> {
  await initBackend('cpu');
  const scales = await gradientScale(model, data);
  return subsetData(data, [...scales.keys()].filter((i) => scales[i] >= 1e-34 && scales[i] <= 1e-26));
}

/** The logit gaps of `model` on `data`, ascending. */
async function sortedGaps(model: tf.LayersModel, data: AttackData): Promise<number[]> {
  const n = data.labels.length;
  const logits = tf.tidy(() => model.apply(tf.tensor(data.images, [n, 28, 28, 1])) as tf.Tensor);
  const gaps = Array.from(logitGaps(await logits.data(), 10)).sort((a, b) => a - b);
  logits.dispose();
  return gaps;
}

test('FGSM on a saturated network (input gradients about 1e-30): the same success and pixels on cpu and wasm', async () => {
  await initBackend('cpu');
  const base = await trainTinyModel();
  const t = loadMnist('t10k', 100);
  // Logits scaled so that the median sample's gradient is about 1e-30: softmax's other
  // probabilities are ~exp(-gap), so gap x factor ~ 69.
  const gaps = await sortedGaps(base, { images: t.images, labels: t.labels });
  const saturated = saturatedCopy(base, 69 / gaps[50]);
  const data = await tinyGradientSamples(saturated, { images: t.images, labels: t.labels });
  assert.ok(data.labels.length >= 10, `${data.labels.length} samples with gradients in [1e-34, 1e-26]`);
  const result = await fgsm(saturated, data, { eps: 0.3 });
  assert.ok(result.outcomes.every((o) => o.linf > 0.29), 'every sample is perturbed by the full eps (tf.sign on wasm would leave them all unchanged)');
  assert.ok(result.outcomes.some((o) => o.success), 'FGSM succeeds on some of them');
  await assertFgsmAgrees(saturated, data, 0.3);
});

test('FGSM through the paper\'s convolutional network (native kernels on wasm), saturated: cpu and wasm agree up to near-ties', async () => {
  await initBackend('cpu');
  const model = buildModel(7);
  const t = loadMnist('t10k', 60);
  // Untrained: label every image with the network's own prediction, so that all are "correct"
  // and the scaled network's softmax saturates on them as a distilled one does.
  const logits = tf.tidy(() => model.apply(tf.tensor(t.images, [60, 28, 28, 1])) as tf.Tensor);
  const labels = Int32Array.from(argmaxRows(await logits.data(), 10));
  logits.dispose();
  const all: AttackData = { images: t.images, labels };
  const gaps = await sortedGaps(model, all);
  const last = model.getLayer('logits');
  last.setWeights(last.getWeights().map((w) => tf.mul(w, 69 / gaps[30])));
  const data = await tinyGradientSamples(model, all);
  assert.ok(data.labels.length >= 3, `${data.labels.length} samples with gradients in [1e-34, 1e-26]`);
  // The native OpenBLAS convolutions sum in another order than the cpu backend, so the forward
  // pass differs in the last bits, and a near-tie at a max-pooling window or a ReLU can route
  // a gradient differently (measured: 1 pixel of 4,704 here; XNNPACK alone: 0). A flushed sign
  // would leave nearly every pixel unchanged instead.
  await assertFgsmAgrees(model, data, 0.3, 0.005);
});
