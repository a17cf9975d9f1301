import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/flagship/ml/backends/select.ts';
import { loadMnist, type MnistData } from '../src/flagship/ml/data/mnist.ts';
import { restoreSnapshot, takeSnapshot, trainNetwork, PAPER_TRAIN_CONFIG, type SnapshotStore, type TrainConfig, type TrainingSnapshot } from '../src/flagship/ml/training.ts';
import { buildModel } from '../src/flagship/ml/model.ts';
import { loadSnapshot, snapshotStore, trainedModelKey } from '../src/flagship/ml/persist.ts';
import { ArtifactStore } from '../src/engine/store/artifacts.ts';

// A killed 50-epoch run must lose at most an epoch, and a resumed run must be the run that was
// never killed, bit for bit: the paper protocol's networks train for about an hour each.

let data: MnistData;
before(async () => {
  await initBackend('wasm');
  data = await loadMnist({ trainLimit: 600, testLimit: 50 });
});

const tiny: TrainConfig = { ...PAPER_TRAIN_CONFIG, epochs: 3, batchSize: 32, trainSize: 96, validationSize: 32, seed: 5 };

function bytesOf(model: tf.LayersModel): string[] {
  return model.getWeights().map((w) => Buffer.from((w.dataSync() as Float32Array).buffer.slice(0)).toString('base64'));
}

/** An in-memory snapshot store that can forget everything after a given epoch (a kill). */
function memorySnapshots(): SnapshotStore & { saved: number[] } {
  const byEpoch = new Map<number, TrainingSnapshot>();
  const copy = (s: TrainingSnapshot): TrainingSnapshot => ({
    ...s, history: s.history.map((r) => ({ ...r })),
    weights: s.weights.map((w) => w.clone()), optimizer: s.optimizer.map((o) => ({ name: o.name, tensor: o.tensor.clone() })),
  });
  const saved: number[] = [];
  return {
    saved,
    async latest(atMost) {
      const epochs = [...byEpoch.keys()].filter((e) => e <= atMost);
      return epochs.length ? copy(byEpoch.get(Math.max(...epochs))!) : undefined;
    },
    async save(s) { saved.push(s.epoch); byEpoch.set(s.epoch, copy(s)); },
  };
}

for (const optimizer of ['sgd', 'adam'] as const) {
  test(`${optimizer}: stopping after epoch 1 and resuming from its snapshot gives the uninterrupted run's weights, bit for bit`, async () => {
    // Batches of 12: 8 steps an epoch, a count at which tfjs's pow(0.9, t + 1), recomputed by
    // setWeights, and Adam's running product of beta1 differ in the last bit.
    const config: TrainConfig = { ...tiny, batchSize: 12, optimizer, learningRate: optimizer === 'adam' ? 0.001 : 0.1, learningRateSchedule: optimizer === 'adam' ? 'linear' : 'constant' };
    const straightSnapshots = memorySnapshots();
    const straight = await trainNetwork(data.train, config, { snapshots: straightSnapshots });
    const snapshots = memorySnapshots();
    const first = await trainNetwork(data.train, config, { snapshots, untilEpoch: 1 });
    assert.deepEqual(snapshots.saved, [1]);
    assert.equal(first.result.history.length, 1);
    assert.notDeepEqual(bytesOf(first.model), bytesOf(straight.model), 'one epoch is not three');
    const resumed = await trainNetwork(data.train, config, { snapshots });
    assert.deepEqual(snapshots.saved, [1, 2, 3], 'it went on from epoch 2');
    assert.deepEqual(bytesOf(resumed.model), bytesOf(straight.model));
    assert.deepEqual(resumed.result.history.map((r) => r.loss), straight.result.history.map((r) => r.loss));
    assert.equal(resumed.result.steps, straight.result.steps);
    // The optimiser's state too, not only the weights (a last-bit difference in Adam's bias
    // correction is usually absorbed by the weights' rounding, and would surface later).
    for (const epoch of [2, 3]) {
      const a = (await straightSnapshots.latest(epoch))!;
      const b = (await snapshots.latest(epoch))!;
      assert.equal(b.epoch, epoch);
      assert.deepEqual(b.adamBetaPowers, a.adamBetaPowers, `Adam's beta powers after epoch ${epoch}`);
      assert.deepEqual(b.optimizer.map((o) => Array.from(o.tensor.dataSync())), a.optimizer.map((o) => Array.from(o.tensor.dataSync())), `optimiser slots after epoch ${epoch}`);
    }
    for (const m of [straight.model, first.model, resumed.model]) m?.dispose();
  });
}

