import * as tf from '@tensorflow/tfjs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARCHITECTURE, buildModel } from './model.ts';
import { backendIdentity } from './backends/select.ts';
import { codeHash } from '../../engine/store/code-fingerprint.ts';
import { artifactId, type ArtifactKey, type ArtifactStore } from '../../engine/store/artifacts.ts';
import type { SnapshotStore, TrainedNetwork, TrainingSnapshot, TrainResult } from './training.ts';

/**
 * Trained models as content-addressed artifacts, in the tfjs layers format
 * (model.json + weights.bin) so any tfjs tool can read them. tfjs's `file://` handler
 * needs tfjs-node, so the files are written through a custom save handler.
 * Atomicity and verification come from the ArtifactStore: a killed run leaves only a
 * temporary directory, and a tampered file fails its hash and is retrained.
 */

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const TRAINING_JSON = 'training.json';

/** Write `model` as model.json + weights.bin into `dir`. */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const weightData = artifacts.weightData === undefined
      ? new ArrayBuffer(0)
      : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
    const modelJson = {
      format: artifacts.format ?? 'layers-model',
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy ?? null,
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
    };
    await writeFile(join(dir, MODEL_JSON), JSON.stringify(modelJson));
    await writeFile(join(dir, WEIGHTS_BIN), new Uint8Array(weightData));
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }));
}

/** Read a model written by `saveModel`. */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  const json = JSON.parse(await readFile(join(dir, MODEL_JSON), 'utf8')) as tf.io.ModelJSON;
  const bin = await readFile(join(dir, WEIGHTS_BIN));
  // A Buffer may be a view into a shared pool: hand tfjs exactly its bytes.
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer;
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData }));
}

/**
 * What trains a network, as the engine's one code fingerprint: the training loop and
 * distillation with everything they import (the network, the seeds, evaluation, pixel
 * scaling, the backend selection with the wasm and native kernels, which compute the
 * updates) and the native kernels' sources (named by native-kernels.ts with @fingerprint).
 * A change to any of them retrains; a change to attack code does not.
 */
export const TRAINING_ENTRIES = ['./training.ts', './distillation.ts'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const codeHashes = new Map<string, Promise<string>>();
/** The training code's fingerprint digest (memoised per entry set: the sources do not change while a process runs). */
export function trainingCodeHash(entries: string[] = TRAINING_ENTRIES, base = PROJECT_ROOT): Promise<string> {
  const id = `${base}\n${entries.join('\n')}`;
  let h = codeHashes.get(id);
  if (!h) {
    h = codeHash(entries, { base });
    codeHashes.set(id, h);
  }
  return h;
}

export interface ModelKeyOptions {
  /** What trains (results differ in the last bits between backends and kernel sets); default `backendIdentity()`. */
  backend?: string;
  /** The training code's fingerprint digest; default trainingCodeHash() of this checkout. */
  code?: string;
}

/**
 * The artifact key of a trained model: covers what it is (`kind`), the full training
 * config (seed included), the data checksums, the architecture, the training code and
 * the backend.
 */
export async function trainedModelKey(kind: string, config: unknown, dataChecksums: Record<string, string>, opts: ModelKeyOptions = {}): Promise<ArtifactKey> {
  return {
    kind: `model/${kind}`,
    inputs: {
      architecture: ARCHITECTURE,
      config,
      data: dataChecksums,
      code: opts.code ?? (await trainingCodeHash()),
      backend: opts.backend ?? backendIdentity(),
    },
  };
}

export interface CachedNetwork extends TrainedNetwork {
  /** True when the model was loaded from the store rather than trained. */
  hit: boolean;
  /** The artifact id (sha256 of the key). */
  id: string;
  /** Directory of the stored entry (model.json, weights.bin, training.json). */
  dir: string;
}

/** The model under `key`: loaded when stored and intact, else trained by `train` and stored. */
export async function getOrTrainModel(store: ArtifactStore, key: ArtifactKey, train: () => Promise<TrainedNetwork>): Promise<CachedNetwork> {
  let trained: TrainedNetwork | undefined;
  const entry = await store.getOrCreate(key, async (dir) => {
    trained = await train();
    await saveModel(trained.model, dir);
    await writeFile(join(dir, TRAINING_JSON), JSON.stringify(trained.result, null, 2));
  });
  if (trained) return { ...trained, hit: false, id: entry.id, dir: entry.dir };
  const model = await loadModel(entry.dir);
  const result = JSON.parse(await readFile(join(entry.dir, TRAINING_JSON), 'utf8')) as TrainResult;
  return { model, result, hit: true, id: entry.id, dir: entry.dir };
}

const SNAPSHOT_JSON = 'snapshot.json';
const SNAPSHOT_WEIGHTS = 'weights.bin';
const SNAPSHOT_OPTIMIZER = 'optimizer.bin';

interface StoredTensor { name: string; shape: number[]; dtype: 'float32' | 'int32' }
interface SnapshotFile {
  epoch: number;
  step: number;
  trainSeconds: number;
  history: TrainingSnapshot['history'];
  trainCount: number;
  validationCount: number;
  backend: string;
  weights: StoredTensor[];
  optimizer: StoredTensor[];
  adamBetaPowers: [number, number] | null;
}

/** The raw little-endian bytes of `tensors`, in order, and their specs. */
function packTensors(tensors: Array<{ name: string; tensor: tf.Tensor }>): { specs: StoredTensor[]; bytes: Uint8Array } {
  const specs: StoredTensor[] = [];
  const parts: Uint8Array[] = [];
  for (const { name, tensor } of tensors) {
    if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32') throw new Error(`snapshot: tensor ${name} has dtype ${tensor.dtype}`);
    const data = tensor.dataSync() as Float32Array | Int32Array;
    specs.push({ name, shape: tensor.shape, dtype: tensor.dtype });
    parts.push(new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)));
  }
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { bytes.set(p, o); o += p.length; }
  return { specs, bytes };
}

