import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { judgeClaim, sweepValues, judgeClaims, loadClaims, parseClaims, wilsonInterval, type ClaimSpec } from '../src/engine/results/claims.ts';
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

test('the Wilson interval: known values, inside [0, 1], and sensible at 0 and n successes', () => {
  // Wilson (1927) / Agresti and Coull (1998): 81 of 263 -> [0.2553, 0.3662].
  const a = wilsonInterval({ k: 81, n: 263 });
  assert.ok(Math.abs(a.lo - 0.2553) < 5e-4 && Math.abs(a.hi - 0.3662) < 5e-4, `${a.lo} ${a.hi}`);
  const zero = wilsonInterval({ k: 0, n: 900 });
  assert.equal(zero.lo, 0);
  assert.ok(zero.hi > 0.004 && zero.hi < 0.0045, `0 of 900: upper end ${zero.hi}`);
  const all = wilsonInterval({ k: 10, n: 10 });
  assert.ok(all.hi === 1 && all.lo > 0.69 && all.lo < 0.73);
  assert.throws(() => wilsonInterval({ k: 3, n: 0 }), /not a count/);
  assert.throws(() => wilsonInterval({ k: 11, n: 10 }), /not a count/);
});

test('verdicts take the interval into account: reproduced only if both ends of every interval are', () => {
  const jsma: ClaimSpec = { ...approx, id: 'jsma', paperText: '97%', results: ['jsma.baseline.successRate'], measure: { kind: 'approx', value: 0.97, tolerance: { reproduced: 0.05, partly: 0.15 } } };
  // 19 of 20 (95%): the point is within ±5 pp of 97%, but the interval reaches down to ~76%.
  const few = judgeClaim(jsma, { 'jsma.baseline.successRate': 0.95 }, { 'jsma.baseline.successRate': { k: 19, n: 20 } });
  assert.equal(few.verdict, 'not reproduced');
  assert.equal(few.pointVerdict, 'reproduced', 'the point alone would have said reproduced');
  assert.ok(few.interval && few.interval.lo < 0.77 && few.interval.hi > 0.99);
  // The same rate over 900 pairs: the interval is narrow and the verdict holds.
  const many = judgeClaim(jsma, { 'jsma.baseline.successRate': 0.95 }, { 'jsma.baseline.successRate': { k: 855, n: 900 } });
  assert.equal(many.verdict, 'reproduced');
  assert.equal(many.pointVerdict, undefined);
  // Without a count the verdict is the point's, as before.
  assert.equal(judgeClaim(jsma, { 'jsma.baseline.successRate': 0.95 }).interval, undefined);
  // Over seeds: every seed's interval counts.
  const seeds = {
    'jsma.baseline.successRate': 0.95, 'seeds.jsma.baseline.successRate.mean': 0.95, 'seeds.jsma.baseline.successRate.min': 0.95,
    'seeds.jsma.baseline.successRate.max': 0.95, 'seeds.jsma.baseline.successRate.n': 2,
    'seeds.jsma.baseline.successRate.seed1': 0.95, 'seeds.jsma.baseline.successRate.seed2': 0.95,
  };
  const spread = judgeClaim(jsma, seeds, { 'seeds.jsma.baseline.successRate.seed1': { k: 855, n: 900 }, 'seeds.jsma.baseline.successRate.seed2': { k: 19, n: 20 } });
  assert.equal(spread.verdict, 'not reproduced', 'the seed with 20 trials decides');
  assert.equal(spread.interval?.seeds, 2);
});

test('a claim can be judged on another profile and show other results beside its own', () => {
  const parsed = parseClaims(`claims:
  - id: f
    claim: c
    source: s
    paper: "88.03%"
    kind: approx
    value: 0.8803
    tolerance: { reproduced: 0.05, partly: 0.25 }
    results: [fgsmUnclipped.baseline.successRate]
    profile: paper-headline
    also:
      - { label: "float32, clipped", result: fgsm.baseline.successRate }
      - { label: exact, result: fgsmExact.baseline.successRate }
`);
  assert.equal(parsed[0]!.profile, 'paper-headline');
  const row = judgeClaim(parsed[0]!, { 'fgsmUnclipped.baseline.successRate': 0.8, 'fgsm.baseline.successRate': 0.7 }, { 'fgsm.baseline.successRate': { k: 70, n: 100 } });
  assert.deepEqual(row.also?.map((a) => [a.label, a.value]), [['float32, clipped', 0.7], ['exact', undefined]]);
  assert.ok(row.also?.[0]!.interval);
  // Over seeds, a variant beside the judged mean is its own mean, with every seed's interval,
  // not one seed's value (the default run's row once showed seed 1's beside the mean).
  const seeded = judgeClaim(parsed[0]!, {
    'fgsmUnclipped.baseline.successRate': 0.8, 'fgsm.baseline.successRate': 0.7,
    'seeds.fgsm.baseline.successRate.mean': 0.65, 'seeds.fgsm.baseline.successRate.min': 0.6, 'seeds.fgsm.baseline.successRate.max': 0.7, 'seeds.fgsm.baseline.successRate.n': 2,
    'seeds.fgsm.baseline.successRate.seed1': 0.7, 'seeds.fgsm.baseline.successRate.seed2': 0.6,
  }, { 'seeds.fgsm.baseline.successRate.seed1': { k: 70, n: 100 }, 'seeds.fgsm.baseline.successRate.seed2': { k: 60, n: 100 } });
  const variant = seeded.also![0]!;
  assert.equal(variant.value, 0.65);
  assert.equal(variant.seeds, 2);
  assert.ok(variant.interval!.lo < 0.6 && variant.interval!.hi > 0.7, 'the hull of both seeds\' intervals');
  assert.throws(() => parseClaims('claims:\n  - { id: a, claim: c, source: s, paper: "1%", kind: approx, value: 0.01, tolerance: { reproduced: 0.01, partly: 0.02 }, results: [x], also: [x] }\n'), /"also" must be a list of \{ label, result \}/);
});
