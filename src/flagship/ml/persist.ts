import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARCHITECTURE } from './model.ts';
import { backendIdentity } from './backends/select.ts';
import { sha256 } from '../../engine/util/hash.ts';
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
 * The source files whose change must invalidate a trained model: the network, the training
 * loop, distillation, the seeds, evaluation (in the stored history), pixel scaling, and
 * the wasm gradient kernels and the native OpenBLAS kernels (they compute the updates).
 */
const CODE_FILES = ['model.ts', 'training.ts', 'distillation.ts', 'random.ts', 'evaluate.ts', 'data/idx.ts', 'backends/wasm-kernels.ts', 'backends/wasm-training-kernels.ts', 'backends/wasm-registry.ts', 'backends/native-kernels.ts', '../../native/src/kernels.c'];

let codeHash: string | undefined;
/** sha256 over the training code's sources (file name + content). */
export function trainingCodeHash(): string {
  if (codeHash) return codeHash;
  const parts: string[] = [];
  for (const rel of CODE_FILES) {
    const path = fileURLToPath(new URL(`./${rel}`, import.meta.url));
    if (!existsSync(path)) continue;
    parts.push(`${rel}\0${sha256(readFileSync(path))}`);
  }
  codeHash = sha256(parts.join('\n'));
  return codeHash;
}

export interface ModelKeyOptions {
  /** What trains (results differ in the last bits between backends and kernel sets); default `backendIdentity()`. */
  backend?: string;
}

/**
 * The artifact key of a trained model: covers what it is (`kind`), the full training
 * config (seed included), the data checksums, the architecture, the training code and
 * the backend.
 */
export function trainedModelKey(kind: string, config: unknown, dataChecksums: Record<string, string>, opts: ModelKeyOptions = {}): ArtifactKey {
  return {
    kind: `model/${kind}`,
    inputs: {
      architecture: ARCHITECTURE,
      config,
      data: dataChecksums,
      code: trainingCodeHash(),
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
