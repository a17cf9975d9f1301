/**
 * The gradient of the cross-entropy with respect to the logits, and how float32 loses it.
 *
 * For a sample of true class y and logits u (the network's logits z, scaled: u = s z, with
 * s = logitScale / temperature), the gradient of -log softmax(u)_y with respect to u is
 * p - onehot(y): p_j for j != y, and p_y - 1 = -(sum of p_j over j != y) for y. Once that sum
 * is below 2^-24, p_y rounds to 1 in float32 and the y component becomes 0 or a few ulps,
 * depending on the order of the arithmetic; the other p_j are tiny or underflow. The input
 * gradient J^T g, whose sign FGSM takes, then points where rounding sends it (reference.md,
 * "Float32 and the loss gradient").
 *
 * FGSM uses only the sign of J^T g, which is the same for every positive multiple of g. So
 * g / max_{j != y} p_j is an exact replacement, computed in log space: with z_r the largest
 * logit other than z_y,
 *   g_j = exp(u_j - u_r) for j != y,   g_y = -(sum of g_j over j != y),
 * every entry O(1) at any temperature (g_r = 1, |g_y| <= 9). The common factor dropped,
 * max_{j != y} p_j / (positive), and the factor s of the chain rule, are positive.
 *
 * Pure functions on plain arrays (row-major [n, classes] logits), computed in float64.
 */

/** log(2^-24): below this log-mass of the other classes, p_y rounds to 1 in float32. */
export const FLOAT32_CANCELLATION_LOG_MASS = -24 * Math.LN2;

function checkRows(logits: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number): number {
  const n = labels.length;
  if (logits.length !== n * numClasses) throw new RangeError(`${logits.length} logits for ${n} labels of ${numClasses} classes`);
  return n;
}

/** Index of the largest u_j with j != y (the first on ties). */
function runnerUp(logits: ArrayLike<number>, offset: number, numClasses: number, y: number): number {
  let r = -1;
  for (let j = 0; j < numClasses; j++) {
    if (j === y) continue;
    if (r < 0 || logits[offset + j] > logits[offset + r]) r = j;
  }
  return r;
}

/**
 * The rescaled logit gradient of every row, g / max_{j != y} p_j as above, in float64. `scale`
 * is s (logitScale / temperature): the loss sees s * logits.
 */
export function exactLogitGradient(logits: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number, scale = 1): Float64Array {
  const n = checkRows(logits, labels, numClasses);
  if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError(`logit scale ${scale} is not a positive number`);
  const g = new Float64Array(n * numClasses);
  for (let i = 0; i < n; i++) {
    const o = i * numClasses;
    const y = labels[i];
    const r = runnerUp(logits, o, numClasses, y);
    let sum = 0;
    for (let j = 0; j < numClasses; j++) {
      if (j === y) continue;
      // exp of a difference of float32 values, in double: exact to about 1e-16 relative.
      const v = Math.exp(scale * (logits[o + j] - logits[o + r]));
      g[o + j] = v;
      sum += v;
    }
    g[o + y] = -sum;
  }
  return g;
}

/**
 * Per row, the natural log of the softmax mass of the classes other than y (log of
 * sum_{j != y} p_j, p = softmax(scale * logits)), computed in log space in float64: finite
 * for every logit gap a float32 network can produce.
 */
export function logOtherClassMass(logits: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number, scale = 1): Float64Array {
  const n = checkRows(logits, labels, numClasses);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * numClasses;
    const y = labels[i];
    const r = runnerUp(logits, o, numClasses, y);
    const top = Math.max(logits[o + y], logits[o + r]);
    let all = 0;
    let others = 0;
    for (let j = 0; j < numClasses; j++) {
      const e = Math.exp(scale * (logits[o + j] - logits[o + r]));
      all += Math.exp(scale * (logits[o + j] - top));
      if (j !== y) others += e;
    }
    // log(others * e^{s z_r}) - log(all * e^{s top})
    out[i] = Math.log(others) + scale * (logits[o + r] - top) - Math.log(all);
  }
  return out;
}

/**
 * Per row: is the sample in float32's cancellation regime, where the other classes' softmax
 * mass is below 2^-24, so that p_y rounds to 1 and the loss gradient's direction is set by
 * rounding?
 */
export function inCancellationRegime(logits: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number, scale = 1): boolean[] {
  return Array.from(logOtherClassMass(logits, labels, numClasses, scale), (m) => m < FLOAT32_CANCELLATION_LOG_MASS);
}
