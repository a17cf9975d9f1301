import * as tf from '@tensorflow/tfjs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARCHITECTURE } from './model.ts';
import { backendIdentity } from './backends/select.ts';
import { codeHash } from '../../engine/store/code-fingerprint.ts';
import type { ArtifactKey, ArtifactStore } from '../../engine/store/artifacts.ts';
import type { TrainedNetwork, TrainResult } from './training.ts';

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
