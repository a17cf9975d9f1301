import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { judgeClaim, sweepValues, judgeClaims, loadClaims, parseClaims, type ClaimSpec } from '../src/engine/report/claims.ts';
import { UserError } from '../src/engine/util/errors.ts';

const approx: ClaimSpec = {
  id: 'acc', claim: 'accuracy', source: '§3', paperText: '99.51%', results: ['baseline.accuracy'],
  measure: { kind: 'approx', value: 0.9951, tolerance: { reproduced: 0.005, partly: 0.02 } },
};

test('approx: reproduced inside the tolerance, partly inside the wider one, else not', () => {
  assert.equal(judgeClaim(approx, { 'baseline.accuracy': 0.9951 }).verdict, 'reproduced');
  assert.equal(judgeClaim(approx, { 'baseline.accuracy': 0.9901 }).verdict, 'reproduced', 'exactly at the edge counts as inside');
  assert.equal(judgeClaim(approx, { 'baseline.accuracy': 0.9900 }).verdict, 'partly');
  assert.equal(judgeClaim(approx, { 'baseline.accuracy': 0.9751 }).verdict, 'partly');
  assert.equal(judgeClaim(approx, { 'baseline.accuracy': 0.97 }).verdict, 'not reproduced');
  assert.equal(judgeClaim(approx, { 'baseline.accuracy': 1.0 }).verdict, 'reproduced', 'above the paper counts the same as below');
  const row = judgeClaim(approx, { 'baseline.accuracy': 0.9912 });
  assert.equal(row.oursText, '99.12%');
  assert.equal(row.differenceText, '−0.39 pp');
  assert.equal(row.resultName, 'baseline.accuracy');
  assert.match(row.toleranceText, /±0\.5 pp.*±2 pp/);
});

test('a claim whose result was not published is "not run", never a verdict', () => {
  const row = judgeClaim(approx, { 'other.result': 1 });
  assert.equal(row.verdict, 'not run');
  assert.equal(row.oursText, undefined);
  assert.equal(judgeClaim(approx, { 'baseline.accuracy': 'n/a' }).verdict, 'not run', 'a non-number is not a value');
});

test('below: an upper bound like "< 1.5%"', () => {
  const spec: ClaimSpec = { ...approx, id: 't100', results: ['fgsm.T100.successRate'], measure: { kind: 'below', value: 0.015, tolerance: { partly: 0.085 } } };
  assert.equal(judgeClaim(spec, { 'fgsm.T100.successRate': 0.0149 }).verdict, 'reproduced');
  assert.equal(judgeClaim(spec, { 'fgsm.T100.successRate': 0.015 }).verdict, 'partly', 'the bound itself is not below it');
  assert.equal(judgeClaim(spec, { 'fgsm.T100.successRate': 0.0999 }).verdict, 'partly');
  assert.equal(judgeClaim(spec, { 'fgsm.T100.successRate': 0.1 }).verdict, 'not reproduced');
  assert.match(judgeClaim(spec, { 'fgsm.T100.successRate': 0.005 }).differenceText, /below the bound by 1 pp/);
});

test('over seeds: the mean and range are shown, and a verdict holds only if it holds for every seed', () => {
  const fgsm: ClaimSpec = { ...approx, id: 'fgsm', paperText: '88.03%', results: ['fgsm.baseline.successRate'], measure: { kind: 'approx', value: 0.8803, tolerance: { reproduced: 0.05, partly: 0.25 } } };
  const seeds = (mean: number, min: number, max: number) => ({
    'fgsm.baseline.successRate': min, 'seeds.fgsm.baseline.successRate.mean': mean,
    'seeds.fgsm.baseline.successRate.min': min, 'seeds.fgsm.baseline.successRate.max': max, 'seeds.fgsm.baseline.successRate.n': 3,
  });
  const inside = judgeClaim(fgsm, seeds(0.87, 0.85, 0.89));
  assert.equal(inside.verdict, 'reproduced');
  assert.equal(inside.oursText, '87.00% (mean of 3 seeds; range 85.00% to 89.00%)');
  assert.equal(inside.differenceText, '−1.03 pp', 'the difference is the mean\'s');
  assert.deepEqual(inside.spread, { mean: 0.87, min: 0.85, max: 0.89, n: 3 });
  assert.equal(judgeClaim(fgsm, seeds(0.87, 0.80, 0.89)).verdict, 'partly', 'one seed outside ±5 pp makes it partly, whatever the mean');
  const t100: ClaimSpec = { ...approx, id: 't100', results: ['fgsm.T100.successRate'], measure: { kind: 'below', value: 0.015, tolerance: { partly: 0.085 } } };
  const below = (max: number) => ({ 'fgsm.T100.successRate': 0.001, 'seeds.fgsm.T100.successRate.mean': 0.005, 'seeds.fgsm.T100.successRate.min': 0.001, 'seeds.fgsm.T100.successRate.max': max, 'seeds.fgsm.T100.successRate.n': 3 });
  assert.equal(judgeClaim(t100, below(0.01)).verdict, 'reproduced');
  assert.equal(judgeClaim(t100, below(0.02)).verdict, 'partly', 'every seed must be below the bound');
  assert.equal(judgeClaim(fgsm, { 'fgsm.baseline.successRate': 0.87, 'seeds.fgsm.baseline.successRate.mean': 0.87 }).spread, undefined, 'an incomplete spread is ignored');
});

