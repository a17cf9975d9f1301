import { test } from 'node:test';
import assert from 'node:assert/strict';
import { experimentParams, baseTrainConfig, PAPER_EXPERIMENT } from '../src/flagship/reproduction/params.ts';
import { planUnits, trainInputs, BASELINE, type TrainUnitInputs } from '../src/flagship/reproduction/plan.ts';
import { UserError } from '../src/engine/util/errors.ts';
import { parseProjectConfig } from '../src/engine/notebook/config.ts';
import { readFile } from 'node:fs/promises';

const env = { backend: 'wasm', data: { 'train-images-idx3-ubyte': 'aa' } };

test('parameters default to the paper protocol and are validated by name', () => {
  const p = experimentParams({});
  assert.deepEqual(p, { ...PAPER_EXPERIMENT });
  assert.equal(baseTrainConfig(p).learningRate, 0.1);
  const q = experimentParams({ trainSize: 500, temperatures: [100, 1, 10] });
  assert.deepEqual(q.temperatures, [1, 10, 100], 'temperatures are sorted');
  assert.throws(() => experimentParams({ epochs: 1.5 }), (e: unknown) => e instanceof UserError && /epochs/.test(e.message));
  assert.throws(() => experimentParams({ temperatures: [] }), /temperatures/);
  assert.throws(() => experimentParams({ trainSize: 'most' }), /trainSize/);
  assert.throws(() => experimentParams({ fgsmSamples: 20000 }), /fgsmSamples/);
});

test('the grid: baseline doubles as the T = 1 teacher; each student depends on its teacher', () => {
  const p = experimentParams({ temperatures: [1, 20, 100] });
  const units = planUnits(p, env);
  const ids = units.map((u) => u.id);
  assert.deepEqual(ids, [BASELINE, 'T1/student', 'T20/teacher', 'T20/student', 'T100/teacher', 'T100/student']);
  assert.deepEqual(units.find((u) => u.id === 'T1/student')!.deps, [BASELINE]);
  assert.deepEqual(units.find((u) => u.id === 'T100/student')!.deps, ['T100/teacher']);
  const t100 = units.find((u) => u.id === 'T100/teacher')!.inputs as unknown as ReturnType<typeof trainInputs>;
  assert.equal(t100.config.temperature, 100);
  const s100 = units.find((u) => u.id === 'T100/student')!.inputs as unknown as ReturnType<typeof trainInputs>;
  assert.equal(s100.config.temperature, 100);
  assert.notEqual(s100.config.seed, t100.config.seed, 'the student does not reuse the teacher seed');
  assert.deepEqual(s100.teacher, t100, "the student's inputs carry its teacher's, so a teacher change retrains it");
  const t20 = units.find((u) => u.id === 'T20/teacher')!.inputs as unknown as ReturnType<typeof trainInputs>;
  const s20 = units.find((u) => u.id === 'T20/student')!.inputs as unknown as ReturnType<typeof trainInputs>;
  assert.notEqual(t20.config.seed, t100.config.seed, 'each temperature trains with its own seed: rows never coincide by construction');
  assert.notEqual(s20.config.seed, s100.config.seed);
  // Same parameters, same units (and so the same artifact keys) whichever notebook plans them.
  assert.deepEqual(planUnits(p, env), units);
});

