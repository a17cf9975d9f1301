import * as tf from '@tensorflow/tfjs';
import {
  crossEntropyLogitGradient64, float32Patterns, float64Network, forward64, inputGradient64, samePiece, type Float64Network,
} from '../float64-network.ts';
import { checkFgsmParams, fgsmGradients, type FgsmBaseParams } from './fgsm.ts';
import { exactLogitGradient, logOtherClassMass } from './logit-gradient.ts';
import { argmaxRow } from './metrics.ts';
import { exactSignValues } from './sign.ts';
import type { AttackData, FgsmGradient } from './types.ts';

/**
 * The float64 judge of FGSM's arithmetic: for each digit, the loss gradient's sign computed in
 * float64 from end to end (float64-network.ts), against the two float32 gradients FGSM can take
 * (the framework's, and the exact one of logit-gradient.ts).
 *
 * Float64 has a cancellation of its own: p_y - 1 loses everything once the other classes'
 * softmax mass is below about 1e-16. So the plain float64 gradient judges only the digits where
 * that mass is at least `judgeableMass` (1e-12): there it is the truth to about 1e-4 relative.
 * On every digit, the float64 gradient of the rescaled logit gradient (the same exact
 * rescaling, carried out in float64) is reported beside it; where both exist they must agree,
 * which checks the rescaling itself.
 *
 * The network is piecewise linear: its gradient jumps where a ReLU's input, or the gap between
 * a max-pool's two largest inputs, crosses zero. A float32 forward pass and a float64 one can
 * land on neighbouring pieces when such a value is within rounding of zero; then their
 * gradients differ by a jump, which is not the arithmetic of the gradient at all. So the
 * judgement of the arithmetic is made on the piece the float32 pass took (float64 values,
 * float32's ReLU and max-pool decisions: float64-network.ts, float32Patterns), and the digits
 * on which float64 would take another piece are counted apart (`otherPiece`), with the
 * agreement on float64's own piece beside it.
 *
 * A pixel is compared only where the reference gradient is not negligible: |g_i| above
 * `negligible` times the largest |g| of the digit. Below that, the float32 backward pass's own
 * rounding (about 1e-7 relative to the terms it sums) may set the sign of a near-zero sum,
 * and FGSM's step there is arbitrary in any arithmetic.
 */

export interface JudgeOptions {
  /** Pixels whose reference gradient is at most this fraction of the digit's largest are not compared (default 1e-4). */
  negligible?: number;
  /** Digits whose other-class softmax mass (float64) is at least this are judged by the plain float64 gradient (default 1e-12). */
  judgeableMass?: number;
  batchSize?: number;
}

/** One gradient's agreement with a float64 reference, over a set of digits. */
export interface SignAgreement {
  /** Digits compared. */
  digits: number;
  /** Of those, digits with at least one compared pixel whose sign differs from the reference. */
  digitsDiffering: number;
  /** Pixels compared (non-negligible in the reference), and of those, pixels whose sign differs. */
  pixels: number;
  pixelsDiffering: number;
  /** The largest reference gradient (relative to its digit's largest) at a differing pixel: how far from negligible the worst disagreement is. */
  worstRelative: number;
}

export interface Float64Judgement {
  samples: number;
  negligible: number;
  judgeableMass: number;
  /** Digits the plain float64 gradient judges (other-class mass >= judgeableMass). */
  judgeable: number;
  /** Digits in float32's cancellation regime (other-class mass < 2^-24). */
  cancellation: number;
  /** Digits on which float64's own forward pass takes another linear piece than float32's (a ReLU or max-pool decision within rounding). */
  otherPiece: number;
  /** Each float32 gradient against the plain float64 one on float32's piece, on the judgeable digits. */
  againstFloat64: Record<FgsmGradient, SignAgreement>;
  /** Each float32 gradient against float64 with the exact rescaling on float32's piece, on every digit. */
  againstRescaled64: Record<FgsmGradient, SignAgreement>;
  /** Each float32 gradient against float64 with the exact rescaling on float64's own piece, on every digit (the jumps included). */
  againstOwnPiece64: Record<FgsmGradient, SignAgreement>;
  /** The rescaling in float64 against the plain float64 gradient, on the judgeable digits (a check of the rescaling: 0 differing). */
  rescalingAgainstFloat64: SignAgreement;
  /**
   * FGSM success (definition b) on these digits, everything classified by the float64 network
   * (its own piece): with the float64 (rescaled, own piece) gradient's sign, and with each
   * float32 gradient's.
   */
  successRate: { float64: number } & Record<FgsmGradient, number>;
  /** Digits the float64 network classifies correctly (the denominator of those rates). */
  correct: number;
}

function emptyAgreement(): SignAgreement {
  return { digits: 0, digitsDiffering: 0, pixels: 0, pixelsDiffering: 0, worstRelative: 0 };
}

