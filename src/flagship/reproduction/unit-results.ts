import type { JsonValue } from '../../engine/grid/unit.ts';
import type { AttackSummary, FgsmVariant } from '../ml/attacks/types.ts';
import type { SaturationReport } from '../ml/attacks/saturation.ts';
import type { EpochRecord } from '../ml/training.ts';
import type { AttackUnitName, TrainUnitInputs } from './plan.ts';

/**
 * What each kind of grid unit returns: the handler builds these, the grid stores them as
 * JSON, and run.ts reads them back through the checks below, in one place, instead of
 * casting field by field. A stored result of another shape (an older format, a hand-edited
 * file) is an error naming the unit, never a silent `undefined` in a table.
 */
export interface NetworkUnitResult {
  role: TrainUnitInputs['role'];
  temperature: number;
  /** The artifact id of the stored model. */
  modelArtifact: string;
  testAccuracy: number;
  /** Test images the accuracy is measured on. */
  testCount?: number;
  trainCount: number;
  validationCount: number;
  steps: number;
  history: EpochRecord[];
  imagesPerSecond: number;
  trainSeconds: number;
  /** The backend identity that trained it. */
  backend: string;
}

export interface AdversarialExample {
  id: number; label: number; target: number | null; predBefore: number; predAfter: number; success: boolean;
  original: number[]; adversarial: number[];
}

/** One FGSM variant's outcome in a unit that computed several from shared passes. */
export interface FgsmVariantResult {
  summary: AttackSummary;
  /** Samples whose input gradient, in this variant's arithmetic, is exactly zero in every pixel. */
  zeroGradientCount: number;
}

export interface AttackUnitResult {
  attack: AttackUnitName;
  /** The headline variant's summary (FGSM: the first variant of the spec, float32 clipped). */
  summary: AttackSummary;
  /** FGSM units: every variant computed, the headline one included; null for other attacks. */
  variants: Partial<Record<FgsmVariant, FgsmVariantResult>> | null;
  /** FGSM only: the saturation of the very gradients the attack used. */
  saturation: SaturationReport | null;
  examples: AdversarialExample[];
  wallMs: number;
  perSecond: number;
}

/** A unit result as the grid stores it. Every field above is JSON already (numbers, strings, arrays, plain objects). */
export function toStored(result: NetworkUnitResult | AttackUnitResult): JsonValue {
  return result as unknown as JsonValue;
}

function fields(id: string, value: JsonValue | undefined, what: string, numbers: string[], others: string[]): Record<string, unknown> {
  if (value === undefined) throw new Error(`grid result '${id}' is missing`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`grid result '${id}' is not a ${what} result`);
  const r = value as Record<string, unknown>;
  const bad = [...numbers.filter((k) => typeof r[k] !== 'number'), ...others.filter((k) => r[k] === undefined)];
  if (bad.length > 0) throw new Error(`grid result '${id}' is not a ${what} result (missing or malformed: ${bad.join(', ')})`);
  return r;
}

export function networkResult(id: string, value: JsonValue | undefined): NetworkUnitResult {
  return fields(id, value, 'network', ['temperature', 'testAccuracy', 'trainCount', 'validationCount', 'imagesPerSecond'], ['role', 'modelArtifact', 'history']) as unknown as NetworkUnitResult;
}

export function attackResult(id: string, value: JsonValue | undefined): AttackUnitResult {
  const r = fields(id, value, 'attack', ['perSecond'], ['attack', 'summary', 'examples']);
  if (typeof (r.summary as { headlineRate?: unknown }).headlineRate !== 'number') throw new Error(`grid result '${id}' has no summary.headlineRate`);
  return r as unknown as AttackUnitResult;
}
