import type * as tf from '@tensorflow/tfjs';
import { UserError } from '../../../engine/util/errors.ts';
import { cwL2, type CwL2Params } from './cw.ts';
import { fgsm } from './fgsm.ts';
import { jsma } from './jsma.ts';
import { pgd } from './pgd.ts';
import type { AttackData, AttackOptions, AttackResult, FgsmParams, FgsmVariant, JsmaParams, PgdParams } from './types.ts';

export { subsetData } from './core.ts';

/**
 * One attack configuration as plain data, so that a notebook can name it, hash it (artifact
 * store memoisation) and publish it next to its summary.
 */
export type AttackSpec =
  // `variants`: the FGSM variants a grid unit computes from shared passes (fgsmVariants); the
  // first is the unit's headline summary. Absent: the one variant of `gradient` and `clip`.
  | ({ kind: 'fgsm'; variants?: FgsmVariant[] } & FgsmParams)
  | ({ kind: 'pgd' } & PgdParams)
  | ({ kind: 'jsma' } & JsmaParams)
  | ({ kind: 'cw-l2' } & CwL2Params);

/** The paper's settings, and the stronger logit-space attack at the same budget. */
export const PAPER_ATTACKS = {
  fgsm: { kind: 'fgsm', eps: 0.3, loss: 'softmax-cross-entropy', temperature: 1 },
  jsmaF: { kind: 'jsma', variant: 'F', gamma: 0.145 },
  jsmaZ: { kind: 'jsma', variant: 'Z', gamma: 0.145 },
  pgd: { kind: 'pgd', eps: 0.3, steps: 40, stepSize: 0.01, randomStart: true, seed: 0 },
} as const satisfies Record<string, AttackSpec>;

/**
 * Run `spec` against `model` on `data` (any subset: see subsetData), batched, with progress.
 * Every result carries both success-rate definitions and names the headline (types.ts).
 */
export async function runAttack(model: tf.LayersModel, data: AttackData, spec: AttackSpec, opts: AttackOptions = {}): Promise<AttackResult> {
  switch (spec.kind) {
    case 'fgsm': return fgsm(model, data, spec, opts);
    case 'pgd': return pgd(model, data, spec, opts);
    case 'jsma': return jsma(model, data, spec, opts);
    case 'cw-l2': return cwL2(model, data, spec, opts);
    default:
      throw new UserError(`unknown attack kind '${(spec as { kind: string }).kind}'`, "use 'fgsm', 'pgd', 'jsma' or 'cw-l2'");
  }
}