test('warm start and replicate seeds: every network starts from its own seed\'s warm start; replicates hold only the headline rows', () => {
  const p = experimentParams({ temperatures: [1, 20, 100], warmStartEpochs: 1, seeds: 3, seed: 7 });
  const units = planUnits(p, env, { attacks: ['fgsm', 'pgd'] });
  const ids = units.map((u) => u.id);
  for (const prefix of ['', 'seed8/', 'seed9/']) {
    for (const id of ['warmstart', 'baseline', 'T100/teacher', 'T100/student', 'baseline/fgsm', 'T100/student/fgsm']) assert.ok(ids.includes(prefix + id), `${prefix + id} is planned`);
  }
  assert.ok(!ids.some((id) => /^seed\d+\/(T20|T1\/)/.test(id)), 'replicates train only the baseline and the highest temperature');
  assert.ok(!ids.some((id) => /^seed\d+\/.*\/pgd$/.test(id)), 'replicates repeat only FGSM');
  const inputs = (id: string) => units.find((u) => u.id === id)!.inputs as unknown as ReturnType<typeof trainInputs>;
  const warm = inputs('warmstart');
  assert.equal(warm.role, 'warmstart');
  assert.equal(warm.config.epochs, 1);
  assert.equal(warm.config.temperature, 1);
  for (const id of ['baseline', 'T20/teacher', 'T20/student', 'T100/teacher', 'T100/student']) {
    assert.deepEqual(inputs(id).warmStart, warm, `${id} starts from the warm start`);
    assert.ok(units.find((u) => u.id === id)!.deps!.includes('warmstart'));
  }
  assert.deepEqual(inputs('seed8/T100/student').warmStart, inputs('seed8/warmstart'));
  const seeds = ['warmstart', 'seed8/warmstart', 'seed9/warmstart', 'baseline', 'seed8/baseline', 'seed9/baseline'].map((id) => inputs(id).config.seed);
  assert.equal(new Set(seeds).size, seeds.length, 'independent seeds');
  // The paper profile has no warm start: nothing is planned for it and no network carries one.
  const paperUnits = planUnits(experimentParams({ temperatures: [1, 100] }), env);
  assert.ok(paperUnits.every((u) => u.id !== 'warmstart' && (u.inputs as { warmStart?: unknown }).warmStart === undefined));
});

test('the logits x T control: FGSM on the baseline with logits scaled by each T > 1, no training', () => {
  const p = experimentParams({ temperatures: [1, 20, 100] });
  const units = planUnits(p, env, { attacks: ['fgsm'] });
  const controls = units.filter((u) => u.id.startsWith('baseline/fgsm-logits-x'));
  assert.deepEqual(controls.map((u) => u.id), ['baseline/fgsm-logits-x20', 'baseline/fgsm-logits-x100']);
  for (const c of controls) {
    const inputs = c.inputs as unknown as { spec: { logitScale: number; temperature: number }; model: { role: string } };
    assert.equal(inputs.model.role, 'baseline');
    assert.equal(inputs.spec.temperature, 1);
    assert.deepEqual(c.deps, ['baseline']);
  }
  assert.equal((controls[1].inputs as unknown as { spec: { logitScale: number } }).spec.logitScale, 100);
  assert.ok(units.every((u) => u.kind === 'attack' || !u.id.includes('logits')), 'the control trains nothing');
});

test('attack selection: every attacked model is in the grid; temperature-corrected FGSM only where T > 1', () => {
  const p = experimentParams({ temperatures: [1, 100], jsmaSamples: 0 });
  const units = planUnits(p, env, { attacks: ['fgsm', 'fgsm-temperature', 'jsma'] });
  const ids = new Set(units.map((u) => u.id));
  for (const u of units) for (const d of u.deps ?? []) assert.ok(ids.has(d), `${u.id} depends on ${d}, which is planned`);
  assert.ok(ids.has('baseline/fgsm') && ids.has('T1/student/fgsm') && ids.has('T100/student/fgsm'));
  assert.ok(ids.has('T100/student/fgsm-temperature'));
  assert.ok(!ids.has('T1/student/fgsm-temperature') && !ids.has('baseline/fgsm-temperature'));
  assert.ok(![...ids].some((id) => id.endsWith('/jsma')), 'jsmaSamples = 0 plans no JSMA');
  const fgsmT = units.find((u) => u.id === 'T100/student/fgsm-temperature')!.inputs as { spec: { temperature: number } };
  assert.equal(fgsmT.spec.temperature, 100);
  assert.deepEqual(planUnits(p, env, { networks: 'baseline' }).map((u) => u.id), [BASELINE]);
});