function unpackTensors(specs: StoredTensor[], bytes: Buffer): Array<{ name: string; tensor: tf.Tensor }> {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let o = 0;
  return specs.map((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = s.dtype === 'int32' ? new Int32Array(buffer, o, n) : new Float32Array(buffer, o, n);
    o += n * 4;
    return { name: s.name, tensor: tf.tensor(data.slice(), s.shape, s.dtype) };
  });
}

/**
 * A resumable training run's snapshots (src/flagship/ml/training.ts) as artifacts, one per
 * epoch, keyed by the model's key and the epoch. Only the latest is kept while training goes
 * on, plus the epochs `keep` names (checkpoints a grid attacks): storing epoch e removes
 * epoch e - 1 unless it is kept, so a 50-epoch run holds a few snapshots, not 50. `prune`
 * removes what is left that is not kept, once the finished model is stored.
 */
export function snapshotStore(store: ArtifactStore, model: ArtifactKey, keep: readonly number[] = []): SnapshotStore & { prune(lastEpoch: number): Promise<void>; keyOf(epoch: number): ArtifactKey } {
  const modelId = artifactId(model);
  const keyOf = (epoch: number): ArtifactKey => ({ kind: `snapshot/${model.kind.replace(/^model\//, '')}`, inputs: { model: modelId, epoch } });
  const kept = (epoch: number) => keep.includes(epoch);
  return {
    keyOf,
    async latest(atMost) {
      for (let epoch = atMost; epoch >= 1; epoch--) {
        const entry = await store.get(keyOf(epoch));
        if (!entry) continue;
        const file = JSON.parse(await readFile(join(entry.dir, SNAPSHOT_JSON), 'utf8')) as SnapshotFile;
        const weights = unpackTensors(file.weights, await readFile(join(entry.dir, SNAPSHOT_WEIGHTS)));
        const optimizer = unpackTensors(file.optimizer, await readFile(join(entry.dir, SNAPSHOT_OPTIMIZER)));
        return {
          epoch: file.epoch, step: file.step, trainSeconds: file.trainSeconds, history: file.history,
          trainCount: file.trainCount, validationCount: file.validationCount, backend: file.backend,
          weights: weights.map((w) => w.tensor), optimizer,
          ...(file.adamBetaPowers ? { adamBetaPowers: file.adamBetaPowers } : {}),
        };
      }
      return undefined;
    },
    async save(snap) {
      await store.put(keyOf(snap.epoch), async (dir) => {
        const weights = packTensors(snap.weights.map((tensor, i) => ({ name: `w${i}`, tensor })));
        const optimizer = packTensors(snap.optimizer);
        const file: SnapshotFile = {
          epoch: snap.epoch, step: snap.step, trainSeconds: snap.trainSeconds, history: snap.history,
          trainCount: snap.trainCount, validationCount: snap.validationCount, backend: snap.backend,
          weights: weights.specs, optimizer: optimizer.specs, adamBetaPowers: snap.adamBetaPowers ?? null,
        };
        await writeFile(join(dir, SNAPSHOT_JSON), JSON.stringify(file));
        await writeFile(join(dir, SNAPSHOT_WEIGHTS), weights.bytes);
        await writeFile(join(dir, SNAPSHOT_OPTIMIZER), optimizer.bytes);
      });
      if (snap.epoch > 1 && !kept(snap.epoch - 1)) await store.remove(keyOf(snap.epoch - 1));
    },
    async prune(lastEpoch) {
      if (!kept(lastEpoch)) await store.remove(keyOf(lastEpoch));
    },
  };
}

/**
 * The network as it was after `epoch` of its training, from its stored snapshot, with what the
 * snapshot recorded of the run so far; undefined when no snapshot of that epoch is stored.
 */
export async function loadSnapshot(
  snapshots: ReturnType<typeof snapshotStore>, epoch: number,
): Promise<{ model: tf.LayersModel; id: string; result: Pick<TrainResult, 'trainCount' | 'validationCount' | 'steps' | 'history' | 'imagesPerSecond' | 'seconds' | 'backend'> } | undefined> {
  const snap = await snapshots.latest(epoch);
  if (!snap) return undefined;
  try {
    if (snap.epoch !== epoch) return undefined;
    const model = buildModel(0);
    model.setWeights(snap.weights);
    const images = snap.history.length > 0 ? snap.trainCount * snap.epoch : 0;
    return {
      model,
      id: artifactId(snapshots.keyOf(epoch)),
      result: {
        trainCount: snap.trainCount, validationCount: snap.validationCount, steps: snap.step, history: snap.history,
        imagesPerSecond: images / Math.max(snap.trainSeconds, 1e-9), seconds: snap.trainSeconds, backend: snap.backend,
      },
    };
  } finally {
    tf.dispose([...snap.weights, ...snap.optimizer.map((o) => o.tensor)]);
  }
}
