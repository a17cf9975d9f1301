import type { ProgressReporter } from '../../../engine/util/progress.ts';

/**
 * The attacks' domain: what goes in (images with labels), what comes out (adversarial
 * examples, per-sample outcomes, a JSON-serialisable summary).
 *
 * Images are Float32Array batches laid out like a tensor of shape [n, ...inputShape]
 * (for MNIST [n, 28, 28, 1]) with pixels in [0, 1]. The per-sample shape is read from the
 * model, so the attacks work for any tf.LayersModel that maps such a batch to logits.
 */
export interface AttackData {
  /** n * pixelsPerSample values in [0, 1]. */
  images: Float32Array;
  /** True label of each of the n samples. */
  labels: ArrayLike<number>;
  /** Identifier of each sample in outcomes, e.g. its index in the MNIST test set; default 0..n-1. */
  ids?: ArrayLike<number>;
}

/**
 * Success-rate definitions (reference.md, "Attacks"):
 * - 'a': over all attacked samples (targeted: all (sample, target) pairs), the fraction that
 *   succeed after the attack (untargeted: prediction != true label; targeted: prediction == target).
 * - 'b': over the samples (targeted: pairs whose source sample) classified correctly before the
 *   attack, the fraction that succeed after it.
 * The headline is 'b' for every attack here: it is the paper's usage for FGSM (an adversarial
 * example is a correctly classified input whose class the attack changes) and the usual
 * evaluation of JSMA; both rates are always reported.
 */
export type SuccessDefinition = 'a' | 'b';
export const HEADLINE_DEFINITION: SuccessDefinition = 'b';
export const DEFINITIONS: Record<SuccessDefinition, string> = {
  a: 'successes / all attacked samples (untargeted: prediction after != true label; targeted: prediction after == target, over all (sample, target) pairs)',
  b: 'successes / samples classified correctly before the attack (targeted: over (sample, target) pairs whose source sample was classified correctly)',
};

export type AttackGoal = 'untargeted' | 'targeted';

export type AttackName = 'fgsm' | 'fgsm-temperature' | 'pgd-margin' | 'jsma-f' | 'jsma-z' | 'cw-l2';

/**
 * How the FGSM loss is computed from the logits (both in float32, both what a TensorFlow user writes):
 * - 'softmax-cross-entropy': tf.losses.softmaxCrossEntropy(onehot, logits), the numerically
 *   stable form; its gradient softmax(z) - onehot is exactly zero once the other classes'
 *   probabilities underflow float32 (measured on cpu and wasm, tfjs 4.22, nine equal other
 *   logits: zero for a logit gap >= 104).
 * - 'categorical-cross-entropy': tf.metrics.categoricalCrossentropy (Keras') on softmax
 *   probabilities, which clips them to [1e-7, 1 - 1e-7]; its gradient is zero as soon as
 *   p(true) > 1 - 1e-7 (measured: gap > 18.4 on cpu, > 17.3 on wasm): the pitfall named in
 *   reference.md. A well-trained undistilled net already saturates it on many samples.
 */
export type FgsmLoss = 'softmax-cross-entropy' | 'categorical-cross-entropy';

/**
 * Which gradient FGSM takes the sign of (logit-gradient.ts):
 * - 'float32': the framework's own gradient of the loss in float32, what a TensorFlow user
 *   of 2016 computed; in float32's cancellation regime its direction is set by rounding.
 * - 'exact': J^T g with g the logit gradient rescaled by 1 / max_{j != y} p_j in log space,
 *   free of cancellation and underflow (the sign is the true gradient's sign).
 */
export type FgsmGradient = 'float32' | 'exact';

/**
 * The FGSM variants, as ids: the gradient, and whether the result is clipped to [0, 1]
 * ('-noclip': x + eps * sign(grad) as is, as cleverhans ran it until November 2016;
 * reference.md, "FGSM as the tooling of 2016 ran it").
 */
export type FgsmVariant = 'float32' | 'float32-noclip' | 'exact' | 'exact-noclip';
export const FGSM_VARIANTS: readonly FgsmVariant[] = ['float32', 'float32-noclip', 'exact', 'exact-noclip'];

export function fgsmVariantOf(v: FgsmVariant): { gradient: FgsmGradient; clip: boolean } {
  return { gradient: v.startsWith('exact') ? 'exact' : 'float32', clip: !v.endsWith('-noclip') };
}