test("the project's profiles give valid experiment parameters; smoke is small, paper is the protocol", async () => {
  const config = parseProjectConfig(await readFile(new URL('../reprobook.config.yaml', import.meta.url), 'utf8'));
  assert.equal(config.defaultProfile, 'quick');
  const of = (profile: string) => experimentParams({ ...config.parameters, ...config.profiles[profile] });
  const smoke = of('smoke');
  assert.equal(smoke.temperatures.length, 2);
  assert.ok((smoke.trainSize as number) <= 1000 && smoke.epochs === 1);
  const quick = of('quick');
  assert.deepEqual(quick.temperatures, [1, 2, 5, 10, 20, 30, 40, 50, 100]);
  assert.equal(quick.fgsmSamples, 10000, 'quick attacks all 10,000 test samples with FGSM');
  assert.ok(quick.seeds >= 3, 'quick replicates its headline rows over at least 3 seeds');
  assert.equal(quick.optimizer, 'adam', 'quick uses the (reported) Adam deviation');
  const paper = of('paper');
  assert.equal(paper.optimizer, 'sgd', 'paper keeps [7] SGD');
  assert.equal(paper.warmStartEpochs, 0, 'paper trains every network from its own initialisation');
  assert.equal(baseTrainConfig(paper).learningRateSchedule, 'constant');
  assert.equal(paper.trainSize, 'all');
  assert.equal(paper.epochs, 50);
  assert.equal(paper.fgsmSamples, 10000);
});

test('profileParams resolves a profile like the notebooks do, and names what is unknown', async () => {
  const { profileParams } = await import('../src/flagship/reproduction/profile.ts');
  const root = new URL('..', import.meta.url).pathname;
  const smoke = await profileParams(root, 'smoke', ['epochs=3']);
  assert.equal(smoke.profile, 'smoke');
  assert.equal(smoke.params.epochs, 3);
  assert.deepEqual(smoke.params.temperatures, [1, 100]);
  assert.equal((await profileParams(root, undefined)).profile, 'quick');
  await assert.rejects(profileParams(root, 'huge'), (e: unknown) => e instanceof UserError && /unknown profile 'huge'/.test(e.message) && /smoke/.test(e.hint ?? ''));
  await assert.rejects(profileParams(root, 'smoke', ['epochz=3']), (e: unknown) => e instanceof UserError && /epochz/.test(e.message) && /epochs/.test(e.hint ?? ''));
});

