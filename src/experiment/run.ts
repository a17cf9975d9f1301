import { fileURLToPath } from 'node:url';
import type { GridReport, JsonValue, ShardSpec } from '../grid/types.ts';
import type { ProgressReporter } from '../util/progress.ts';
import type { AttackSummary } from '../ml/attacks/types.ts';
import type { SaturationReport } from '../ml/attacks/saturation.ts';
import type { EpochRecord } from '../ml/training.ts';
import { BASELINE, attackId, planUnits, studentId, teacherId, type AttackUnitName, type GridEnvironment, type UnitSelection } from './plan.ts';
import type { ExperimentParams } from './params.ts';

/**
 * Runs (or, when everything is stored, only assembles) the experiment grid for a set of
 * parameters, and shapes the units' JSON into typed outcomes for the notebooks.
 */

export const HANDLER = fileURLToPath(new URL('./handler.ts', import.meta.url));

export interface NetworkOutcome {
  id: string;
  role: 'baseline' | 'teacher' | 'student';
  temperature: number;
  testAccuracy: number;
  trainCount: number;
  validationCount: number;
  history: EpochRecord[];
  imagesPerSecond: number;
  modelArtifact: string;
}

export interface AdversarialExample {
  id: number; label: number; target: number | null; predBefore: number; predAfter: number; success: boolean;
  original: number[]; adversarial: number[];
}

export interface AttackOutcome {
  model: string;
  temperature: number;
  attack: Exclude<AttackUnitName, 'saturation'>;
  summary: AttackSummary;
  examples: AdversarialExample[];
  perSecond: number;
}

export interface SaturationOutcome {
  model: string;
  temperature: number;
  report: SaturationReport;
}

export interface ExperimentOutcome {
  params: ExperimentParams;
  environment: GridEnvironment;
  baseline: NetworkOutcome;
  /** Per temperature, ascending. */
  distilled: Array<{ temperature: number; teacher: NetworkOutcome; student: NetworkOutcome }>;
  attacks: AttackOutcome[];
  saturation: SaturationOutcome[];
  grid: Pick<GridReport, 'ran' | 'cached' | 'skipped' | 'skipReasons' | 'workers' | 'codeHash' | 'wallMs'>;
}

export interface RunExperimentOptions {
  storeRoot: string;
  select?: UnitSelection;
  progress?: ProgressReporter;
  log?: (line: string) => void;
  shard?: ShardSpec;
  /** A shard run: units waiting for other shards are fine, and the outcome is partial. */
  allowIncomplete?: boolean;
}

/** The environment every unit depends on: resolved backend and the MNIST checksums. */
export async function gridEnvironment(p: ExperimentParams): Promise<GridEnvironment> {
  const { initBackend, backendIdentity } = await import('../ml/backends/select.ts');
  const { loadMnist } = await import('../ml/data/mnist.ts');
  await initBackend(p.backend as never);
  const mnist = await loadMnist();
  return { backend: backendIdentity(), data: { ...mnist.checksums } };
}

function network(id: string, r: Record<string, unknown>): NetworkOutcome {
  return {
    id,
    role: r.role as NetworkOutcome['role'],
    temperature: r.temperature as number,
    testAccuracy: r.testAccuracy as number,
    trainCount: r.trainCount as number,
    validationCount: r.validationCount as number,
    history: r.history as EpochRecord[],
    imagesPerSecond: r.imagesPerSecond as number,
    modelArtifact: r.modelArtifact as string,
  };
}

/** Run (or find stored) the grid's units for `p`; the raw grid report. */
export async function runExperimentGrid(p: ExperimentParams, opts: RunExperimentOptions): Promise<{ report: GridReport; environment: GridEnvironment }> {
  const { runGrid } = await import('../grid/index.ts');
  const { initBackend } = await import('../ml/backends/select.ts');
  const environment = await gridEnvironment(p);
  const chosen = (await initBackend(p.backend as never)).chosen;
  const units = planUnits(p, environment, opts.select ?? {});
  // Worker threads (and the handler inline) read the backend from the environment: make them
  // pick the one the parent resolved, for this run only. Left set, it would leak into what
  // runs next in this process, e.g. the next notebook's cache key (which hashes it).
  const before = process.env.REPROBOOK_BACKEND;
  process.env.REPROBOOK_BACKEND = chosen;
  let report: GridReport;
  try {
    report = await runGrid(units, {
      handler: HANDLER,
      storeRoot: opts.storeRoot,
      workers: p.workers > 0 ? p.workers : undefined,
      shard: opts.shard,
      progress: opts.progress,
      log: opts.log,
      label: 'experiment',
    });
  } finally {
    if (before === undefined) delete process.env.REPROBOOK_BACKEND;
    else process.env.REPROBOOK_BACKEND = before;
  }
  if (report.skipped.length > 0 && !opts.allowIncomplete) {
    throw new Error(`the grid is incomplete: ${report.skipped.length} unit(s) wait for other shards (${report.skipped.slice(0, 3).join(', ')}...)`);
  }
  return { report, environment };
}

