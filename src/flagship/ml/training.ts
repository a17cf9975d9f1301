import * as tf from '@tensorflow/tfjs';
import { buildModel, forwardLogits } from './model.ts';
import { deriveSeed, permutation } from './random.ts';
import { evaluateAccuracy } from './evaluate.ts';
import { IMAGE_SIZE, type Split } from './data/mnist.ts';
import { silentProgress, type ProgressReporter } from '../../engine/util/progress.ts';
import { UserError } from '../../engine/util/errors.ts';
import { backendIdentity } from './backends/select.ts';

/**
 * Training of the paper's network with a custom loop rather than `model.fit`: fit shuffles
 * with Math.random, and a seeded Dropout layer repeats one mask forever. Here one seed
 * determines the initial weights, every epoch's shuffle and every step's dropout mask,
 * so the same seed on the same backend gives bit-identical weights and metrics.
 */

export type TrainOptimizer = 'sgd' | 'adam';
export type LearningRateSchedule = 'constant' | 'linear';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  learningRate: number;
  momentum: number;
  /** Nesterov momentum (default false, as in [7]; Carlini uses it). SGD only. */
  nesterov?: boolean;
  /**
   * 'sgd' (default): SGD with momentum, the paper's. 'adam': Adam (beta1 0.9, beta2 0.999,
   * epsilon 1e-7; `momentum` and `nesterov` unused). Training at temperature T divides every
   * gradient by about T; SGD's step shrinks with it, Adam's (normalised per weight) does not,
   * which is why the short profiles use Adam.
   */
  optimizer?: TrainOptimizer;
  /**
   * 'constant' (default, the paper's) or 'linear': the learning rate falls linearly from
   * `learningRate` at the first step to 0 after the last, so that a short fine-tuning run ends
   * converged rather than at full step size.
   */
  learningRateSchedule?: LearningRateSchedule;
  /** Dropout rate after the first dense layer, during training only. */
  dropout: number;
  /** Train on the first N images of the training split, or all of it minus the validation hold-out. */
  trainSize: number | 'all';
  /** Images held out at the END of the training split for validation (never trained on). */
  validationSize: number;
  /** Softmax temperature of the training loss: cross-entropy of softmax(logits / T). */
  temperature: number;
  seed: number;
}

/**
 * The protocol of [7] (Papernot et al., S&P 2016) for MNIST, as remembered in reference.md:
 * *unverified* until checked against its tables. The 5,000-image validation hold-out follows
 * Carlini's public reproduction; [7] does not state one (also unverified).
 */
export const PAPER_TRAIN_CONFIG: Readonly<TrainConfig> = Object.freeze({
  epochs: 50,
  batchSize: 128,
  learningRate: 0.1,
  momentum: 0.5,
  nesterov: false,
  optimizer: 'sgd',
  dropout: 0.5,
  trainSize: 'all',
  validationSize: 5000,
  temperature: 1,
  seed: 1,
});

export interface EpochRecord {
  epoch: number;
  /** Mean training loss over the epoch's batches as optimised (at the training temperature, with dropout,). */
  loss: number;
  trainAccuracy?: number;
  valAccuracy?: number;
  /** Wall time of the epoch's training steps (not deterministic). */
  seconds: number;
}

export interface TrainResult {
  config: TrainConfig;
  backend: string;
  trainCount: number;
  validationCount: number;
  steps: number;
  history: EpochRecord[];
  /** Training throughput over all epochs, evaluation excluded (not deterministic). */
  imagesPerSecond: number;
  seconds: number;
}

export interface TrainedNetwork {
  model: tf.LayersModel;
  result: TrainResult;
}

export interface TrainOptions {
  /** Soft targets (n * 10, rows summing to 1) aligned with the split; default: one-hot of its labels. */
  softLabels?: Float32Array;
  progress?: ProgressReporter;
  /** Label of the progress bar. */
  label?: string;
  /** Also measure accuracy on the training images after each epoch (a full extra pass). */
  trainAccuracy?: boolean;
  /**
   * Start from these weights (a warm start, e.g. a network trained one epoch at T = 1)
   * instead of the seeded initialisation. Same architecture; the model is not modified.
   */
  initialWeights?: tf.LayersModel;
  /** Called after each epoch with its record (live logs of long runs). */
  onEpoch?: (record: EpochRecord) => void;
  /**
   * Resumable training: the run continues from the latest stored snapshot (weights, optimiser
   * state, step and history after a whole epoch) and stores one after every epoch, so that a
   * killed run loses at most an epoch. Resuming gives bit-identical weights: shuffles and
   * dropout masks derive from the seed, the epoch and the step, never from a generator's state.
   */
  snapshots?: SnapshotStore;
  /**
   * Stop after this epoch (default: config.epochs) and return the network as it is then, the
   * same network a full run passes through (a checkpoint); the schedule still spans
   * config.epochs.
   */
  untilEpoch?: number;
}

