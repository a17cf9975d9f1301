import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { constantModel, loadMnist, saturatedCopy, trainTinyModel } from './attacks-fixtures.ts';
import { fgsm, fgsmTemperature } from '../src/flagship/ml/attacks/fgsm.ts';
import { pgd } from '../src/flagship/ml/attacks/pgd.ts';
import { jsma } from '../src/flagship/ml/attacks/jsma.ts';
import { cwL2 } from '../src/flagship/ml/attacks/cw.ts';
import { saturationDiagnostic, saturationFromOutcomes } from '../src/flagship/ml/attacks/saturation.ts';
import { runAttack, subsetData } from '../src/flagship/ml/attacks/evaluate.ts';
import { logitGaps } from '../src/flagship/ml/attacks/metrics.ts';
import type { AttackData, AttackResult } from '../src/flagship/ml/attacks/types.ts';

// A small dense MNIST classifier (~88% on these samples), trained in a few seconds on the cpu
// backend, and its copy with logits x100: same predictions, saturated softmax, like a network
// distilled at T = 100 and deployed at T = 1.
let base: tf.Sequential;
let saturated: tf.Sequential;
let test100: AttackData;
/**
 * Test samples classified correctly with a logit gap of at least 1.5: x100 pushes the other
 * classes' probabilities past float32 underflow. (A misclassified sample keeps a gradient:
 * p(true) - 1 = -1.)
 */
let confident: AttackData;

before(async () => {
  base = await trainTinyModel();
  saturated = saturatedCopy(base, 100);
  const t = loadMnist('t10k', 100);
  test100 = { images: t.images, labels: t.labels };
  const logits = tf.tidy(() => base.apply(tf.tensor(t.images, [100, 28, 28, 1])) as tf.Tensor);
  const z = await logits.data();
  logits.dispose();
  const gaps = logitGaps(z, 10);
  const correct = (i: number) => z.subarray(i * 10, i * 10 + 10).indexOf(Math.max(...z.subarray(i * 10, i * 10 + 10))) === t.labels[i];
  confident = subsetData(test100, [...gaps.keys()].filter((i) => gaps[i] >= 1.5 && correct(i)));
});

function assertWithinBall(orig: Float32Array, r: AttackResult, eps: number): void {
  assert.equal(r.adversarial.length, orig.length);
  for (let i = 0; i < orig.length; i++) {
    const v = r.adversarial[i];
    assert.ok(v >= 0 && v <= 1, `pixel ${i} = ${v} outside [0, 1]`);
    assert.ok(Math.abs(v - orig[i]) <= eps + 1e-6, `pixel ${i} moved ${Math.abs(v - orig[i])} > eps ${eps}`);
  }
  for (const o of r.outcomes) assert.ok(o.linf <= eps + 1e-6);
}

test('the fixture model is trained and the saturated copy predicts the same', () => {
  const p = (m: tf.LayersModel) => Array.from((tf.tidy(() => (m.apply(tf.tensor(test100.images, [100, 28, 28, 1])) as tf.Tensor).argMax(1)) as tf.Tensor).dataSync());
  const pb = p(base);
  assert.deepEqual(p(saturated), pb);
  const acc = pb.filter((v, i) => v === test100.labels[i]).length / 100;
  assert.ok(acc > 0.75, `accuracy ${acc}`);
  assert.ok(confident.labels.length >= 60, `${confident.labels.length} confident samples`);
});

test('FGSM with eps = 0 changes nothing', async () => {
  const r = await fgsm(base, test100, { eps: 0 });
  assert.deepEqual(r.adversarial, test100.images);
  assert.ok(r.outcomes.every((o) => o.changedFraction === 0 && o.predAfter === o.predBefore));
  assert.equal(r.summary.counts.successAmongCorrect, 0);
});

test('FGSM and PGD perturbations stay within eps and [0, 1], and FGSM fools the normal model', async () => {
  const f = await fgsm(base, test100, { eps: 0.2 }, { batchSize: 32 });
  assertWithinBall(test100.images as Float32Array, f, 0.2);
  assert.ok(f.summary.rates.b > 0.5, `FGSM success ${f.summary.rates.b}`);
  assert.ok(f.outcomes.some((o) => Math.abs(o.linf - 0.2) < 1e-6));
  const p = await pgd(base, subsetData(test100, [...Array(30).keys()]), { eps: 0.1, steps: 5, stepSize: 0.04, randomStart: true, seed: 1 });
  assertWithinBall((subsetData(test100, [...Array(30).keys()]).images), p, 0.1);
});