/** Run the grid and shape its results into typed outcomes (every selected unit must be done). */
export async function runExperiment(p: ExperimentParams, opts: RunExperimentOptions): Promise<ExperimentOutcome> {
  const { report, environment } = await runExperimentGrid(p, { ...opts, allowIncomplete: false });
  const res = report.results as Record<string, Record<string, JsonValue>>;
  const get = (id: string) => {
    const r = res[id];
    if (!r) throw new Error(`grid result '${id}' is missing`);
    return r as Record<string, unknown>;
  };
  const attacks: AttackOutcome[] = [];
  const saturation: SaturationOutcome[] = [];
  const models = [{ model: BASELINE, T: 1 }, ...(opts.select?.networks === 'baseline' ? [] : p.temperatures).map((T) => ({ model: studentId(T), T }))];
  for (const attack of opts.select?.attacks ?? []) {
    for (const { model, T } of models) {
      const r = res[attackId(model, attack)] as Record<string, unknown> | undefined;
      if (!r) continue;
      if (attack === 'saturation') saturation.push({ model, temperature: T, report: r.saturation as SaturationReport });
      else attacks.push({ model, temperature: T, attack, summary: r.summary as AttackSummary, examples: r.examples as AdversarialExample[], perSecond: r.perSecond as number });
    }
  }
  return {
    params: p,
    environment,
    baseline: network(BASELINE, get(BASELINE)),
    distilled: (opts.select?.networks === 'baseline' ? [] : p.temperatures).map((T) => ({
      temperature: T,
      teacher: network(teacherId(T), get(teacherId(T))),
      student: network(studentId(T), get(studentId(T))),
    })),
    attacks,
    saturation,
    grid: { ran: report.ran, cached: report.cached, skipped: report.skipped, skipReasons: report.skipReasons, workers: report.workers, codeHash: report.codeHash, wallMs: report.wallMs },
  };
}

/** The model name used in result names: `baseline` or `T<T>` (the distilled network at T). */
export function modelResultName(model: string, T: number): string {
  return model === BASELINE ? 'baseline' : `T${T}`;
}

/**
 * The stable result names of issue 6 (an interface read by reviewers' scripts), for the
 * parts of `outcome` present. Rates are the headline definition, as fractions.
 */
export function resultValues(outcome: ExperimentOutcome): Record<string, number> {
  const out: Record<string, number> = { 'baseline.accuracy': outcome.baseline.testAccuracy };
  for (const d of outcome.distilled) out[`distilled.T${d.temperature}.accuracy`] = d.student.testAccuracy;
  const prefix: Record<AttackOutcome['attack'], string> = { fgsm: 'fgsm', 'fgsm-temperature': 'fgsmTemperature', pgd: 'pgd', jsma: 'jsma' };
  for (const a of outcome.attacks) {
    const base = `${prefix[a.attack]}.${modelResultName(a.model, a.temperature)}`;
    out[`${base}.successRate`] = a.summary.headlineRate;
    out[`${base}.successRateAll`] = a.summary.rates.a;
    if (a.attack === 'fgsm' && a.temperature === 1) {
      // At T = 1, FGSM on logits / T is FGSM itself: publish it under both names rather than "not run".
      const corrected = `fgsmTemperature.${modelResultName(a.model, a.temperature)}`;
      out[`${corrected}.successRate`] = a.summary.headlineRate;
      out[`${corrected}.successRateAll`] = a.summary.rates.a;
    }
    out[`${prefix[a.attack]}.samples`] = Math.max(out[`${prefix[a.attack]}.samples`] ?? 0, a.summary.samples);
    if (a.attack === 'jsma' && a.summary.onSuccess) out[`${base}.meanChangedFraction`] = a.summary.onSuccess.changedFraction;
  }
  for (const s of outcome.saturation) {
    out[`saturation.${modelResultName(s.model, s.temperature)}.zeroGradientFraction`] = s.report.zeroGradientFraction;
  }
  return out;
}
