import { UserError } from '../../engine/util/errors.ts';
import type { Params } from '../../engine/core/records.ts';
import { PAPER_TRAIN_CONFIG, type LearningRateSchedule, type TrainConfig, type TrainOptimizer } from '../ml/training.ts';

/**
 * The reproduction's knobs, as one typed record. Notebooks receive flat parameters (front
 * matter defaults, overridden by a profile in reprobook.config.yaml and by --param); this
 * module turns them into typed values once, so every notebook plans the same grid from the
 * same profile and therefore hits the same artifacts.
 */
export interface ExperimentParams {
  seed: number;
  /** Training images (first N of the training split) or 'all' (60,000 minus the hold-out). */
  trainSize: number | 'all';
  validationSize: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** SGD momentum (unused by Adam). */
  momentum: number;
  /** Nesterov momentum for SGD. */
  nesterov: boolean;
  /** 'sgd' (the paper's) or 'adam' (TrainConfig.optimizer says why the short profiles use it). */
  optimizer: TrainOptimizer;
  /** 'constant' (the paper's) or 'linear' decay to 0 over each network's own training. */
  learningRateSchedule: LearningRateSchedule;
  dropout: number;
  /**
   * Epochs of a shared warm start (0 = none, the paper's): per seed, one network trained this
   * long at T = 1 on hard labels is the starting point of the baseline and of every teacher and
   * student, which then train `epochs` more (Carlini and Wagner's reproduction does this with 1).
   */
  warmStartEpochs: number;
  /**
   * Independent seeds (seed, seed + 1, ...) for the headline rows: the baseline, and the
   * highest temperature's teacher and student, with their FGSM. The other rows use `seed` only.
   */
  seeds: number;
  /** Distillation temperatures; T = 1 reuses the baseline as its teacher. */
  temperatures: number[];
  /**
   * Epochs after which the main seed's baseline is also evaluated and attacked with FGSM, as
   * it was at that point of its own training (its snapshots; empty: none). The last epoch is
   * the baseline itself.
   */
  checkpointEpochs: number[];
  fgsmEps: number;
  /** FGSM (and the saturation diagnostic, and temperature-corrected FGSM) on the first N test images. */
  fgsmSamples: number;
  jsmaGamma: number;
  /** JSMA on the first N test images, each towards its 9 other classes. */
  jsmaSamples: number;
  /** JSMA digits on the headline rows (the baseline and the highest temperature), when more than jsmaSamples. */
  jsmaHeadlineSamples: number;
  pgdSamples: number;
  pgdSteps: number;
  pgdStepSize: number;
  /** tfjs backend preference: auto, tensorflow-gpu, webgpu, tensorflow, wasm, cpu. */
  backend: string;
  /** Worker threads for the grid; 0 = one per core. */
  workers: number;
}

/** The paper's protocol ([7], via reference.md; *unverified* where reference.md says so). */
export const PAPER_EXPERIMENT: Readonly<ExperimentParams> = Object.freeze({
  seed: PAPER_TRAIN_CONFIG.seed,
  trainSize: 'all',
  validationSize: PAPER_TRAIN_CONFIG.validationSize,
  epochs: PAPER_TRAIN_CONFIG.epochs,
  batchSize: PAPER_TRAIN_CONFIG.batchSize,
  learningRate: PAPER_TRAIN_CONFIG.learningRate,
  momentum: PAPER_TRAIN_CONFIG.momentum,
  nesterov: false,
  optimizer: 'sgd',
  learningRateSchedule: 'constant',
  dropout: PAPER_TRAIN_CONFIG.dropout,
  warmStartEpochs: 0,
  seeds: 1,
  temperatures: [1, 2, 5, 10, 20, 30, 40, 50, 100],
  checkpointEpochs: [],
  fgsmEps: 0.3,
  fgsmSamples: 10000,
  jsmaGamma: 0.145,
  jsmaSamples: 1000,
  jsmaHeadlineSamples: 0,
  pgdSamples: 10000,
  pgdSteps: 40,
  pgdStepSize: 0.01,
  backend: 'auto',
  workers: 0,
});

