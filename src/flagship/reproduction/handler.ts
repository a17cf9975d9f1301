import type * as tfTypes from '@tensorflow/tfjs';
import type { GridUnit, JsonValue, UnitContext } from '../../engine/grid/unit.ts';
import type { ArtifactStore } from '../../engine/store/artifacts.ts';
import type { AttackUnitInputs, TrainUnitInputs } from './plan.ts';
import type { TrainResult } from '../ml/training.ts';
import { toStored, type AdversarialExample, type AttackUnitResult, type NetworkUnitResult } from './unit-results.ts';

/**
 * The grid handler of the reproduction (see src/engine/grid/index.ts for the rules a handler
 * follows). Each worker thread initialises its own tfjs backend and its own copy of
 * MNIST; networks are stored as model artifacts (src/flagship/ml/persist.ts) and every unit
 * returns small JSON.
 *
 * A dependent unit never trusts that its dependency's model is still on disk: it asks
 * the store for the model under the same key and retrains it if the entry is missing or
 * corrupt. The grid's memoised result is a summary; the weights are the artifact.
 */

let tf: typeof tfTypes;
let backendIdentity: () => string;

/** What the parent hands every thread (runExperimentGrid): the backend it resolved. */
export interface HandlerConfig {
  backend: string;
}

export async function init(config: JsonValue): Promise<void> {
  tf = await import('@tensorflow/tfjs');
  const select = await import('../ml/backends/select.ts');
  const { initBackend } = select;
  backendIdentity = select.backendIdentity;
  // The parent resolved the backend and put its identity in every unit's inputs; a worker must use the same one.
  const backend = (config as Partial<HandlerConfig> | null)?.backend;
  if (typeof backend !== 'string') throw new Error('the reproduction handler needs handlerConfig { backend } (runExperimentGrid passes it)');
  await initBackend(backend as never);
}

async function data() {
  const { loadMnist } = await import('../ml/data/mnist.ts');
  return loadMnist();
}

function checkEnvironment(env: TrainUnitInputs['env'], checksums: Record<string, string>): void {
  const here = backendIdentity();
  if (here !== env.backend) {
    throw new Error(`unit planned for backend '${env.backend}' but this worker runs '${here}'`);
  }
  for (const [file, sha] of Object.entries(env.data)) {
    if (checksums[file] !== sha) throw new Error(`MNIST file ${file} changed since the grid was planned (sha256 ${checksums[file]} != ${sha})`);
  }
}

/**
 * What identifies a trained network: its inputs without the environment (which enters the key
 * as the backend and the data checksums), recursively through its teacher and warm start.
 */
export function networkIdentity(inputs: TrainUnitInputs): JsonValue {
  return {
    role: inputs.role,
    temperature: inputs.temperature,
    config: inputs.config as unknown as JsonValue,
    teacher: inputs.teacher ? networkIdentity(inputs.teacher) : null,
    warmStart: inputs.warmStart ? networkIdentity(inputs.warmStart) : null,
  };
}

/** A trained network, or a checkpoint of one, as the units use it. */
interface ObtainedNetwork {
  model: tfTypes.LayersModel;
  /** The artifact the weights come from: the stored model, or the checkpoint's snapshot. */
  id: string;
  result: Pick<TrainResult, 'trainCount' | 'validationCount' | 'steps' | 'history' | 'imagesPerSecond' | 'seconds' | 'backend'>;
}

/**
 * The trained network for `inputs`: from the store when intact, else trained (recursively: its
 * warm start, a student's teacher). A network of several epochs trains resumably, from the
 * snapshot of its last finished epoch (persist.ts, snapshotStore), keeping the snapshots of
 * `inputs.keepSnapshots`. With `checkpointEpoch`, the network as it was after that epoch.
 */
async function obtainModel(store: ArtifactStore, inputs: TrainUnitInputs, ctx: UnitContext): Promise<ObtainedNetwork> {
  const { trainNetwork } = await import('../ml/training.ts');
  const { trainStudent } = await import('../ml/distillation.ts');
  const { getOrTrainModel, loadSnapshot, snapshotStore, trainedModelKey } = await import('../ml/persist.ts');
  const mnist = await data();
  checkEnvironment(inputs.env, mnist.checksums);
  const key = await trainedModelKey(inputs.role, networkIdentity(inputs), mnist.checksums, { backend: inputs.env.backend });
  const epochs = inputs.config.epochs;
  const checkpoint = inputs.checkpointEpoch !== undefined && inputs.checkpointEpoch < epochs ? inputs.checkpointEpoch : undefined;
  const keep = [...(inputs.keepSnapshots ?? []), ...(checkpoint ? [checkpoint] : [])].filter((e) => e < epochs);
  const snapshots = epochs > 1 ? snapshotStore(store, key, keep) : undefined;
  const train = async (untilEpoch?: number) => {
    const label = inputs.role === 'baseline' || inputs.role === 'warmstart' ? inputs.role : `${inputs.role} T=${inputs.temperature}`;
    const start = inputs.warmStart ? await obtainModel(store, inputs.warmStart, ctx) : undefined;
    const opts = {
      ...(start ? { initialWeights: start.model } : {}), progress: ctx.progress, label,
      ...(snapshots ? { snapshots } : {}), ...(untilEpoch ? { untilEpoch } : {}),
    };
    try {
      if (inputs.role === 'student') {
        const teacher = await obtainModel(store, inputs.teacher!, ctx);
        try {
          return await trainStudent(teacher.model, mnist.train, inputs.config, opts);
        } finally {
          teacher.model.dispose();
        }
      }
      return await trainNetwork(mnist.train, inputs.config, opts);
    } finally {
      start?.model.dispose();
    }
  };
  if (checkpoint && snapshots) {
    // The snapshot a run of the whole network left at that epoch; trained up to it when missing.
    const found = await loadSnapshot(snapshots, checkpoint);
    if (found) return found;
    (await train(checkpoint)).model.dispose();
    const trained = await loadSnapshot(snapshots, checkpoint);
    if (!trained) throw new Error(`the snapshot of epoch ${checkpoint} of ${inputs.role} was not stored`);
    return trained;
  }
  const net = await getOrTrainModel(store, key, () => train());
  await snapshots?.prune(epochs);
  return net;
}