export interface FgsmParams {
  /** L-infinity budget (paper: 0.3). */
  eps: number;
  /** Default 'float32' (FgsmGradient). */
  gradient?: FgsmGradient;
  /** Clip the result to [0, 1] (default true). */
  clip?: boolean;
  /** Default 'softmax-cross-entropy'. */
  loss?: FgsmLoss;
  /**
   * The loss is computed on logits / temperature (1 = the paper's attack on the deployed
   * net; the distillation temperature = the temperature-corrected attack).
   */
  temperature?: number;
  /**
   * Multiply the logits by this before the loss (default 1). A control, not an attack on a
   * trained network: the baseline with logits x T saturates like a network distilled at T
   * would if distillation did nothing but scale its logits.
   */
  logitScale?: number;
}

export interface PgdParams {
  /** L-infinity budget. */
  eps: number;
  /** Number of gradient steps (fixed: no early stop, so cost is predictable). */
  steps: number;
  /** Step size per iteration (L-infinity), e.g. eps / 10 or 2.5 * eps / steps. */
  stepSize: number;
  /** Start from a uniform random point of the eps-ball (seeded per sample id). */
  randomStart?: boolean;
  seed?: number;
}

export type JsmaVariant = 'F' | 'Z';

export interface JsmaParams {
  /** 'F': saliency from the softmax output (the paper's); 'Z': from the logits. */
  variant: JsmaVariant;
  /** Maximum fraction of pixels changed (paper: 0.145). */
  gamma: number;
  /** Targets per sample; default all 9 classes other than the true label. */
  targets?: 'all-others';
}

export interface AttackOptions {
  /** Samples (untargeted) or (sample, target) pairs (targeted) per tensor batch. */
  batchSize?: number;
  progress?: ProgressReporter;
  /**
   * Keep at most this many adversarial examples (the first ones, in outcome order); default all.
   * JSMA over 10,000 samples makes 90,000 of them (282 MB): keep fewer.
   */
  keepAdversarial?: number;
}

/** What happened to one attacked sample (targeted: one (sample, target) pair). */
export interface SampleOutcome {
  /** The sample's id (AttackData.ids, default its position). */
  id: number;
  label: number;
  /** Targeted attacks only. */
  target?: number;
  predBefore: number;
  predAfter: number;
  correctBefore: boolean;
  /** Untargeted: predAfter != label; targeted: predAfter == target. */
  success: boolean;
  /** Fraction of pixels whose value changed. */
  changedFraction: number;
  linf: number;
  l2: number;
  /** Iterations spent (JSMA: pixel pairs changed; PGD: steps; FGSM: 1). */
  iterations: number;
  /** FGSM only: the loss gradient was exactly zero in every pixel (so nothing moved). */
  zeroGradient?: boolean;
  /** FGSM only: top logit minus second logit, of the logits the loss saw (scaled, see FgsmParams.logitScale). */
  logitGap?: number;
  /** FGSM only: the largest softmax probability of those logits is exactly 1 in float32. */
  saturatedSoftmax?: boolean;
  /** FGSM only: in float32's cancellation regime (the other classes' softmax mass below 2^-24). */
  cancellation?: boolean;
}

export interface PerturbationMeans {
  changedFraction: number;
  linf: number;
  l2: number;
}

/** JSON-serialisable summary of one attack run: what notebooks publish and the report cites. */
export interface AttackSummary {
  attack: AttackName;
  goal: AttackGoal;
  params: Record<string, string | number | boolean>;
  /** Number of samples (not pairs) attacked. */
  samples: number;
  counts: {
    /** Attacked samples (untargeted) or (sample, target) pairs (targeted). */
    attacked: number;
    /** Of those, classified correctly before the attack. */
    correctBefore: number;
    /** Successes over all attacked (numerator of rate 'a'). */
    successAll: number;
    /** Successes among those correct before (numerator of rate 'b'). */
    successAmongCorrect: number;
  };
  rates: { a: number; b: number };
  headline: SuccessDefinition;
  headlineRate: number;
  definitions: Record<SuccessDefinition, string>;
  /** Clean accuracy of the model on the attacked samples. */
  cleanAccuracy: number;
  /**
   * Mean perturbation over the successes counted by the headline definition;
   * null when there are none. For JSMA, changedFraction is the paper's "percentage of pixels changed".
   */
  onSuccess: PerturbationMeans | null;
}

export interface AttackResult {
  summary: AttackSummary;
  outcomes: SampleOutcome[];
  /** Adversarial examples in outcome order, [k, ...inputShape] (k <= keepAdversarial). */
  adversarial: Float32Array;
  /** Wall time; kept out of the summary so that the summary is a pure function of the inputs. */
  timing: { wallMs: number; perSecond: number };
}