type Kind = 'int' | 'number' | 'numbers' | 'wholes' | 'string' | 'size' | 'boolean' | readonly string[];
const KINDS: Record<keyof ExperimentParams, Kind> = {
  seed: 'int', trainSize: 'size', validationSize: 'int', epochs: 'int', batchSize: 'int',
  learningRate: 'number', momentum: 'number', nesterov: 'boolean', optimizer: ['sgd', 'adam'], learningRateSchedule: ['constant', 'linear'],
  dropout: 'number', warmStartEpochs: 'int', seeds: 'int', temperatures: 'numbers', checkpointEpochs: 'wholes',
  fgsmEps: 'number', fgsmSamples: 'int', jsmaGamma: 'number', jsmaSamples: 'int', jsmaHeadlineSamples: 'int',
  pgdSamples: 'int', pgdSteps: 'int', pgdStepSize: 'number', backend: 'string', workers: 'int',
};

function bad(name: string, value: unknown, want: string): never {
  throw new UserError(`parameter ${name} = ${JSON.stringify(value)} is not ${want}`, `set ${name} to ${want} (--param ${name}=...)`);
}

function coerce(name: string, kind: Kind, v: unknown): unknown {
  if (typeof kind !== 'string') {
    if (typeof v === 'string' && kind.includes(v)) return v;
    return bad(name, v, `one of ${kind.map((k) => `'${k}'`).join(', ')}`);
  }
  switch (kind) {
    case 'int':
      if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
      return bad(name, v, 'a whole number >= 0');
    case 'number':
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      return bad(name, v, 'a number');
    case 'numbers':
      if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && x > 0)) return [...v].sort((a, b) => (a as number) - (b as number));
      return bad(name, v, 'a non-empty list of positive numbers');
    case 'wholes':
      if (Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 1)) return [...new Set(v as number[])].sort((a, b) => a - b);
      return bad(name, v, 'a list of whole numbers >= 1 (may be empty)');
    case 'boolean':
      if (typeof v === 'boolean') return v;
      return bad(name, v, 'true or false');
    case 'string':
      if (typeof v === 'string') return v;
      return bad(name, v, 'a string');
    case 'size':
      if (v === 'all') return 'all';
      if (typeof v === 'number' && Number.isInteger(v) && v >= 1) return v;
      return bad(name, v, "'all' or a whole number >= 1");
  }
}

/**
 * Typed experiment parameters from a notebook's `params`: every key of ExperimentParams that
 * the notebook declares is taken from it (validated), the others from `PAPER_EXPERIMENT`.
 */
export function experimentParams(params: Params): ExperimentParams {
  const out: Record<string, unknown> = { ...PAPER_EXPERIMENT };
  for (const [name, kind] of Object.entries(KINDS)) {
    if (params[name] !== undefined) out[name] = coerce(name, kind, params[name]);
  }
  const p = out as unknown as ExperimentParams;
  if (p.seeds < 1) bad('seeds', p.seeds, 'a whole number >= 1');
  const late = p.checkpointEpochs.filter((e) => e > p.epochs);
  if (late.length > 0) bad('checkpointEpochs', p.checkpointEpochs, `a list of epochs within the ${p.epochs} the networks train`);
  for (const name of ['fgsmSamples', 'jsmaSamples', 'jsmaHeadlineSamples', 'pgdSamples'] as const) {
    if (p[name] > 10000) bad(name, p[name], 'at most 10000 (the MNIST test set)');
  }
  return p;
}

/** The training config every network of the grid shares (before its temperature and seed). */
export function baseTrainConfig(p: ExperimentParams): TrainConfig {
  return {
    ...PAPER_TRAIN_CONFIG,
    epochs: p.epochs,
    batchSize: p.batchSize,
    learningRate: p.learningRate,
    momentum: p.momentum,
    nesterov: p.nesterov,
    optimizer: p.optimizer,
    learningRateSchedule: p.learningRateSchedule,
    dropout: p.dropout,
    trainSize: p.trainSize,
    validationSize: p.validationSize,
    temperature: 1,
    seed: p.seed,
  };
}
