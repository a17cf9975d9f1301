import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/flagship/ml/backends/select.ts';
import { loadMnist, type MnistData } from '../src/flagship/ml/data/mnist.ts';
import { deriveSeed, mulberry32, permutation } from '../src/flagship/ml/random.ts';
import { learningRateAt, planSplit, temperatureLoss, trainNetwork, validateTrainConfig, PAPER_TRAIN_CONFIG, type TrainConfig } from '../src/flagship/ml/training.ts';
import { argmaxRows, evaluateAccuracy, predictLogits } from '../src/flagship/ml/evaluate.ts';
import { getOrTrainModel, loadModel, saveModel, trainedModelKey, WEIGHTS_BIN } from '../src/flagship/ml/persist.ts';
import { ArtifactStore } from '../src/engine/store/artifacts.ts';
import { UserError } from '../src/engine/util/errors.ts';

let data: MnistData;
before(async () => {
  await initBackend('wasm');
  data = await loadMnist({ trainLimit: 600, testLimit: 200 });
});

/** A tiny, fast config: the point is the mechanics, not accuracy. */
const tiny: TrainConfig = {
  ...PAPER_TRAIN_CONFIG, epochs: 2, batchSize: 32, trainSize: 96, validationSize: 32, seed: 11,
};

function weightBytes(model: tf.LayersModel): Buffer[] {
  return model.getWeights().map((w) => Buffer.from((w.dataSync() as Float32Array).buffer.slice(0)));
}

test('seeds: derived sub-seeds are deterministic and distinct; permutations are seeded', () => {
  assert.equal(deriveSeed(1, 'dropout', 5), deriveSeed(1, 'dropout', 5));
  const seen = new Set<number>();
  for (const purpose of ['init', 'shuffle', 'dropout']) {
    for (let step = 0; step < 200; step++) seen.add(deriveSeed(1, purpose, step));
  }
  seen.add(deriveSeed(2, 'init'));
  seen.add(deriveSeed(2 ** 40 + 1, 'init'));
  assert.equal(seen.size, 602);
  const p = permutation(1000, 3);
  assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  assert.deepEqual(p, permutation(1000, 3));
  assert.notDeepEqual(p, permutation(1000, 4));
  const r = mulberry32(9);
  for (let i = 0; i < 1000; i++) { const x = r(); assert.ok(x >= 0 && x < 1); }
  assert.throws(() => deriveSeed(1.5, 'init'), /not a safe integer/);
});

test('config checks and the train/validation plan (validation from the end, disjoint)', () => {
  assert.deepEqual(planSplit(60000, PAPER_TRAIN_CONFIG), { trainCount: 55000, validationStart: 55000, validationCount: 5000 });
  assert.deepEqual(planSplit(600, { ...tiny, trainSize: 100, validationSize: 50 }), { trainCount: 100, validationStart: 550, validationCount: 50 });
  assert.throws(() => planSplit(600, { ...tiny, trainSize: 580, validationSize: 50 }), (e: unknown) => e instanceof UserError && /exceed the 600 training images/.test(e.message));
  assert.throws(() => validateTrainConfig({ ...tiny, momentum: 1 }), /momentum 1 must be in \[0, 1\)/);
  assert.throws(() => validateTrainConfig({ ...tiny, batchSize: 0 }), /batchSize 0/);
  assert.throws(() => validateTrainConfig({ ...tiny, temperature: 0 }), /temperature 0/);
});

test('the loss is cross-entropy of softmax(logits / T), finite on huge logits', () => {
  const logits = tf.tensor2d([[2, 0, -1], [1000, -1000, 0]]);
  const targets = tf.tensor2d([[1, 0, 0], [0.2, 0.3, 0.5]]);
  const T = 4;
  const got = temperatureLoss(logits, targets, T).dataSync()[0];
  const ce = (z: number[], y: number[]) => {
    const s = z.map((v) => v / T);
    const m = Math.max(...s);
    const lse = m + Math.log(s.reduce((a, v) => a + Math.exp(v - m), 0));
    return -y.reduce((a, yi, i) => a + yi * (s[i] - lse), 0);
  };
  const want = (ce([2, 0, -1], [1, 0, 0]) + ce([1000, -1000, 0], [0.2, 0.3, 0.5])) / 2;
  assert.ok(Number.isFinite(got));
  assert.ok(Math.abs(got - want) / want < 1e-5, `${got} vs ${want}`);
  tf.dispose([logits, targets]);
});

test('same seed and backend give bit-identical weights and metrics; another seed differs', async () => {
  const before = tf.memory().numTensors;
  const a = await trainNetwork(data.train, tiny);
  const b = await trainNetwork(data.train, tiny);
  const c = await trainNetwork(data.train, { ...tiny, seed: 12 });
  assert.equal(a.result.steps, 6);
  assert.equal(a.result.trainCount, 96);
  assert.equal(a.result.history.length, 2);
  assert.deepEqual(weightBytes(a.model), weightBytes(b.model));
  assert.deepEqual(a.result.history.map((h) => [h.loss, h.valAccuracy]), b.result.history.map((h) => [h.loss, h.valAccuracy]));
  assert.notDeepEqual(weightBytes(a.model), weightBytes(c.model));
  assert.ok(a.result.history.every((h) => Number.isFinite(h.loss) && h.loss > 0));
  for (const m of [a, b, c]) m.model.dispose();
  assert.equal(tf.memory().numTensors, before, 'training leaks no tensors');
});