/** A training run after a whole epoch: everything needed to continue it bit for bit. */
export interface TrainingSnapshot {
  /** Epochs completed. */
  epoch: number;
  /** Optimiser steps taken. */
  step: number;
  trainSeconds: number;
  history: EpochRecord[];
  trainCount: number;
  validationCount: number;
  /** The backend identity that trained it. */
  backend: string;
  /** The model's weights (model.getWeights() order). */
  weights: tf.Tensor[];
  /** The optimiser's state (optimizer.getWeights(): its iteration count, then its slots). */
  optimizer: Array<{ name: string; tensor: tf.Tensor }>;
  /**
   * Adam's running powers of beta1 and beta2: tfjs's setWeights recomputes them with pow(),
   * which differs from the running product in the last bits, so they are stored as they are.
   */
  adamBetaPowers?: [number, number];
}

/** Where a resumable run keeps its snapshots (src/flagship/ml/persist.ts stores them as artifacts). */
export interface SnapshotStore {
  /** The snapshot of the latest epoch stored, at most `epoch`, or undefined. The caller disposes its tensors. */
  latest(epoch: number): Promise<TrainingSnapshot | undefined>;
  save(snapshot: TrainingSnapshot): Promise<void>;
}

export interface SplitPlan {
  trainCount: number;
  validationStart: number;
  validationCount: number;
}

function check(ok: boolean, what: string, fix: string): void {
  if (!ok) throw new UserError(`training config: ${what}`, fix);
}

/** Reject a config that cannot be trained, naming the field. */
export function validateTrainConfig(c: TrainConfig): void {
  check(Number.isInteger(c.epochs) && c.epochs >= 1, `epochs ${c.epochs} is not a whole number >= 1`, 'set epochs to 1 or more');
  check(Number.isInteger(c.batchSize) && c.batchSize >= 1, `batchSize ${c.batchSize} is not a whole number >= 1`, 'set batchSize to e.g. 128');
  check(c.learningRate > 0 && Number.isFinite(c.learningRate), `learningRate ${c.learningRate} must be a positive number`, 'set learningRate to e.g. 0.1');
  check(c.optimizer === undefined || c.optimizer === 'sgd' || c.optimizer === 'adam', `optimizer '${String(c.optimizer)}' is unknown`, "set optimizer to 'sgd' (the paper's) or 'adam'");
  check(c.learningRateSchedule === undefined || c.learningRateSchedule === 'constant' || c.learningRateSchedule === 'linear', `learningRateSchedule '${String(c.learningRateSchedule)}' is unknown`, "set learningRateSchedule to 'constant' or 'linear'");
  check(c.momentum >= 0 && c.momentum < 1, `momentum ${c.momentum} must be in [0, 1)`, 'set momentum to e.g. 0.5');
  check(c.dropout >= 0 && c.dropout < 1, `dropout ${c.dropout} must be in [0, 1)`, 'set dropout to e.g. 0.5, or 0 for none');
  check(c.temperature > 0 && Number.isFinite(c.temperature), `temperature ${c.temperature} must be a positive number`, 'set temperature to 1 or more');
  check(Number.isSafeInteger(c.seed) && c.seed >= 0, `seed ${c.seed} is not a non-negative integer`, 'set seed to a whole number');
  check(Number.isInteger(c.validationSize) && c.validationSize >= 0, `validationSize ${c.validationSize} is not a whole number >= 0`, 'set validationSize to e.g. 5000, or 0 for none');
  check(c.trainSize === 'all' || (Number.isInteger(c.trainSize) && c.trainSize >= 1), `trainSize ${String(c.trainSize)} is not 'all' or a whole number >= 1`, "set trainSize to 'all' or a count");
}

/** Which images train and which validate: training from the start, validation from the end, disjoint. */
export function planSplit(count: number, c: TrainConfig): SplitPlan {
  const validationStart = count - c.validationSize;
  const trainCount = c.trainSize === 'all' ? validationStart : c.trainSize;
  if (validationStart < 1 || trainCount > validationStart) {
    throw new UserError(
      `training config: trainSize ${String(c.trainSize)} + validationSize ${c.validationSize} exceed the ${count} training images available`,
      `lower trainSize or validationSize (or load more training images)`,
    );
  }
  return { trainCount, validationStart, validationCount: c.validationSize };
}

/** Copy the rows `idx` of a (n * width) array into a new array. */
function gatherRows(src: Float32Array, idx: Uint32Array, width: number): Float32Array {
  const out = new Float32Array(idx.length * width);
  for (let i = 0; i < idx.length; i++) out.set(src.subarray(idx[i] * width, (idx[i] + 1) * width), i * width);
  return out;
}

