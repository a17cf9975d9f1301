import * as tf from '@tensorflow/tfjs';
import { forwardLogits, softmaxAtTemperature } from './model.ts';
import { deriveSeed } from './random.ts';
import { PAPER_TRAIN_CONFIG, planSplit, trainNetwork, type TrainConfig, type TrainedNetwork, type TrainOptions } from './training.ts';
import { IMAGE_SIZE, type Split } from './data/mnist.ts';
import type { ProgressReporter } from '../../engine/util/progress.ts';
import { UserError } from '../../engine/util/errors.ts';

/**
 * Defensive distillation, exactly as the paper's §2:
 *  1. train a teacher F on hard labels with softmax(logits / T);
 *  2. label the training set with F's soft predictions softmax(F_logits / T);
 *  3. train a student of the same architecture on those soft labels, also at T;
 *  4. deploy the student at T = 1: its logits are used undivided.
 */

export interface DistillConfig {
  temperature: number;
  /** Teacher's training; its temperature must equal `temperature`. */
  teacher: TrainConfig;
  /** Student's training; its temperature must equal `temperature`. */
  student: TrainConfig;
}

/** The temperature at which the distilled network is deployed (and attacked). */
export const DEPLOYED_TEMPERATURE = 1;

/**
 * A distillation config at `temperature` from one training config. Each temperature's teacher
 * and student get their own seeds (shuffles, dropout masks and, without a warm start, initial
 * weights), derived from the base seed and T: no two temperatures share a training stream, so
 * two rows can coincide only by measurement, never by construction. At T = 1 the teacher is the
 * base config itself (the baseline).
 */
export function distillConfig(temperature: number, base: TrainConfig = PAPER_TRAIN_CONFIG): DistillConfig {
  return {
    temperature,
    teacher: { ...base, temperature, seed: temperature === 1 ? base.seed : deriveSeed(base.seed, `teacher T=${temperature}`) },
    student: { ...base, temperature, seed: deriveSeed(base.seed, `student T=${temperature}`) },
  };
}

export interface SoftLabelStats {
  count: number;
  temperature: number;
  /** Mean of the largest soft-label probability. */
  meanMaxProbability: number;
  /** Mean entropy of the soft labels, in bits (0 = one-hot, log2(10) = 3.32 = uniform). */
  meanEntropyBits: number;
  /** Fraction whose most likely class is the true label. */
  agreementWithLabels: number;
}

/** softmax(teacher_logits / T) for the first `count` images of `images` (count * 10 values). */
export function computeSoftLabels(teacher: tf.LayersModel, images: Float32Array, count: number, temperature: number, batchSize = 256): Float32Array {
  const out = new Float32Array(count * 10);
  for (let start = 0; start < count; start += batchSize) {
    const b = Math.min(batchSize, count - start);
    const probs = tf.tidy(() => {
      const x = tf.tensor4d(images.slice(start * IMAGE_SIZE, (start + b) * IMAGE_SIZE), [b, 28, 28, 1]);
      return softmaxAtTemperature(forwardLogits(teacher, x), temperature);
    });
    out.set(probs.dataSync() as Float32Array, start * 10);
    probs.dispose();
  }
  return out;
}

export function softLabelStats(soft: Float32Array, labels: Uint8Array, temperature: number): SoftLabelStats {
  const n = soft.length / 10;
  let maxSum = 0;
  let entropySum = 0;
  let agree = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 0; c < 10; c++) {
      const p = soft[i * 10 + c];
      if (p > soft[i * 10 + best]) best = c;
      if (p > 0) entropySum -= p * Math.log2(p);
    }
    maxSum += soft[i * 10 + best];
    if (best === labels[i]) agree++;
  }
  return { count: n, temperature, meanMaxProbability: maxSum / n, meanEntropyBits: entropySum / n, agreementWithLabels: agree / n };
}

export interface DistillOptions {
  progress?: ProgressReporter;
  /** Measure training accuracy after each epoch too. */
  trainAccuracy?: boolean;
  /** Start the network from these weights (a warm start); they are copied, not consumed. */
  initialWeights?: tf.LayersModel;
}

export type DistilledNetwork = TrainedNetwork;

export interface DistillResult {
  temperature: number;
  teacher: DistilledNetwork;
  /** The defended network: deploy its logits at T = 1 (`deployedTemperature`). */
  student: DistilledNetwork;
  deployedTemperature: typeof DEPLOYED_TEMPERATURE;
  softLabels: SoftLabelStats;
}

export function validateDistillConfig(c: DistillConfig): void {
  if (!(c.temperature > 0) || !Number.isFinite(c.temperature)) {
    throw new UserError(`distillation temperature ${c.temperature} must be a positive number`, 'use a temperature of 1 or more, e.g. 20 or 100');
  }
  for (const role of ['teacher', 'student'] as const) {
    if (c[role].temperature !== c.temperature) {
      throw new UserError(
        `distillation: the ${role} trains at T = ${c[role].temperature}, but the distillation temperature is ${c.temperature}`,
        'build the config with distillConfig(T, base) so that both networks train at T',
      );
    }
  }
  if (c.teacher.trainSize !== c.student.trainSize || c.teacher.validationSize !== c.student.validationSize) {
    throw new UserError('distillation: teacher and student must train on the same images', 'give both the same trainSize and validationSize');
  }
}

/**
 * Steps 2 and 3: label the training images with the teacher's softmax at T and train the
 * student on them at T. The one distillation step: `distill` below and the reproduction's grid
 * handler (which stores each network under its own key) both train every student here.
 */
export async function trainStudent(
  teacher: tf.LayersModel, train: Split, student: TrainConfig,
  opts: DistillOptions & Pick<TrainOptions, 'label' | 'snapshots' | 'untilEpoch'> = {},
): Promise<TrainedNetwork & { softLabels: SoftLabelStats }> {
  const plan = planSplit(train.count, student);
  const soft = computeSoftLabels(teacher, train.images, plan.trainCount, student.temperature);
  const stats = softLabelStats(soft, train.labels.subarray(0, plan.trainCount), student.temperature);
  const trained = await trainNetwork(train, student, {
    softLabels: soft, progress: opts.progress, label: opts.label ?? `student T=${student.temperature}`, trainAccuracy: opts.trainAccuracy,
    ...(opts.initialWeights ? { initialWeights: opts.initialWeights } : {}),
    ...(opts.snapshots ? { snapshots: opts.snapshots } : {}),
    ...(opts.untilEpoch ? { untilEpoch: opts.untilEpoch } : {}),
  });
  return { ...trained, softLabels: stats };
}

/** Steps 1 to 3 in memory: train a teacher, then its student (see the module comment). */
export async function distill(train: Split, config: DistillConfig, opts: DistillOptions = {}): Promise<DistillResult> {
  validateDistillConfig(config);
  const T = config.temperature;
  const teacher = await trainNetwork(train, config.teacher, { progress: opts.progress, label: `teacher T=${T}`, trainAccuracy: opts.trainAccuracy, ...(opts.initialWeights ? { initialWeights: opts.initialWeights } : {}) });
  const { softLabels, ...student } = await trainStudent(teacher.model, train, config.student, opts);
  return { temperature: T, teacher, student, deployedTemperature: DEPLOYED_TEMPERATURE, softLabels };
}