test('predictLogits batches consistently; evaluateAccuracy counts argmax hits', async () => {
  const { model } = await trainNetwork(data.train, { ...tiny, epochs: 1 });
  const images = data.test.images.subarray(0, 50 * 784);
  const full = predictLogits(model, images, 64);
  const small = predictLogits(model, images, 7);
  for (let i = 0; i < full.length; i++) assert.ok(Math.abs(full[i] - small[i]) <= 1e-5 * (1 + Math.abs(full[i])));
  const pred = argmaxRows(full);
  const labels = Uint8Array.from(pred);
  labels[0] = (labels[0] + 1) % 10;
  assert.equal(evaluateAccuracy(model, { images, labels, count: 50 }), 49 / 50);
  model.dispose();
});

test('models persist in tfjs format; cache hit, key changes, and a tampered weights file is retrained', async () => {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-models-'));
  try {
    const cfg = { ...tiny, epochs: 1 };
    const trained = await trainNetwork(data.train, cfg);
    const dir = await mkdtemp(join(root, 'plain-'));
    await saveModel(trained.model, dir);
    const modelJson = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    assert.deepEqual(modelJson.weightsManifest[0].paths, ['./weights.bin']);
    const loaded = await loadModel(dir);
    const x = data.test.images.subarray(0, 20 * 784);
    assert.deepEqual(predictLogits(loaded, x), predictLogits(trained.model, x));
    trained.model.dispose();
    loaded.dispose();

    const events: string[] = [];
    const store = new ArtifactStore(join(root, 'store'), { onEvent: (e) => events.push(e.type) });
    const key = await trainedModelKey('baseline', cfg, data.checksums);
    assert.notDeepEqual(await trainedModelKey('baseline', { ...cfg, seed: 12 }, data.checksums), key);
    assert.notDeepEqual(await trainedModelKey('baseline', cfg, { ...data.checksums, 't10k-labels-idx1-ubyte': '0' }), key);
    assert.notDeepEqual(await trainedModelKey('baseline', cfg, data.checksums, { backend: 'cpu' }), key);
    let trainings = 0;
    const train = () => { trainings++; return trainNetwork(data.train, cfg); };

    const first = await getOrTrainModel(store, key, train);
    assert.equal(first.hit, false);
    const second = await getOrTrainModel(store, key, train);
    assert.equal(second.hit, true);
    assert.equal(trainings, 1);
    assert.deepEqual(weightBytes(second.model), weightBytes(first.model));
    assert.deepEqual(second.result.history, first.result.history);

    const weights = join(second.dir, WEIGHTS_BIN);
    const bytes = await readFile(weights);
    bytes[100] ^= 0xff;
    await writeFile(weights, bytes);
    const third = await getOrTrainModel(store, key, train);
    assert.equal(third.hit, false, 'a tampered entry is not loaded');
    assert.equal(trainings, 2);
    assert.deepEqual(weightBytes(third.model), weightBytes(first.model), 'retraining reproduces the same bytes');
    assert.deepEqual(events, ['miss', 'stored', 'hit', 'corrupt', 'miss', 'stored']);
    for (const m of [first, second, third]) m.model.dispose();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('at T = 50, Adam trains where SGD with the same budget stays near chance (why the short profiles use Adam)', async () => {
  const cfg: TrainConfig = { ...PAPER_TRAIN_CONFIG, epochs: 4, batchSize: 16, trainSize: 500, validationSize: 100, seed: 5, temperature: 50 };
  const sgd = await trainNetwork(data.train, cfg);
  const adam = await trainNetwork(data.train, { ...cfg, optimizer: 'adam', learningRate: 1e-3 });
  const accSgd = evaluateAccuracy(sgd.model, data.test);
  const accAdam = evaluateAccuracy(adam.model, data.test);
  assert.ok(accAdam > accSgd + 0.2, `adam ${accAdam} vs sgd ${accSgd}`);
  for (const m of [sgd, adam]) m.model.dispose();
});

test('a warm start begins from the given weights and leaves them untouched; the linear schedule decays to 0', async () => {
  const cfg: TrainConfig = { ...PAPER_TRAIN_CONFIG, epochs: 1, batchSize: 16, trainSize: 64, validationSize: 100, seed: 9 };
  const start = await trainNetwork(data.train, cfg);
  const before = weightBytes(start.model);
  // Steps of 1e-30 move no weight measurably: the result is the start itself.
  const distance = (a: tf.LayersModel, b: tf.LayersModel) => Math.max(...a.getWeights().map((w, i) => tf.tidy(() => tf.max(tf.abs(tf.sub(w, b.getWeights()[i]))).dataSync()[0])));
  const still = await trainNetwork(data.train, { ...cfg, seed: 10, learningRate: 1e-30 }, { initialWeights: start.model });
  assert.ok(distance(still.model, start.model) < 1e-20, 'starts from the warm start, not the seeded initialisation');
  const fresh = await trainNetwork(data.train, { ...cfg, seed: 10, learningRate: 1e-30 });
  assert.ok(distance(fresh.model, start.model) > 1e-3);
  const tuned = await trainNetwork(data.train, { ...cfg, seed: 10, optimizer: 'adam', learningRate: 1e-3, learningRateSchedule: 'linear' }, { initialWeights: start.model });
  assert.deepEqual(weightBytes(start.model), before, 'training from it does not modify the warm start');
  assert.notDeepEqual(weightBytes(tuned.model), before);
  assert.equal(learningRateAt({ ...cfg, learningRateSchedule: 'linear' }, 0, 4), cfg.learningRate);
  assert.equal(learningRateAt({ ...cfg, learningRateSchedule: 'linear' }, 3, 4), cfg.learningRate / 4);
  assert.equal(learningRateAt(cfg, 3, 4), cfg.learningRate, 'constant by default (the paper)');
  assert.throws(() => validateTrainConfig({ ...cfg, optimizer: 'rmsprop' as never }), /optimizer 'rmsprop'/);
  for (const m of [start, still, fresh, tuned]) m.model.dispose();
});