test('results do not depend on the batch size, and the random start is seeded', async () => {
  const a = await fgsm(base, test100, { eps: 0.1 }, { batchSize: 100 });
  const b = await fgsm(base, test100, { eps: 0.1 }, { batchSize: 7 });
  assert.deepEqual(b.adversarial, a.adversarial);
  assert.deepEqual(b.summary, a.summary);
  const data = subsetData(test100, [0, 1, 2, 3, 4, 5]);
  const params = { eps: 0.1, steps: 2, stepSize: 0.02, randomStart: true, seed: 5 };
  const p1 = await pgd(base, data, params, { batchSize: 6 });
  const p2 = await pgd(base, data, params, { batchSize: 4 });
  const p3 = await pgd(base, data, { ...params, seed: 6 }, { batchSize: 6 });
  assert.deepEqual(p2.adversarial, p1.adversarial);
  assert.notDeepEqual(p3.adversarial, p1.adversarial);
});

test('a model whose input gradient is exactly zero: sign 0, FGSM changes nothing', async () => {
  const model = constantModel();
  const r = await fgsm(model, test100, { eps: 0.3 });
  assert.deepEqual(r.adversarial, test100.images);
  assert.ok(r.outcomes.every((o) => o.changedFraction === 0 && o.predAfter === 0));
  const d = await saturationDiagnostic(model, test100);
  assert.equal(d.zeroGradientFraction, 1);
});

test('saturation diagnostic: all gradients zero on the saturated model, not on the normal one', async () => {
  const sat = await saturationDiagnostic(saturated, confident);
  assert.equal(sat.zeroGradientFraction, 1);
  assert.equal(sat.saturatedSoftmaxFraction, 1);
  assert.ok(sat.logitGap.quantiles[0].value >= 150);
  const norm = await saturationDiagnostic(base, confident);
  assert.ok(norm.zeroGradientFraction < 1, `normal model zero-gradient fraction ${norm.zeroGradientFraction}`);
  assert.equal(norm.zeroGradientFraction, 0);
  assert.equal(norm.logitGap.histogram.counts.reduce((x, y) => x + y, 0), confident.labels.length);
  // The clipped Keras-style loss saturates far earlier (p(true) > 1 - 1e-7, gap > ~16).
  const clipped = await saturationDiagnostic(saturated, test100, { loss: 'categorical-cross-entropy' });
  const stable = await saturationDiagnostic(saturated, test100, { loss: 'softmax-cross-entropy' });
  assert.ok(clipped.zeroGradientFraction >= stable.zeroGradientFraction);
  assert.doesNotThrow(() => JSON.stringify(sat));
});

test('FGSM records the saturation of the very gradient it used: the same report as the standalone diagnostic', async () => {
  for (const model of [base, saturated]) {
    const r = await fgsm(model, test100, { eps: 0.3 });
    const fromAttack = saturationFromOutcomes(r.outcomes, { loss: 'softmax-cross-entropy', temperature: 1 });
    const standalone = await saturationDiagnostic(model, test100);
    assert.deepEqual(fromAttack, standalone);
    // An exactly zero gradient, and only that, leaves the image unchanged.
    for (const o of r.outcomes) assert.equal(o.zeroGradient, o.linf === 0);
  }
  await assert.rejects(async () => saturationFromOutcomes((await pgd(base, subsetData(test100, [0]), { eps: 0.1, steps: 1, stepSize: 0.1 })).outcomes, { loss: 'softmax-cross-entropy', temperature: 1 }), /no gradient facts/);
});

