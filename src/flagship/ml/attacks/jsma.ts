import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../../engine/util/errors.ts';
import { silentProgress } from '../../../engine/util/progress.ts';
import { geometryOf, logitsOf } from './core.ts';
import { argmaxRow, isSuccess, perturbationOf, summarize } from './metrics.ts';
import type { AttackData, AttackOptions, AttackResult, JsmaParams, SampleOutcome } from './types.ts';

/**
 * The saliency-map pair search of JSMA with theta = +1 (Papernot et al., EuroS&P 2016, Alg. 3):
 * over pairs {p, q} of distinct pixels still in the search domain, with
 * alpha = a_p + a_q (derivative of the target output) and beta = b_p + b_q (derivative of the
 * sum of the other outputs), keep the pairs with alpha > 0 and beta < 0 and return the one
 * maximising alpha * |beta|; null when no pair qualifies (the attack then gives up, which is
 * what happens when the gradients are exactly zero). Ties keep the first pair in (p, q) order.
 *
 * `a`, `b` and `domain` (1 = pixel still allowed) have one entry per pixel. Plain loops over the compacted
 * domain: about |domain|^2 / 2 cheap iterations (~0.3 M for MNIST), faster than materialising
 * the 784 x 784 pair matrix as tensors on the CPU backends.
 */
export function bestPixelPair(
  a: ArrayLike<number>, b: ArrayLike<number>, domain: ArrayLike<number>,
): [number, number] | null {
  const idx: number[] = [];
  for (let p = 0; p < domain.length; p++) if (domain[p]) idx.push(p);
  const k = idx.length;
  const as = new Float64Array(k);
  const bs = new Float64Array(k);
  for (let i = 0; i < k; i++) { as[i] = a[idx[i]]; bs[i] = b[idx[i]]; }
  let best = 0;
  let bestI = -1;
  let bestJ = -1;
  for (let i = 0; i < k; i++) {
    const ai = as[i];
    const bi = bs[i];
    for (let j = i + 1; j < k; j++) {
      const alpha = ai + as[j];
      if (alpha <= 0) continue;
      const beta = bi + bs[j];
      if (beta >= 0) continue;
      const score = -alpha * beta;
      if (score > best) { best = score; bestI = i; bestJ = j; }
    }
  }
  return bestI < 0 ? null : [idx[bestI], idx[bestJ]];
}

/** Work item: one (source sample, target class) pair being attacked. */
interface PairState {
  sample: number;
  target: number;
  predBefore: number;
  predAfter: number;
  iterations: number;
  done: boolean;
}

/**
 * JSMA, targeted, theta = +1, at most `gamma` of the pixels changed: every sample is attacked
 * towards each other class. Batched over (sample, target) pairs; each iteration computes, for
 * the pairs still running, the two Jacobian rows it needs (gradient of the target output and of
 * the sum of the other outputs, from one backward pass over the batch stacked twice), then
 * sets the best pixel pair to 1. A pair stops as soon as it is classified as the target,
 * when it has changed floor(gamma * pixels / 2) pairs, or when no pixel pair qualifies.
 * Variant 'F' differentiates the softmax output at T = 1 (the paper's), 'Z' the logits.
 */