test('result names: controls and the spread over seeds get their documented names', async () => {
  const { resultValues } = await import('../src/flagship/reproduction/run.ts');
  const p = experimentParams({ temperatures: [1, 100], seeds: 3, seed: 4 });
  const net = (acc: number) => ({ id: 'x', role: 'student' as const, temperature: 100, testAccuracy: acc, trainCount: 1, validationCount: 0, history: [], imagesPerSecond: 1, modelArtifact: 'a' });
  const summary = (rate: number) => ({ headlineRate: rate, rates: { a: rate / 2, b: rate }, samples: 10, counts: { attacked: 10, correctBefore: 10, successAll: rate * 5, successAmongCorrect: rate * 10 } }) as never;
  const gap = (median: number) => ({ samples: 10, zeroGradientFraction: 0.5, zeroGradientCount: 5, cancellationFraction: 0.7, cancellationCount: 7, logitGap: { quantiles: [{ p: 0.5, value: median }] } }) as never;
  const outcome: Parameters<typeof resultValues>[0] = {
    params: p, environment: env, grid: {} as never,
    baseline: net(0.99), distilled: [{ temperature: 100, teacher: net(0.98), student: net(0.985) }],
    checkpoints: [{ epoch: 5, network: { ...net(0.97), testCount: 100 } }],
    replicates: [
      { seed: 4, baseline: net(0.99), headline: net(0.985), fgsmBaseline: summary(0.9), fgsmHeadline: summary(0.01) },
      { seed: 5, baseline: net(0.992), headline: net(0.987), fgsmBaseline: summary(0.8), fgsmHeadline: summary(0.03) },
      { seed: 6, baseline: net(0.991), headline: net(0.986), fgsmBaseline: summary(0.85), fgsmHeadline: summary(0.02) },
    ],
    attacks: [
      { unit: 'baseline/fgsm', model: 'baseline', temperature: 1, attack: 'fgsm', summary: summary(0.9), variants: { float32: summary(0.9), 'float32-noclip': summary(0.95), exact: summary(0.7), 'exact-noclip': summary(0.8) }, examples: [], perSecond: 1 },
      { unit: 'baseline@e5/fgsm', model: 'baseline@e5', temperature: 1, attack: 'fgsm', summary: summary(0.6), examples: [], perSecond: 1 },
      { unit: 'baseline/fgsm-logits-x100', model: 'baseline', temperature: 1, attack: 'fgsm', logitScale: 100, summary: summary(0.4), examples: [], perSecond: 1 },
    ],
    saturation: [
      { unit: 'baseline/fgsm', model: 'baseline', temperature: 1, report: gap(9), exactZeroGradientFraction: 0 },
      { unit: 'baseline/fgsm-logits-x100', model: 'baseline', temperature: 1, logitScale: 100, report: gap(900) },
    ],
  };
  const values = resultValues(outcome);
  assert.equal(values['fgsm.baseline.successRate'], 0.9, 'the un-prefixed name is the first seed');
  assert.equal(values['fgsm.baselineLogitsX100.successRate'], 0.4);
  assert.equal(values['fgsmTemperature.baselineLogitsX100.successRate'], undefined, 'the control is not FGSM on logits / T');
  assert.equal(values['saturation.baselineLogitsX100.medianLogitGap'], 900);
  assert.equal(values['saturation.baseline.medianLogitGap'], 9);
  assert.ok(Math.abs(values['seeds.fgsm.baseline.successRate.mean']! - 0.85) < 1e-12);
  assert.equal(values['seeds.fgsm.baseline.successRate.min'], 0.8);
  assert.equal(values['seeds.fgsm.T100.successRate.max'], 0.03);
  assert.equal(values['seeds.distilled.T100.accuracy.n'], 3);
  assert.equal(values['seeds.baseline.accuracy.seed5'], 0.992);
  // Every FGSM variant under its own prefix; the float32, clipped one is plain fgsm.
  assert.equal(values['fgsmUnclipped.baseline.successRate'], 0.95);
  assert.equal(values['fgsmExact.baseline.successRate'], 0.7);
  assert.equal(values['fgsmExactUnclipped.baseline.successRateAll'], 0.4);
  assert.equal(values['fgsmExact.baselineLogitsX100.successRate'], undefined, 'no variants were run on the control here');
  assert.equal(values['saturation.baseline.cancellationFraction'], 0.7);
  assert.equal(values['saturation.baseline.exactZeroGradientFraction'], 0);
  // A checkpoint of the baseline is a network of its own name.
  assert.equal(values['baselineEpoch5.accuracy'], 0.97);
  assert.equal(values['fgsm.baselineEpoch5.successRate'], 0.6);

  // Each value is published with the chain of keys of the units it came from, and no other.
  const { publishable } = await import('../src/flagship/reproduction/run.ts');
  const id = (c: string) => c.repeat(64);
  outcome.grid = { chains: { 'baseline/fgsm': [id('a'), id('b')], 'baseline/fgsm-logits-x100': [id('a'), id('c')], 'baseline@e5/fgsm': [id('a'), id('d')], x: null } } as never;
  const byName = Object.fromEntries(publishable(outcome, /^(fgsm|baseline)\./).map((r) => [r.name, r]));
  assert.deepEqual(byName['fgsm.baseline.successRate']!.artifacts, [id('a'), id('b')]);
  assert.deepEqual(byName['fgsm.baselineLogitsX100.successRate']!.artifacts, [id('a'), id('c')]);
  assert.deepEqual(byName['fgsm.samples']!.artifacts, [id('a'), id('b'), id('c'), id('d')], 'the sample count rests on every FGSM unit');
  assert.equal(byName['baseline.accuracy']!.artifacts, null, 'a unit stored before chains were recorded: no chain, verify recomputes everything');
  assert.equal(byName['saturation.baseline.medianLogitGap'], undefined, 'only the names asked for');
  // Rates carry the count behind them (k of n), for their binomial interval.
  assert.deepEqual(byName['fgsm.baseline.successRate']!.count, { k: 9, n: 10 });
  assert.deepEqual(byName['fgsm.baseline.successRateAll']!.count, { k: 4.5, n: 10 });
});

