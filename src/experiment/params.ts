import { UserError } from '../util/errors.ts';
import type { Params } from '../notebook/types.ts';
import { PAPER_TRAIN_CONFIG, type TrainConfig } from '../ml/training.ts';

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
  momentum: number;
  dropout: number;
  /**
   * Train networks at T > 1 with the temperature-matched logit parametrisation (see
   * TrainConfig.temperatureMatchedLogits): false is the paper's protocol; the quick profile
   * needs it, since at T = 100 plain training learns nothing in a short budget.
   */
  temperatureMatchedLogits: boolean;
  /** Distillation temperatures; T = 1 reuses the baseline as its teacher. */
  temperatures: number[];
  fgsmEps: number;
  /** FGSM (and the saturation diagnostic, and temperature-corrected FGSM) on the first N test images. */
  fgsmSamples: number;
  jsmaGamma: number;
  /** JSMA on the first N test images, each towards its 9 other classes. */
  jsmaSamples: number;
  pgdSamples: number;
  pgdSteps: number;
  pgdStepSize: number;
  /** tfjs backend preference: auto, tensorflow-gpu, tensorflow, wasm, cpu. */
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
  dropout: PAPER_TRAIN_CONFIG.dropout,
  temperatureMatchedLogits: false,
  temperatures: [1, 2, 5, 10, 20, 30, 40, 50, 100],
  fgsmEps: 0.3,
  fgsmSamples: 10000,
  jsmaGamma: 0.145,
  jsmaSamples: 1000,
  pgdSamples: 10000,
  pgdSteps: 40,
  pgdStepSize: 0.01,
  backend: 'auto',
  workers: 0,
});

type Kind = 'int' | 'number' | 'numbers' | 'string' | 'size' | 'boolean';
const KINDS: Record<keyof ExperimentParams, Kind> = {
  seed: 'int', trainSize: 'size', validationSize: 'int', epochs: 'int', batchSize: 'int',
  learningRate: 'number', momentum: 'number', dropout: 'number', temperatureMatchedLogits: 'boolean', temperatures: 'numbers',
  fgsmEps: 'number', fgsmSamples: 'int', jsmaGamma: 'number', jsmaSamples: 'int',
  pgdSamples: 'int', pgdSteps: 'int', pgdStepSize: 'number', backend: 'string', workers: 'int',
};

function bad(name: string, value: unknown, want: string): never {
  throw new UserError(`parameter ${name} = ${JSON.stringify(value)} is not ${want}`, `set ${name} to ${want} (--param ${name}=...)`);
}

function coerce(name: string, kind: Kind, v: unknown): unknown {
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
  for (const name of ['fgsmSamples', 'jsmaSamples', 'pgdSamples'] as const) {
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
    dropout: p.dropout,
    trainSize: p.trainSize,
    validationSize: p.validationSize,
    temperature: 1,
    seed: p.seed,
    // Only when on, so that the paper profile's keys do not depend on this option existing.
    ...(p.temperatureMatchedLogits ? { temperatureMatchedLogits: true } : {}),
  };
}