test('the logits x T control: FGSM with logitScale on the base model matches FGSM on its copy with logits x T', async () => {
  const scaled = await fgsm(base, test100, { eps: 0.15, logitScale: 100 });
  const copy = await fgsm(saturated, test100, { eps: 0.15 });
  assert.equal(scaled.summary.params.logitScale, 100);
  const same = scaled.outcomes.filter((o, i) => o.success === copy.outcomes[i]!.success && o.zeroGradient === copy.outcomes[i]!.zeroGradient).length;
  assert.ok(same >= 97, `${same} of 100 samples agree (the two differ only in float32 rounding of the scaled logits)`);
  const gapRatio = scaled.outcomes[0]!.logitGap! / (await fgsm(base, subsetData(test100, [0]), { eps: 0.15 })).outcomes[0]!.logitGap!;
  assert.ok(Math.abs(gapRatio - 100) < 1e-3, `the recorded logit gap is the scaled one (ratio ${gapRatio})`);
  assert.deepEqual(scaled.outcomes.map((o) => o.predBefore), copy.outcomes.map((o) => o.predBefore), 'scaling keeps every prediction');
  await assert.rejects(fgsm(base, test100, { eps: 0.15, logitScale: 0 }), /logitScale/);
});

test('on the saturated model FGSM fails, the margin-loss PGD and FGSM on logits / T succeed', async () => {
  const data = confident;
  const plain = await fgsm(saturated, data, { eps: 0.15 });
  assert.equal(plain.summary.counts.successAmongCorrect, 0, 'zero gradients: no FGSM success');
  const onBase = await fgsm(base, data, { eps: 0.15 });
  const corrected = await fgsmTemperature(saturated, data, { eps: 0.15, temperature: 100 });
  assert.equal(corrected.summary.attack, 'fgsm-temperature');
  assert.ok(Math.abs(corrected.summary.rates.b - onBase.summary.rates.b) <= 0.05,
    `logits / T restores the gradient: ${corrected.summary.rates.b} vs ${onBase.summary.rates.b}`);
  const strong = await runAttack(saturated, data, { kind: 'pgd', eps: 0.15, steps: 10, stepSize: 0.03 });
  assert.ok(strong.summary.rates.b > plain.summary.rates.b + 0.3, `PGD ${strong.summary.rates.b} vs FGSM ${plain.summary.rates.b}`);
  assert.ok(strong.summary.rates.b >= 0.5);
});

test('JSMA changes at most gamma of the pixels, stops on success, and gives up on zero gradients', async () => {
  const data = subsetData(confident, [0, 1, 2]);
  const gamma = 0.145;
  const z = await jsma(base, data, { variant: 'Z', gamma }, { batchSize: 10 });
  assert.equal(z.outcomes.length, 27);
  assert.equal(z.summary.goal, 'targeted');
  for (const o of z.outcomes) {
    assert.ok(o.changedFraction <= gamma, `changed ${o.changedFraction}`);
    // theta = +1: every iteration sets two pixels that were below 1 to 1.
    assert.equal(Math.round(o.changedFraction * 784), 2 * o.iterations);
    assert.equal(o.success, o.predAfter === o.target);
  }
  for (let k = 0; k < z.outcomes.length; k++) {
    for (let p = 0; p < 784; p++) {
      const before = data.images[Math.floor(k / 9) * 784 + p];
      const after = z.adversarial[k * 784 + p];
      assert.ok(after === before || after === 1);
    }
  }
  const wins = z.outcomes.filter((o) => o.success);
  assert.ok(wins.length >= 9, `${wins.length} successes`);
  assert.ok(z.summary.onSuccess !== null && z.summary.onSuccess.changedFraction < gamma);

  // Stops on success: with one pixel pair less than it used, the same attack must fail.
  const win = wins.reduce((m, o) => (o.iterations > m.iterations ? o : m));
  const src = Array.from(data.ids!).indexOf(win.id);
  const single = subsetData(data, [src]);
  const cut = await jsma(base, single, { variant: 'Z', gamma: (2 * (win.iterations - 1) + 1) / 784 });
  const again = cut.outcomes.find((o) => o.target === win.target)!;
  assert.equal(again.success, false);
  assert.equal(again.iterations, win.iterations - 1);

  // JSMA-F on the saturated model: softmax gradients are exactly zero, no pixel pair qualifies.
  const f = await jsma(saturated, data, { variant: 'F', gamma });
  assert.equal(f.summary.counts.successAll, 0);
  assert.ok(f.outcomes.every((o) => o.iterations === 0 && o.changedFraction === 0));
});