async function executeTrain(inputs: TrainUnitInputs, ctx: UnitContext): Promise<NetworkUnitResult> {
  const { evaluateAccuracy } = await import('../ml/evaluate.ts');
  const net = await obtainModel(ctx.store, inputs, ctx);
  const mnist = await data();
  const accuracy = evaluateAccuracy(net.model, mnist.test);
  net.model.dispose();
  const r = net.result;
  return {
    role: inputs.role,
    temperature: inputs.temperature,
    modelArtifact: net.id,
    testAccuracy: accuracy,
    testCount: mnist.test.count,
    trainCount: r.trainCount,
    validationCount: r.validationCount,
    steps: r.steps,
    history: r.history,
    imagesPerSecond: r.imagesPerSecond,
    trainSeconds: r.seconds,
    backend: r.backend,
  };
}

/** How many adversarial examples each attack unit keeps for the notebooks' galleries. */
const GALLERY = 6;

async function executeAttack(inputs: AttackUnitInputs, ctx: UnitContext): Promise<AttackUnitResult> {
  const { sliceSplit } = await import('../ml/data/mnist.ts');
  const mnist = await data();
  const net = await obtainModel(ctx.store, inputs.model, ctx);
  const split = sliceSplit(mnist.test, inputs.samples.start, inputs.samples.count);
  const attackData = { images: split.images, labels: split.labels, ids: Array.from({ length: split.count }, (_, i) => inputs.samples.start + i) };
  try {
    const { runAttack } = await import('../ml/attacks/evaluate.ts');
    const { fgsmVariants } = await import('../ml/attacks/fgsm.ts');
    const opts = { progress: ctx.progress, keepAdversarial: inputs.spec.kind === 'jsma' ? GALLERY * 9 : GALLERY };
    const spec = inputs.spec;
    // An FGSM unit computes all its variants from shared gradient passes; the first is its headline.
    const variantList = spec.kind === 'fgsm' ? spec.variants : undefined;
    const byVariant = spec.kind === 'fgsm' && variantList ? await fgsmVariants(net.model, attackData, spec, variantList, opts) : null;
    const result = byVariant && variantList ? byVariant[variantList[0]] : await runAttack(net.model, attackData, spec, opts);
    const variants: AttackUnitResult['variants'] = byVariant
      ? Object.fromEntries(Object.entries(byVariant).map(([v, r]) => [v, { summary: r.summary, zeroGradientCount: r.outcomes.filter((o) => o.zeroGradient).length }]))
      : null;
    // Keep a few examples (original, adversarial) for galleries: rounded to 1e-4 to keep the JSON small.
    const per = 784;
    const kept = result.adversarial.length / per;
    const examples: AdversarialExample[] = [];
    for (let k = 0; k < kept && examples.length < GALLERY; k++) {
      const o = result.outcomes[k];
      if (inputs.spec.kind === 'jsma' && !o.success && examples.length > 0) continue;
      const idx = o.id - inputs.samples.start;
      const round = (a: Float32Array) => Array.from(a, (v) => Math.round(v * 1e4) / 1e4);
      examples.push({
        id: o.id, label: o.label, target: o.target ?? null, predBefore: o.predBefore, predAfter: o.predAfter, success: o.success,
        original: round(split.images.subarray(idx * per, (idx + 1) * per)),
        adversarial: round(result.adversarial.subarray(k * per, (k + 1) * per)),
      });
    }
    // FGSM records, per sample, whether its gradient was exactly zero and its logit gap: the
    // saturation diagnostic of the very gradient the attack used.
    let saturation: AttackUnitResult['saturation'] = null;
    if (inputs.spec.kind === 'fgsm') {
      const { saturationFromOutcomes } = await import('../ml/attacks/saturation.ts');
      saturation = saturationFromOutcomes(result.outcomes, { loss: inputs.spec.loss ?? 'softmax-cross-entropy', temperature: inputs.spec.temperature ?? 1 });
    }
    return { attack: inputs.attack, summary: result.summary, variants, saturation, examples, wallMs: result.timing.wallMs, perSecond: result.timing.perSecond };
  } finally {
    net.model.dispose();
  }
}

export async function execute(unit: GridUnit, ctx: UnitContext): Promise<JsonValue> {
  switch (unit.kind) {
    case 'train': return toStored(await executeTrain(unit.inputs as unknown as TrainUnitInputs, ctx));
    case 'attack': return toStored(await executeAttack(unit.inputs as unknown as AttackUnitInputs, ctx));
    default: throw new Error(`unknown unit kind '${unit.kind}' (expected 'train' or 'attack')`);
  }
}
