import { test } from 'node:test';
import assert from 'node:assert/strict';
import { experimentParams, baseTrainConfig, PAPER_EXPERIMENT } from '../src/experiment/params.ts';
import { planUnits, trainInputs, BASELINE } from '../src/experiment/plan.ts';
import { UserError } from '../src/util/errors.ts';
import { parseProjectConfig } from '../src/notebook/config.ts';
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
  // Same parameters, same units (and so the same artifact keys) whichever notebook plans them.
  assert.deepEqual(planUnits(p, env), units);
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
  assert.equal(quick.temperatureMatchedLogits, true, 'quick uses the (reported) temperature-matched deviation');
  const paper = of('paper');
  assert.equal(paper.temperatureMatchedLogits, false, 'paper keeps [7] plain training');
  assert.equal(baseTrainConfig(paper).temperatureMatchedLogits, undefined, "the paper's keys do not mention the option");
  assert.equal(paper.trainSize, 'all');
  assert.equal(paper.epochs, 50);
  assert.equal(paper.fgsmSamples, 10000);
});

test('profileParams resolves a profile like the notebooks do, and names what is unknown', async () => {
  const { profileParams } = await import('../src/experiment/profile.ts');
  const root = new URL('..', import.meta.url).pathname;
  const smoke = await profileParams(root, 'smoke', ['epochs=3']);
  assert.equal(smoke.profile, 'smoke');
  assert.equal(smoke.params.epochs, 3);
  assert.deepEqual(smoke.params.temperatures, [1, 100]);
  assert.equal((await profileParams(root, undefined)).profile, 'quick');
  await assert.rejects(profileParams(root, 'huge'), (e: unknown) => e instanceof UserError && /unknown profile 'huge'/.test(e.message) && /smoke/.test(e.hint ?? ''));
  await assert.rejects(profileParams(root, 'smoke', ['epochz=3']), (e: unknown) => e instanceof UserError && /epochz/.test(e.message) && /epochs/.test(e.hint ?? ''));
});
