import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argmaxRows, histogram, logitGaps, perturbationOf, quantiles, summarize, summaryRow } from '../src/flagship/ml/attacks/metrics.ts';
import { bestPixelPair } from '../src/flagship/ml/attacks/jsma.ts';
import { mixSeed, seededUniform, subsetData } from '../src/flagship/ml/attacks/core.ts';
import type { SampleOutcome } from '../src/flagship/ml/attacks/types.ts';

const pert = { changedFraction: 0.1, linf: 0.3, l2: 1 };
function outcome(id: number, label: number, predBefore: number, predAfter: number, target?: number): SampleOutcome {
  const success = target === undefined ? predAfter !== label : predAfter === target;
  return { id, label, target, predBefore, predAfter, correctBefore: predBefore === label, success, ...pert, iterations: 1 };
}

test('untargeted success rates match a hand count', () => {
  // 5 samples: #0 correct -> fooled, #1 correct -> still correct, #2 wrong before and after,
  // #3 wrong before, "fixed" after, #4 correct -> fooled.
  const outcomes = [
    outcome(0, 1, 1, 7), outcome(1, 2, 2, 2), outcome(2, 3, 5, 5), outcome(3, 4, 9, 4), outcome(4, 0, 0, 6),
  ];
  const s = summarize('fgsm', 'untargeted', { eps: 0.3 }, 5, outcomes);
  // (a): misclassified after over all 5 = #0, #2, #4 -> 3/5. (b): of the 3 correct before (#0, #1, #4), 2 fooled.
  assert.deepEqual(s.counts, { attacked: 5, correctBefore: 3, successAll: 3, successAmongCorrect: 2 });
  assert.equal(s.rates.a, 3 / 5);
  assert.equal(s.rates.b, 2 / 3);
  assert.equal(s.headline, 'b');
  assert.equal(s.headlineRate, 2 / 3);
  assert.equal(s.cleanAccuracy, 3 / 5);
  assert.deepEqual(s.onSuccess, pert);
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
  const row = summaryRow(s, { model: 'baseline' });
  assert.equal(row.model, 'baseline');
  assert.equal(row.params, 'eps=0.3');
  assert.equal(row.rateB, 2 / 3);
});

test('targeted success rates count (sample, target) pairs and clean accuracy counts samples', () => {
  // Sample 0 (label 0, correct) attacked to 1 and 2: reaches 1 only. Sample 1 (label 1,
  // misclassified as 2) attacked to 0 and 2: already 2, so target 2 succeeds; 0 fails.
  const outcomes = [
    outcome(0, 0, 0, 1, 1), outcome(0, 0, 0, 0, 2), outcome(1, 1, 2, 2, 0), outcome(1, 1, 2, 2, 2),
  ];
  const s = summarize('jsma-f', 'targeted', { gamma: 0.145 }, 2, outcomes);
  assert.deepEqual(s.counts, { attacked: 4, correctBefore: 2, successAll: 2, successAmongCorrect: 1 });
  assert.equal(s.rates.a, 0.5);
  assert.equal(s.rates.b, 0.5);
  assert.equal(s.cleanAccuracy, 0.5);
  assert.equal(s.samples, 2);
});

test('no correctly classified sample gives rate b = 0 and no perturbation means', () => {
  const s = summarize('fgsm', 'untargeted', {}, 1, [outcome(0, 1, 2, 3)]);
  assert.equal(s.rates.b, 0);
  assert.equal(s.onSuccess, null);
  assert.equal(s.rates.a, 1);
});

test('perturbation statistics', () => {
  const orig = [0, 0.5, 1, 0.25];
  const adv = [0.3, 0.5, 0.7, 0.25];
  const p = perturbationOf(orig, 0, adv, 0, 4);
  assert.equal(p.changedFraction, 0.5);
  assert.ok(Math.abs(p.linf - 0.3) < 1e-12);
  assert.ok(Math.abs(p.l2 - Math.sqrt(0.09 + 0.09)) < 1e-12);
});

test('argmax, logit gaps, quantiles, histogram', () => {
  assert.deepEqual([...argmaxRows([1, 3, 2, 5, 5, 0], 3)], [1, 0]);
  assert.deepEqual([...logitGaps([1, 3, 2, 5, 5, 0], 3)], [1, 0]);
  assert.deepEqual(quantiles([4, 1, 3, 2], [0, 0.5, 1]), [1, 2.5, 4]);
  assert.deepEqual(histogram([0.5, 1, 1.5, 10, 100], [0, 1, 10]), [1, 2, 2]);
});

test('JSMA pair search: alpha > 0, beta < 0, maximal alpha * |beta|, inside the domain', () => {
  //          pixel:  0     1    2     3
  const a = [0.5, 0.4, 2, -0.1];
  const b = [-0.5, -1, -3, -0.2];
  // Pixel 2 would win ({1, 2}: alpha 2.4, beta -4 -> 9.6) but is outside the search domain.
  const domain = [1, 1, 0, 1];
  // Pairs: {0,1}: alpha 0.9, beta -1.5 -> 1.35; {0,3}: 0.4, -0.7 -> 0.28; {1,3}: 0.3, -1.2 -> 0.36.
  assert.deepEqual(bestPixelPair(a, b, domain), [0, 1]);
  assert.deepEqual(bestPixelPair(a, b, [1, 1, 1, 1]), [1, 2]);
  // beta >= 0 disqualifies a pair however large alpha is.
  assert.deepEqual(bestPixelPair([5, 5, -0.1, -0.1], [1, 1, -1, -1], [1, 1, 1, 1]), null);
  // Zero gradients: no pair qualifies, the attack must give up.
  assert.equal(bestPixelPair([0, 0, 0], [0, 0, 0], [1, 1, 1]), null);
  // Fewer than two pixels in the domain.
  assert.equal(bestPixelPair(a, b, [0, 0, 0, 1]), null);
});

test('seeded random starts are reproducible and differ per sample', () => {
  const r1 = seededUniform(mixSeed(3, 7));
  const r2 = seededUniform(mixSeed(3, 7));
  const r3 = seededUniform(mixSeed(3, 8));
  const s1 = [r1(), r1(), r1()];
  assert.deepEqual([r2(), r2(), r2()], s1);
  assert.notDeepEqual([r3(), r3(), r3()], s1);
  assert.ok(s1.every((v) => v >= 0 && v < 1));
});

test('subsetData keeps images, labels and original ids together', () => {
  const data = { images: Float32Array.from([0, 0, 1, 1, 2, 2]), labels: [5, 6, 7] };
  const s = subsetData(data, [2, 0]);
  assert.deepEqual([...s.images], [2, 2, 0, 0]);
  assert.deepEqual([...Array.from(s.labels)], [7, 5]);
  assert.deepEqual([...Array.from(s.ids!)], [2, 0]);
  assert.throws(() => subsetData(data, [3]), /outside/);
});