test('JSMA-F on the normal model, and a source already of the target class is a success with no change', async () => {
  const all = await fgsm(base, test100, { eps: 0 });
  const wrong = all.outcomes.find((o) => !o.correctBefore)!;
  const data = subsetData(test100, [wrong.id]);
  const r = await jsma(base, data, { variant: 'F', gamma: 0.05 }, { keepAdversarial: 3 });
  assert.equal(r.adversarial.length, 3 * 784);
  const already = r.outcomes.find((o) => o.target === wrong.predBefore)!;
  assert.equal(already.success, true);
  assert.equal(already.iterations, 0);
  assert.equal(already.changedFraction, 0);
  assert.equal(r.summary.counts.correctBefore, 0);
  assert.equal(r.summary.rates.b, 0);
});

test('C&W L2 works on the logits: it succeeds on the saturated model with small L2 perturbations', async () => {
  const data = subsetData(confident, [...Array(8).keys()]);
  const r = await runAttack(saturated, data, { kind: 'cw-l2', steps: 30, binarySteps: 3 });
  assert.equal(r.summary.attack, 'cw-l2');
  assert.ok(r.summary.rates.b >= 0.5, `C&W success ${r.summary.rates.b}`);
  assert.ok(r.adversarial.every((v) => v >= 0 && v <= 1));
  // A failed sample is returned unchanged; a success is the smallest-L2 misclassified point.
  for (const o of r.outcomes) if (!o.success) assert.equal(o.l2, 0);
  const f = await fgsm(base, data, { eps: 0.2 });
  assert.ok(r.summary.onSuccess!.l2 < f.summary.onSuccess!.l2, `C&W L2 ${r.summary.onSuccess!.l2} vs FGSM ${f.summary.onSuccess!.l2}`);
});

test('attacks release every tensor they create', async () => {
  const data = subsetData(confident, [0, 1]);
  await fgsm(base, data, { eps: 0.1 }); // first calls may allocate lasting state (e.g. kernels)
  const before = tf.memory().numTensors;
  await fgsm(base, data, { eps: 0.1, loss: 'categorical-cross-entropy' });
  await pgd(base, data, { eps: 0.1, steps: 2, stepSize: 0.05, randomStart: true });
  await jsma(base, data, { variant: 'F', gamma: 0.02 });
  await saturationDiagnostic(base, data);
  await cwL2(base, data, { steps: 2, binarySteps: 2 });
  assert.equal(tf.memory().numTensors, before);
});

test('evaluation reports progress and names the attack from its spec', async () => {
  const events: string[] = [];
  const progress = {
    start(label: string, total: number, unit?: string) {
      events.push(`start ${label} ${total} ${unit}`);
      return { update(done: number) { events.push(`update ${done}`); }, done() { events.push('done'); } };
    },
  };
  const data = subsetData(test100, [...Array(10).keys()]);
  const r = await runAttack(saturated, data, { kind: 'fgsm', eps: 0.1, temperature: 100 }, { batchSize: 4, progress });
  assert.equal(r.summary.attack, 'fgsm-temperature');
  assert.deepEqual(r.summary.params, { eps: 0.1, loss: 'softmax-cross-entropy', temperature: 100, gradient: 'float32', clip: true });
  assert.deepEqual(events, ['start fgsm-temperature 10 img', 'update 4', 'update 8', 'update 10', 'done']);
  const j = await runAttack(base, subsetData(data, [0]), { kind: 'jsma', variant: 'Z', gamma: 0.01 }, { batchSize: 5, progress });
  assert.equal(j.summary.attack, 'jsma-z');
  assert.deepEqual(events.slice(5), ['start jsma-z 9 attacks', 'update 5', 'update 9', 'done']);
});

test('bad input is rejected with a clear error', async () => {
  await assert.rejects(fgsm(base, { images: new Float32Array(10), labels: [1] }, { eps: 0.1 }), /expected 784/);
  await assert.rejects(fgsm(base, test100, { eps: 2 }), /eps = 2 is not in \[0, 1\]/);
  await assert.rejects(jsma(base, test100, { variant: 'F', gamma: 0 }), /gamma/);
});