test('checkpoints: the main seed\'s baseline at chosen epochs, read from its own run\'s snapshots; its identity (hence its model key) unchanged', async () => {
  const { networkIdentity } = await import('../src/flagship/reproduction/handler.ts');
  const p = experimentParams({ temperatures: [1, 100], seeds: 2, epochs: 5, warmStartEpochs: 0, checkpointEpochs: [5, 2, 1, 2] });
  assert.deepEqual(p.checkpointEpochs, [1, 2, 5], 'sorted, without repeats');
  const units = planUnits(p, env, { attacks: ['fgsm'] });
  const byId = new Map(units.map((u) => [u.id, u]));
  assert.ok(byId.has('baseline@e1') && byId.has('baseline@e2'));
  assert.ok(!byId.has('baseline@e5'), 'the last epoch is the baseline itself');
  assert.ok(!units.some((u) => u.id.startsWith('seed2/baseline@')), 'only the main seed is checkpointed');
  assert.deepEqual(byId.get('baseline@e2')!.deps, ['baseline'], 'read from the finished run, never trained beside it');
  assert.deepEqual(byId.get('baseline@e2/fgsm')!.deps, ['baseline@e2']);
  const baseline = byId.get('baseline')!.inputs as unknown as TrainUnitInputs;
  const checkpoint = byId.get('baseline@e2')!.inputs as unknown as TrainUnitInputs;
  assert.deepEqual(baseline.keepSnapshots, [1, 2, 5]);
  assert.equal(checkpoint.checkpointEpoch, 2);
  assert.deepEqual(networkIdentity(checkpoint), networkIdentity(baseline));
  const plain = planUnits({ ...p, checkpointEpochs: [] }, env, { attacks: ['fgsm'] }).find((u) => u.id === 'baseline')!;
  assert.deepEqual(networkIdentity(plain.inputs as unknown as TrainUnitInputs), networkIdentity(baseline), 'keeping snapshots does not change what the network is');
  assert.throws(() => experimentParams({ epochs: 5, checkpointEpochs: [10] }), /checkpointEpochs/);
  assert.throws(() => experimentParams({ checkpointEpochs: [0] }), /whole numbers >= 1/);
});

test('JSMA runs on more digits on the headline rows (the baseline, the highest temperature) when jsmaHeadlineSamples says so', () => {
  const p = experimentParams({ temperatures: [1, 50, 100], seeds: 1, jsmaSamples: 20, jsmaHeadlineSamples: 100 });
  const units = planUnits(p, env, { attacks: ['jsma'] });
  const count = (id: string) => (units.find((u) => u.id === id)!.inputs as unknown as { samples: { count: number } }).samples.count;
  assert.equal(count('baseline/jsma'), 100);
  assert.equal(count('T100/student/jsma'), 100);
  assert.equal(count('T50/student/jsma'), 20);
  assert.equal(count('T1/student/jsma'), 20, 'the student at T = 1 is not a headline row');
  const same = planUnits(experimentParams({ temperatures: [1, 100], seeds: 1, jsmaSamples: 20 }), env, { attacks: ['jsma'] });
  assert.equal((same.find((u) => u.id === 'baseline/jsma')!.inputs as unknown as { samples: { count: number } }).samples.count, 20, 'without it, every row has jsmaSamples');
});