test('a claim on a network whose own accuracy is not reproduced says so', () => {
  const fgsm: ClaimSpec = { ...approx, id: 'fgsm', paperText: '88.03%', results: ['fgsm.baseline.successRate'], network: 'acc', measure: { kind: 'approx', value: 0.8803, tolerance: { reproduced: 0.05, partly: 0.25 } } };
  const weak = judgeClaims([approx, fgsm], { 'baseline.accuracy': 0.95, 'fgsm.baseline.successRate': 0.88 });
  assert.equal(weak[1]!.verdict, 'reproduced');
  assert.match(weak[1]!.networkCaveat!, /not reproduced \(not reproduced: 95\.00% against the paper's 99\.51%\)/);
  const good = judgeClaims([approx, fgsm], { 'baseline.accuracy': 0.992, 'fgsm.baseline.successRate': 0.88 });
  assert.equal(good[1]!.networkCaveat, undefined);
  assert.throws(() => judgeClaims([{ ...fgsm, network: 'nope' }], {}), /"nope"/);
  const parsed = parseClaims('claims:\n  - { id: a, claim: c, source: s, paper: "1%", kind: approx, value: 0.01, tolerance: { reproduced: 0.01, partly: 0.02 }, results: [x], network: b }\n');
  assert.equal(parsed[0]!.network, 'b');
});

test('sweep: both ends and enough of them, read from result names', () => {
  const spec: ClaimSpec = { ...approx, id: 'T', results: undefined, measure: { kind: 'sweep', pattern: 'fgsm.T{x}.successRate', label: 'T', min: 1, max: 100, tolerance: { minCount: 5 } } };
  const rates = (ts: number[]) => Object.fromEntries(ts.map((t) => [`fgsm.T${t}.successRate`, 0.5]));
  assert.equal(judgeClaim(spec, rates([1, 2, 5, 10, 20, 30, 40, 50, 100])).verdict, 'reproduced');
  assert.equal(judgeClaim(spec, rates([1, 10, 100])).verdict, 'partly', 'too few temperatures');
  assert.equal(judgeClaim(spec, rates([2, 5, 10, 20, 50])).verdict, 'partly', 'neither end');
  assert.equal(judgeClaim(spec, rates([100])).verdict, 'not reproduced');
  assert.equal(judgeClaim(spec, {}).verdict, 'not run');
  assert.equal(judgeClaim(spec, rates([1, 100, 10])).oursText, '1, 10, 100 (3 values)');
  assert.equal(judgeClaim(spec, rates([2, 5, 10, 20, 50])).differenceText, 'T = 1 and 100 not run');
  // Only names matching the pattern count, with numeric values; the dots are literal.
  assert.deepEqual(sweepValues('fgsm.T{x}.successRate', { 'fgsm.T3.successRate': 1, 'fgsmXT4.successRate': 1, 'pgd.T5.successRate': 1, 'fgsm.T6.successRate': 'n/a', 'fgsm.T0.5.successRate': 1 }), [0.5, 3]);
  assert.throws(() => parseClaims('claims:\n  - { id: s, claim: c, source: s, paper: p, kind: sweep, pattern: "a.b", min: 1, max: 2, tolerance: { minCount: 2 } }\n'), /\{x\}/);
});

test('count: the first published of several result names is used', () => {
  const spec: ClaimSpec = { ...approx, id: 'n', results: ['fgsm.samples', 'fgsm.sampleCount'], measure: { kind: 'count', value: 10000, tolerance: { partlyAtLeast: 1000 } } };
  assert.equal(judgeClaim(spec, { 'fgsm.sampleCount': 10000 }).verdict, 'reproduced');
  assert.equal(judgeClaim(spec, { 'fgsm.samples': 2000, 'fgsm.sampleCount': 10000 }).verdict, 'partly');
  assert.equal(judgeClaim(spec, { 'fgsm.samples': 999 }).verdict, 'not reproduced');
  assert.equal(judgeClaim(spec, { 'fgsm.samples': 999 }).differenceText, '9,001 fewer');
});

test('the project claims file parses and covers every claim of the paper', async () => {
  const claims = await loadClaims(fileURLToPath(new URL('../report/claims.yaml', import.meta.url)));
  const ids = claims.map((c) => c.id);
  for (const id of ['baseline-accuracy', 'fgsm-baseline', 'fgsm-t100', 'temperatures', 'fgsm-samples', 'jsma-baseline', 'jsma-t100']) {
    assert.ok(ids.includes(id), `claims.yaml lacks ${id}`);
  }
  const byId = new Map(claims.map((c) => [c.id, c]));
  assert.deepEqual(byId.get('fgsm-t100')!.measure, { kind: 'below', value: 0.015, tolerance: { partly: 0.085 } });
  assert.match(byId.get('jsma-baseline')!.note!, /papernot2016distillation/, 'the JSMA rows say they come from [7]');
  assert.match(byId.get('distilled-accuracy-t100')!.note!, /Unverified/i);
});

test('a malformed claims file is a UserError naming the claim and the field', () => {
  assert.throws(() => parseClaims('claims: 3'), (e: unknown) => e instanceof UserError && /top-level "claims:" list/.test(e.message));
  assert.throws(
    () => parseClaims('claims:\n  - { id: a, claim: c, source: s, paper: "1%", kind: approx, value: x, results: [r], tolerance: { reproduced: 0.1, partly: 0.2 } }'),
    (e: unknown) => e instanceof UserError && /claim 1: "value" must be a number/.test(e.message),
  );
  assert.throws(
    () => parseClaims('claims:\n  - { id: a, claim: c, source: s, paper: "1%", kind: roughly, value: 1 }'),
    /"kind" must be approx, below, sweep or count/,
  );
  assert.throws(
    () => parseClaims('claims:\n  - { id: a, claim: c, source: s, paper: "1%", kind: below, value: 1, tolerance: { partly: 1 } }'),
    /"results" must name at least one result/,
  );
});