/** Add one digit's comparison of `candidate` (any float values; only signs matter) with `reference` to `acc`. */
export function compareSigns(acc: SignAgreement, candidate: ArrayLike<number>, reference: ArrayLike<number>, negligible: number): void {
  let max = 0;
  for (let i = 0; i < reference.length; i++) max = Math.max(max, Math.abs(reference[i]));
  acc.digits++;
  if (max === 0) return;
  let differs = false;
  for (let i = 0; i < reference.length; i++) {
    const rel = Math.abs(reference[i]) / max;
    if (rel <= negligible) continue;
    acc.pixels++;
    if (Math.sign(candidate[i]) !== Math.sign(reference[i])) {
      acc.pixelsDiffering++;
      differs = true;
      acc.worstRelative = Math.max(acc.worstRelative, rel);
    }
  }
  if (differs) acc.digitsDiffering++;
}

/** FGSM's step in float64: clip(x + eps * sign(g), 0, 1). */
function step64(x: ArrayLike<number>, g: ArrayLike<number>, eps: number): Float64Array {
  return Float64Array.from(x, (v, i) => Math.min(1, Math.max(0, v + eps * Math.sign(g[i]))));
}

function predict64(net: Float64Network, image: ArrayLike<number>): number {
  return argmaxRow(forward64(net, image).logits, 0, net.numClasses);
}

/**
 * Judge FGSM (`params`: eps, loss, temperature, logitScale as the attack uses them) on `model`
 * over `data`: slow (a float64 forward and two backward passes a digit in plain JavaScript,
 * about 0.1 s for the paper's network), so meant for a few hundred digits.
 */
export async function judgeFgsm(model: tf.LayersModel, data: AttackData, params: FgsmBaseParams, opts: JudgeOptions = {}): Promise<Float64Judgement> {
  const { loss, temperature, logitScale } = checkFgsmParams(params);
  const negligible = opts.negligible ?? 1e-4;
  const judgeableMass = opts.judgeableMass ?? 1e-12;
  const net = float64Network(model);
  const [h, w, c] = net.inputShape;
  const size = h * w * c;
  const n = data.labels.length;
  const scale = logitScale / temperature;
  const kinds: FgsmGradient[] = ['float32', 'exact'];
  const out: Float64Judgement = {
    samples: n, negligible, judgeableMass, judgeable: 0, cancellation: 0, otherPiece: 0,
    againstFloat64: { float32: emptyAgreement(), exact: emptyAgreement() },
    againstRescaled64: { float32: emptyAgreement(), exact: emptyAgreement() },
    againstOwnPiece64: { float32: emptyAgreement(), exact: emptyAgreement() },
    rescalingAgainstFloat64: emptyAgreement(),
    successRate: { float64: 0, float32: 0, exact: 0 },
    correct: 0,
  };
  const successes = { float64: 0, float32: 0, exact: 0 };
  const batchSize = opts.batchSize ?? 100;
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const labels = Int32Array.from({ length: end - start }, (_, i) => data.labels[start + i]);
    const images = data.images.subarray(start * size, end * size);
    const x = tf.tensor(images, [end - start, h, w, c]);
    const passes = await fgsmGradients(model, x, labels, net.numClasses, { loss, temperature, logitScale }, kinds);
    x.dispose();
    const patterns = float32Patterns(model, net, images);
    for (let i = 0; i < end - start; i++) {
      const image = images.subarray(i * size, (i + 1) * size);
      const y = labels[i];
      const own = forward64(net, image);
      const fwd = forward64(net, image, patterns[i]);
      if (!samePiece(own.pattern, patterns[i])) out.otherPiece++;
      const mass = Math.exp(logOtherClassMass(fwd.logits, [y], net.numClasses, scale)[0]);
      if (mass < 2 ** -24) out.cancellation++;
      const rescaled = inputGradient64(net, fwd, exactLogitGradient(fwd.logits, [y], net.numClasses, scale));
      const ownRescaled = inputGradient64(net, own, exactLogitGradient(own.logits, [y], net.numClasses, scale));
      const judgeable = mass >= judgeableMass;
      const plain = judgeable ? inputGradient64(net, fwd, crossEntropyLogitGradient64(fwd.logits, y, scale)) : null;
      if (plain) {
        out.judgeable++;
        compareSigns(out.rescalingAgainstFloat64, rescaled, plain, negligible);
      }
      const correct = argmaxRow(own.logits, 0, net.numClasses) === y;
      if (correct) {
        out.correct++;
        if (predict64(net, step64(image, ownRescaled, params.eps)) !== y) successes.float64++;
      }
      for (const kind of kinds) {
        const g = passes.get(kind)!.grad.subarray(i * size, (i + 1) * size);
        compareSigns(out.againstRescaled64[kind], g, rescaled, negligible);
        compareSigns(out.againstOwnPiece64[kind], g, ownRescaled, negligible);
        if (plain) compareSigns(out.againstFloat64[kind], g, plain, negligible);
        if (correct && predict64(net, step64(image, exactSignValues(g), params.eps)) !== y) successes[kind]++;
      }
    }
  }
  const rate = (k: number) => (out.correct > 0 ? k / out.correct : 0);
  out.successRate = { float64: rate(successes.float64), float32: rate(successes.float32), exact: rate(successes.exact) };
  return out;
}