export async function jsma(model: tf.LayersModel, data: AttackData, params: JsmaParams, opts: AttackOptions = {}): Promise<AttackResult> {
  const g = geometryOf(model, data);
  if (params.variant !== 'F' && params.variant !== 'Z') throw new UserError(`JSMA variant '${params.variant as string}' is unknown`, "use 'F' (softmax, the paper's) or 'Z' (logits)");
  if (!(params.gamma > 0 && params.gamma <= 1)) throw new UserError(`JSMA gamma = ${params.gamma} is not in (0, 1]`, 'gamma is the maximum fraction of pixels changed; the paper uses 0.145');
  const batchSize = opts.batchSize ?? 100;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserError(`batch size ${batchSize} is not a positive integer`, 'use e.g. 100');
  const maxIterations = Math.floor((params.gamma * g.size) / 2);
  const name = params.variant === 'F' ? 'jsma-f' : 'jsma-z';

  const pairs: PairState[] = [];
  for (let s = 0; s < g.n; s++) {
    for (let t = 0; t < g.numClasses; t++) {
      if (t !== data.labels[s]) pairs.push({ sample: s, target: t, predBefore: -1, predAfter: -1, iterations: 0, done: false });
    }
  }
  const keep = Math.min(opts.keepAdversarial ?? Infinity, pairs.length);
  const adversarial = new Float32Array(keep * g.size);
  const outcomes: SampleOutcome[] = [];
  const task = (opts.progress ?? silentProgress).start(name, pairs.length, 'attacks');
  const t0 = performance.now();

  for (let start = 0; start < pairs.length; start += batchSize) {
    const batch = pairs.slice(start, start + batchSize);
    const B = batch.length;
    const x = new Float32Array(B * g.size);
    const domain = new Uint8Array(B * g.size);
    batch.forEach((pair, k) => {
      const src = data.images.subarray(pair.sample * g.size, (pair.sample + 1) * g.size);
      x.set(src, k * g.size);
      // theta = +1: only pixels that can still increase are in the search domain.
      for (let p = 0; p < g.size; p++) domain[k * g.size + p] = src[p] < 1 ? 1 : 0;
    });
    const domainSize = new Int32Array(B);
    for (let k = 0; k < B; k++) for (let p = 0; p < g.size; p++) domainSize[k] += domain[k * g.size + p];

    for (;;) {
      const active: number[] = [];
      batch.forEach((pair, k) => { if (!pair.done) active.push(k); });
      if (active.length === 0) break;
      const m = active.length;
      const xa = new Float32Array(m * g.size);
      active.forEach((k, i) => xa.set(x.subarray(k * g.size, (k + 1) * g.size), i * g.size));
      const targets = Int32Array.from(active, (k) => batch[k].target);

      // Rows [0, m) get the target's weight, rows [m, 2m) the others': one backward pass
      // yields a = d F_t / dx and b = d sum_{j != t} F_j / dx for every active pair.
      const { logits, grads } = tf.tidy(() => {
        const xt = tf.tensor(xa, [m, ...g.inputShape]);
        const tOneHot = tf.oneHot(tf.tensor1d(targets, 'int32'), g.numClasses).toFloat();
        const weights = tf.concat([tOneHot, tf.sub(1, tOneHot)], 0);
        let z: tf.Tensor2D | undefined;
        const gr = tf.grad((xx: tf.Tensor) => {
          const zz = logitsOf(model, xx);
          z = tf.keep(zz);
          // JSMA-F differentiates the softmax at T = 1 (the paper's), JSMA-Z the logits.
          const out = params.variant === 'F' ? tf.softmax(zz) : zz;
          return tf.sum(tf.mul(out, weights));
        })(tf.concat([xt, xt], 0));
        const first = tf.keep(z!.slice([0, 0], [m, g.numClasses]));
        z!.dispose();
        return { logits: first, grads: gr };
      });
      const [logitData, gradData] = await Promise.all([logits.data(), grads.data()]);
      tf.dispose([logits, grads]);

      const needFinal: number[] = [];
      active.forEach((k, i) => {
        const pair = batch[k];
        const pred = argmaxRow(logitData, i, g.numClasses);
        if (pair.predBefore < 0) pair.predBefore = pred;
        if (pred === pair.target || pair.iterations >= maxIterations || domainSize[k] < 2) {
          pair.predAfter = pred;
          pair.done = true;
          return;
        }
        const choice = bestPixelPair(
          gradData.subarray(i * g.size, (i + 1) * g.size),
          gradData.subarray((m + i) * g.size, (m + i + 1) * g.size),
          domain.subarray(k * g.size, (k + 1) * g.size),
        );
        if (choice === null) {
          pair.predAfter = pred;
          pair.done = true;
          return;
        }
        for (const p of choice) {
          x[k * g.size + p] = 1;
          domain[k * g.size + p] = 0;
        }
        domainSize[k] -= 2;
        pair.iterations++;
        if (pair.iterations >= maxIterations || domainSize[k] < 2) needFinal.push(k);
      });

      // Pairs that just used their last change only need a prediction, not another gradient.
      if (needFinal.length > 0) {
        const xf = new Float32Array(needFinal.length * g.size);
        needFinal.forEach((k, i) => xf.set(x.subarray(k * g.size, (k + 1) * g.size), i * g.size));
        const zf = tf.tidy(() => logitsOf(model, tf.tensor(xf, [needFinal.length, ...g.inputShape])));
        const zData = await zf.data();
        zf.dispose();
        needFinal.forEach((k, i) => {
          batch[k].predAfter = argmaxRow(zData, i, g.numClasses);
          batch[k].done = true;
        });
      }
    }

    batch.forEach((pair, k) => {
      const label = data.labels[pair.sample];
      const pert = perturbationOf(data.images, pair.sample * g.size, x, k * g.size, g.size);
      outcomes.push({
        id: g.ids[pair.sample], label, target: pair.target, predBefore: pair.predBefore, predAfter: pair.predAfter,
        correctBefore: pair.predBefore === label,
        success: isSuccess('targeted', label, pair.predAfter, pair.target),
        ...pert, iterations: pair.iterations,
      });
      const o = start + k;
      if (o < keep) adversarial.set(x.subarray(k * g.size, (k + 1) * g.size), o * g.size);
    });
    task.update(start + B);
  }
  const wallMs = performance.now() - t0;
  const summary = summarize(name, 'targeted', { variant: params.variant, gamma: params.gamma, theta: 1, maxIterations }, g.n, outcomes);
  task.done(`${name}: success ${(100 * summary.headlineRate).toFixed(2)}% (definition ${summary.headline})`);
  return { summary, outcomes, adversarial, timing: { wallMs, perSecond: pairs.length / Math.max(wallMs / 1000, 1e-9) } };
}