function oneHotRows(labels: Uint8Array, idx: Uint32Array): Float32Array {
  const out = new Float32Array(idx.length * 10);
  for (let i = 0; i < idx.length; i++) out[i * 10 + labels[idx[i]]] = 1;
  return out;
}

/** The per-step loss: cross-entropy of softmax(logits / T) against `targets`, computed stably. */
export function temperatureLoss(logits: tf.Tensor2D, targets: tf.Tensor2D, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const scaled = temperature === 1 ? logits : tf.div(logits, temperature);
    return tf.losses.softmaxCrossEntropy(targets, scaled) as tf.Scalar;
  });
}

/** The optimiser of `config`; tfjs's defaults for Adam's betas and epsilon. */
function makeOptimizer(config: TrainConfig): tf.Optimizer {
  if (config.optimizer === 'adam') return tf.train.adam(config.learningRate);
  return tf.train.momentum(config.learningRate, config.momentum, config.nesterov ?? false);
}

/** The learning rate of step `step` (0-based) of `total` under the config's schedule. */
export function learningRateAt(config: TrainConfig, step: number, total: number): number {
  if (config.learningRateSchedule !== 'linear') return config.learningRate;
  return config.learningRate * (1 - step / total);
}

/** The optimiser's Adam beta powers, when it is Adam (tfjs keeps them as private variables). */
function adamBetaPowers(optimizer: tf.Optimizer): { accBeta1: tf.Variable; accBeta2: tf.Variable } | undefined {
  const o = optimizer as unknown as { accBeta1?: tf.Variable; accBeta2?: tf.Variable };
  return o.accBeta1 && o.accBeta2 ? { accBeta1: o.accBeta1, accBeta2: o.accBeta2 } : undefined;
}

/** Continue `model` and `optimizer` from `snap` (weights, optimiser slots, Adam's beta powers). */
export async function restoreSnapshot(model: tf.LayersModel, optimizer: tf.Optimizer, snap: TrainingSnapshot): Promise<void> {
  model.setWeights(snap.weights);
  await optimizer.setWeights(snap.optimizer);
  const powers = adamBetaPowers(optimizer);
  if (powers && snap.adamBetaPowers) {
    powers.accBeta1.assign(tf.scalar(snap.adamBetaPowers[0]));
    powers.accBeta2.assign(tf.scalar(snap.adamBetaPowers[1]));
  }
}

/** The state after an epoch, as a snapshot (the tensors are the live ones: the store reads them before training goes on). */
export async function takeSnapshot(model: tf.LayersModel, optimizer: tf.Optimizer, s: Omit<TrainingSnapshot, 'weights' | 'optimizer' | 'adamBetaPowers'>): Promise<TrainingSnapshot> {
  const powers = adamBetaPowers(optimizer);
  return {
    ...s,
    history: s.history.map((r) => ({ ...r })),
    weights: model.getWeights(),
    optimizer: await optimizer.getWeights(),
    ...(powers ? { adamBetaPowers: [powers.accBeta1.dataSync()[0], powers.accBeta2.dataSync()[0]] as [number, number] } : {}),
  };
}

/** Set the optimiser's rate for the next step (tfjs: SGD and momentum cache it as a tensor; Adam reads the field). */
function setLearningRate(optimizer: tf.Optimizer, rate: number): void {
  const o = optimizer as unknown as { setLearningRate?: (r: number) => void; learningRate: number };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(rate);
  else o.learningRate = rate;
}

