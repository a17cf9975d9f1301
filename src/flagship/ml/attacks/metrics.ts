import {
  DEFINITIONS, HEADLINE_DEFINITION,
  type AttackGoal, type AttackName, type AttackSummary, type PerturbationMeans, type SampleOutcome,
} from './types.ts';

/** Index of the largest value in row `row` of a row-major [rows, cols] matrix (first on ties). */
export function argmaxRow(values: ArrayLike<number>, row: number, cols: number): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let j = 0; j < cols; j++) {
    const v = values[row * cols + j];
    if (v > bestValue) { bestValue = v; best = j; }
  }
  return best;
}

/** Argmax of every row. */
export function argmaxRows(values: ArrayLike<number>, cols: number): Int32Array {
  const rows = Math.floor(values.length / cols);
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) out[i] = argmaxRow(values, i, cols);
  return out;
}

/** Top logit minus second logit of every row: how saturated a softmax on it is. */
export function logitGaps(logits: ArrayLike<number>, cols: number): Float64Array {
  const rows = Math.floor(logits.length / cols);
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let first = -Infinity;
    let second = -Infinity;
    for (let j = 0; j < cols; j++) {
      const v = logits[i * cols + j];
      if (v > first) { second = first; first = v; } else if (v > second) second = v;
    }
    out[i] = first - second;
  }
  return out;
}

/** L-infinity, L2 and changed-pixel fraction of adv - orig for sample `i` of two equal batches. */
export function perturbationOf(
  orig: ArrayLike<number>, origOffset: number, adv: ArrayLike<number>, advOffset: number, size: number,
): PerturbationMeans {
  let linf = 0;
  let sq = 0;
  let changed = 0;
  for (let p = 0; p < size; p++) {
    const d = adv[advOffset + p] - orig[origOffset + p];
    if (d !== 0) changed++;
    const a = Math.abs(d);
    if (a > linf) linf = a;
    sq += d * d;
  }
  return { changedFraction: changed / size, linf, l2: Math.sqrt(sq) };
}

/** Success of one outcome under the attack's goal. */
export function isSuccess(goal: AttackGoal, label: number, predAfter: number, target?: number): boolean {
  if (goal === 'targeted') {
    if (target === undefined) throw new Error('a targeted outcome needs a target');
    return predAfter === target;
  }
  return predAfter !== label;
}

/**
 * The summary of a run from its outcomes: both success-rate definitions (types.ts,
 * DEFINITIONS), the headline, clean accuracy and the mean perturbation of the headline's
 * successes. Pure, so it can be checked against a hand count.
 */
export function summarize(
  attack: AttackName,
  goal: AttackGoal,
  params: Record<string, string | number | boolean>,
  samples: number,
  outcomes: readonly SampleOutcome[],
): AttackSummary {
  let correctBefore = 0;
  let successAll = 0;
  let successAmongCorrect = 0;
  const sums = { changedFraction: 0, linf: 0, l2: 0 };
  const counted = new Set<number>();
  let cleanCorrect = 0;
  for (const o of outcomes) {
    if (o.success) successAll++;
    if (o.correctBefore) {
      correctBefore++;
      if (o.success) successAmongCorrect++;
    }
    // Clean accuracy is over samples, not pairs: count each id once.
    if (!counted.has(o.id)) {
      counted.add(o.id);
      if (o.correctBefore) cleanCorrect++;
    }
    const inHeadline = HEADLINE_DEFINITION === 'b' ? o.success && o.correctBefore : o.success;
    if (inHeadline) {
      sums.changedFraction += o.changedFraction;
      sums.linf += o.linf;
      sums.l2 += o.l2;
    }
  }
  const attacked = outcomes.length;
  const rates = {
    a: attacked > 0 ? successAll / attacked : 0,
    b: correctBefore > 0 ? successAmongCorrect / correctBefore : 0,
  };
  const headlineCount = HEADLINE_DEFINITION === 'b' ? successAmongCorrect : successAll;
  return {
    attack,
    goal,
    params,
    samples,
    counts: { attacked, correctBefore, successAll, successAmongCorrect },
    rates,
    headline: HEADLINE_DEFINITION,
    headlineRate: rates[HEADLINE_DEFINITION],
    definitions: { ...DEFINITIONS },
    cleanAccuracy: counted.size > 0 ? cleanCorrect / counted.size : 0,
    onSuccess: headlineCount > 0
      ? {
          changedFraction: sums.changedFraction / headlineCount,
          linf: sums.linf / headlineCount,
          l2: sums.l2 / headlineCount,
        }
      : null,
  };
}

/** Linear-interpolated quantiles (type 7) of `values` at probabilities `ps`. */
export function quantiles(values: ArrayLike<number>, ps: readonly number[]): number[] {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return ps.map(() => NaN);
  return ps.map((p) => {
    const h = (sorted.length - 1) * p;
    const lo = Math.floor(h);
    const hi = Math.min(lo + 1, sorted.length - 1);
    return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
  });
}

/** Counts of `values` in bins [edges[i], edges[i+1]); the last bin is [edges[last], +inf). Values below edges[0] go to bin 0. */
export function histogram(values: ArrayLike<number>, edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let bin = 0;
    while (bin + 1 < edges.length && v >= edges[bin + 1]) bin++;
    counts[bin]++;
  }
  return counts;
}

/** One flat table row per summary, for notebooks' tables (rates as fractions). */
export function summaryRow(summary: AttackSummary, extra: Record<string, string | number> = {}): Record<string, string | number | null> {
  return {
    ...extra,
    attack: summary.attack,
    params: Object.entries(summary.params).map(([k, v]) => `${k}=${v}`).join(' '),
    samples: summary.samples,
    attacked: summary.counts.attacked,
    cleanAccuracy: summary.cleanAccuracy,
    rateA: summary.rates.a,
    rateB: summary.rates.b,
    headline: summary.headline,
    changedFractionOnSuccess: summary.onSuccess?.changedFraction ?? null,
    linfOnSuccess: summary.onSuccess?.linf ?? null,
    l2OnSuccess: summary.onSuccess?.l2 ?? null,
  };
}