test('a snapshot restored into a fresh model and Adam optimiser reads back identical, beta powers included', async () => {
  const snapshots = memorySnapshots();
  // 8 steps: tfjs's setWeights would recompute beta1^9 with pow(), one ulp off the running product.
  const trained = await trainNetwork(data.train, { ...tiny, epochs: 1, batchSize: 12, optimizer: 'adam', learningRate: 0.001 }, { snapshots });
  const snap = (await snapshots.latest(1))!;
  const model = buildModel(99);
  const optimizer = tf.train.adam(0.001);
  await restoreSnapshot(model, optimizer, snap);
  const back = await takeSnapshot(model, optimizer, { ...snap, history: [] });
  assert.deepEqual(back.adamBetaPowers, snap.adamBetaPowers);
  assert.deepEqual(back.weights.map((w) => Array.from(w.dataSync())), snap.weights.map((w) => Array.from(w.dataSync())));
  assert.deepEqual(back.optimizer.map((o) => [o.name, Array.from(o.tensor.dataSync())]), snap.optimizer.map((o) => [o.name, Array.from(o.tensor.dataSync())]));
  for (const m of [trained.model, model]) m?.dispose();
  optimizer.dispose();
});

test('snapshots in the artifact store: the latest and the kept epochs stay, the rest are removed; a checkpoint model loads', async () => {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-snap-'));
  try {
    const store = new ArtifactStore(join(root, 'artifacts'), { onEvent: () => {} });
    const key = await trainedModelKey('baseline', { test: 'snapshots' }, data.checksums);
    const snaps = snapshotStore(store, key, [1]);
    const run = await trainNetwork(data.train, tiny, { snapshots: snaps });
    const held = async (e: number) => (await store.get(snaps.keyOf(e))) !== null;
    assert.deepEqual([await held(1), await held(2), await held(3)], [true, false, true], 'epoch 1 kept, 2 superseded, 3 the latest');
    await snaps.prune(3);
    assert.deepEqual([await held(1), await held(3)], [true, false]);
    // The checkpoint at epoch 1 is the network a run stopped there returns.
    const stopped = await trainNetwork(data.train, tiny, { untilEpoch: 1 });
    const checkpoint = await loadSnapshot(snaps, 1);
    assert.ok(checkpoint);
    assert.deepEqual(bytesOf(checkpoint.model), bytesOf(stopped.model));
    assert.deepEqual(checkpoint.result.history.map((r) => r.loss), stopped.result.history.map((r) => r.loss));
    assert.equal(checkpoint.result.trainCount, 96);
    assert.equal(await loadSnapshot(snaps, 2), undefined, 'no snapshot of epoch 2 is kept');
    // A run resumes from a stored snapshot: only epochs 2 and 3 train again, to the same weights.
    const again = await trainNetwork(data.train, tiny, { snapshots: snaps });
    assert.equal(again.result.history.length, 3);
    assert.deepEqual(bytesOf(again.model), bytesOf(run.model));
    for (const m of [run.model, stopped.model, checkpoint.model, again.model]) m.dispose();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('untilEpoch outside 1..epochs is refused with the range', async () => {
  await assert.rejects(trainNetwork(data.train, tiny, { untilEpoch: 4 }), /untilEpoch 4 is not a whole number in 1\.\.3/);
});