/** Build the network from `config.seed` and train it on `split`. */
export async function trainNetwork(split: Split, config: TrainConfig, opts: TrainOptions = {}): Promise<TrainedNetwork> {
  validateTrainConfig(config);
  const plan = planSplit(split.count, config);
  if (opts.softLabels && opts.softLabels.length < plan.trainCount * 10) {
    throw new RangeError(`softLabels has ${opts.softLabels.length / 10} rows for ${plan.trainCount} training images`);
  }
  const model = buildModel(deriveSeed(config.seed, 'init'));
  if (opts.initialWeights) model.setWeights(opts.initialWeights.getWeights());
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = makeOptimizer(config);
  const stepsPerEpoch = Math.ceil(plan.trainCount / config.batchSize);
  const validation: Split = {
    images: split.images.subarray(plan.validationStart * IMAGE_SIZE, split.count * IMAGE_SIZE),
    labels: split.labels.subarray(plan.validationStart, split.count),
    count: plan.validationCount,
  };
  const trainView: Split = {
    images: split.images.subarray(0, plan.trainCount * IMAGE_SIZE),
    labels: split.labels.subarray(0, plan.trainCount),
    count: plan.trainCount,
  };

  const lastEpoch = opts.untilEpoch ?? config.epochs;
  if (!Number.isInteger(lastEpoch) || lastEpoch < 1 || lastEpoch > config.epochs) {
    throw new UserError(`training: untilEpoch ${String(opts.untilEpoch)} is not a whole number in 1..${config.epochs}`, 'ask for a checkpoint between the first and the last epoch');
  }
  const history: EpochRecord[] = [];
  let trainSeconds = 0;
  let step = 0;
  let firstEpoch = 1;
  const resumed = await opts.snapshots?.latest(lastEpoch);
  if (resumed) {
    try {
      await restoreSnapshot(model, optimizer, resumed);
    } finally {
      tf.dispose([...resumed.weights, ...resumed.optimizer.map((w) => w.tensor)]);
    }
    history.push(...resumed.history);
    trainSeconds = resumed.trainSeconds;
    step = resumed.step;
    firstEpoch = resumed.epoch + 1;
  }
  const progress = (opts.progress ?? silentProgress).start(opts.label ?? 'training', lastEpoch * plan.trainCount, 'img');
  if (resumed) progress.update((firstEpoch - 1) * plan.trainCount, { fields: { epoch: `${resumed.epoch}/${config.epochs}`, resumed: 'yes' } });
  try {
    for (let epoch = firstEpoch; epoch <= lastEpoch; epoch++) {
      const order = permutation(plan.trainCount, deriveSeed(config.seed, 'shuffle', epoch));
      const losses: tf.Scalar[] = [];
      const t0 = performance.now();
      for (let s = 0; s < stepsPerEpoch; s++, step++) {
        const idx = order.subarray(s * config.batchSize, Math.min((s + 1) * config.batchSize, plan.trainCount));
        const b = idx.length;
        const xs = tf.tensor4d(gatherRows(split.images, idx, IMAGE_SIZE), [b, 28, 28, 1]);
        const ys = tf.tensor2d(opts.softLabels ? gatherRows(opts.softLabels, idx, 10) : oneHotRows(split.labels, idx), [b, 10]);
        const dropoutSeed = deriveSeed(config.seed, 'dropout', step);
        const lossFn = () => temperatureLoss(forwardLogits(model, xs, { dropoutRate: config.dropout, dropoutSeed }), ys, config.temperature);
        if (config.learningRateSchedule === 'linear') setLearningRate(optimizer, learningRateAt(config, step, config.epochs * stepsPerEpoch));
        const loss = optimizer.minimize(lossFn, true, vars) as tf.Scalar;
        xs.dispose();
        ys.dispose();
        losses.push(loss);
        if (s % 10 === 9 || s === stepsPerEpoch - 1) {
          const done = (epoch - 1) * plan.trainCount + Math.min((s + 1) * config.batchSize, plan.trainCount);
          const elapsed = trainSeconds + (performance.now() - t0) / 1000;
          progress.update(done, {
            fields: {
              epoch: `${epoch}/${config.epochs}`,
              batch: `${s + 1}/${stepsPerEpoch}`,
              loss: loss.dataSync()[0].toFixed(4),
              'img/s': Math.round(done / Math.max(elapsed, 1e-9)),
            },
          });
          // Let timers (the live bar, signals) run between steps.
          await new Promise((r) => setImmediate(r));
        }
      }
      const seconds = (performance.now() - t0) / 1000;
      trainSeconds += seconds;
      const meanLoss = tf.tidy(() => tf.div(tf.addN(losses), losses.length).dataSync()[0]);
      for (const l of losses) l.dispose();
      const record: EpochRecord = { epoch, loss: meanLoss, seconds };
      if (opts.trainAccuracy) record.trainAccuracy = evaluateAccuracy(model, trainView);
      if (plan.validationCount > 0) record.valAccuracy = evaluateAccuracy(model, validation);
      history.push(record);
      opts.onEpoch?.(record);
      if (opts.snapshots) {
        const about = { epoch, step, trainSeconds, history, trainCount: plan.trainCount, validationCount: plan.validationCount, backend: backendIdentity() };
        await opts.snapshots.save(await takeSnapshot(model, optimizer, about));
      }
    }
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    optimizer.dispose();
    // tfjs 4.22's MomentumOptimizer.dispose forgets SGD's learning-rate scalar `c`: one leaked tensor per run.
    const c = (optimizer as unknown as { c?: tf.Tensor }).c;
    if (c && !c.isDisposed) c.dispose();
  }
  const last = history[history.length - 1];
  progress.done(`loss ${last.loss.toFixed(4)}${last.valAccuracy !== undefined ? `, validation accuracy ${(100 * last.valAccuracy).toFixed(2)}%` : ''}`);
  return {
    model,
    result: {
      config: { ...config },
      backend: backendIdentity(),
      trainCount: plan.trainCount,
      validationCount: plan.validationCount,
      steps: step,
      history,
      imagesPerSecond: (lastEpoch * plan.trainCount) / Math.max(trainSeconds, 1e-9),
      seconds: trainSeconds,
    },
  };
}
