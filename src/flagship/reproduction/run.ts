import { fileURLToPath } from 'node:url';
import type { GridReport, JsonValue, ShardSpec } from '../../engine/grid/unit.ts';
import { chainOf } from '../../engine/grid/graph.ts';
import type { ProgressReporter } from '../../engine/util/progress.ts';
import { FGSM_VARIANTS, type AttackSummary, type FgsmVariant } from '../ml/attacks/types.ts';
import type { SaturationReport } from '../ml/attacks/saturation.ts';
import type { EpochRecord } from '../ml/training.ts';
import {
  BASELINE, attackId, checkpointEpochOf, checkpointId, headlineTemperature, planUnits, replicatePrefix, scaledControlId, studentId, teacherId, warmStartId,
  type AttackUnitName, type GridEnvironment, type UnitSelection,
} from './plan.ts';
import type { ExperimentParams } from './params.ts';
import type { HandlerConfig } from './handler.ts';
import { attackResult, networkResult, type AdversarialExample } from './unit-results.ts';

/**
 * Runs (or, when everything is stored, only assembles) the experiment grid for a set of
 * parameters, and shapes the units' JSON into typed outcomes for the notebooks.
 */

export const HANDLER = fileURLToPath(new URL('./handler.ts', import.meta.url));

export interface NetworkOutcome {
  id: string;
  role: 'warmstart' | 'baseline' | 'teacher' | 'student';
  temperature: number;
  testAccuracy: number;
  trainCount: number;
  validationCount: number;
  history: EpochRecord[];
  imagesPerSecond: number;
  modelArtifact: string;
  /** Test images the accuracy is measured on (absent in results stored before it was recorded). */
  testCount?: number;
}

export type { AdversarialExample } from './unit-results.ts';

export interface AttackOutcome {
  /** The grid unit that ran it. */
  unit: string;
  model: string;
  temperature: number;
  attack: AttackUnitName;
  /** The logits x T control: FGSM on the baseline with its logits multiplied by this (absent: 1). */
  logitScale?: number;
  summary: AttackSummary;
  /** FGSM: every variant's summary (the headline `summary` is the float32, clipped one). */
  variants?: Partial<Record<FgsmVariant, AttackSummary>>;
  examples: AdversarialExample[];
  perSecond: number;
}

/** From the FGSM pass on a network (or on the logits x T control): its gradient saturation. */
export interface SaturationOutcome {
  /** The FGSM unit whose gradient it measured. */
  unit: string;
  model: string;
  temperature: number;
  logitScale?: number;
  report: SaturationReport;
  /** Samples whose input gradient is exactly zero in the exact arithmetic (absent: not run). */
  exactZeroGradientFraction?: number;
}

/** One independent seed's headline networks and their FGSM (when run). */
export interface ReplicateOutcome {
  seed: number;
  baseline: NetworkOutcome;
  /** The student at the highest temperature (absent when only the baseline was selected). */
  headline?: NetworkOutcome;
  fgsmBaseline?: AttackSummary;
  fgsmHeadline?: AttackSummary;
  /** Every FGSM variant's summary on the baseline and on the headline network (when run). */
  fgsmVariants?: { baseline?: Partial<Record<FgsmVariant, AttackSummary>>; headline?: Partial<Record<FgsmVariant, AttackSummary>> };
}

export interface ExperimentOutcome {
  params: ExperimentParams;
  environment: GridEnvironment;
  /** The shared warm start of the main seed's networks (absent when the profile has none). */
  warmStart?: NetworkOutcome;
  baseline: NetworkOutcome;
  /** Per seed (the main one first): the headline rows, for their spread. */
  replicates: ReplicateOutcome[];
  /** Per temperature, ascending. */
  distilled: Array<{ temperature: number; teacher: NetworkOutcome; student: NetworkOutcome }>;
  /** The main seed's baseline at its checkpoint epochs (params.checkpointEpochs), ascending; the last epoch is `baseline`. */
  checkpoints?: Array<{ epoch: number; network: NetworkOutcome }>;
  attacks: AttackOutcome[];
  saturation: SaturationOutcome[];
  grid: Pick<GridReport, 'ran' | 'cached' | 'skipped' | 'skipReasons' | 'workers' | 'codeHash' | 'wallMs' | 'chains'>;
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

/**
 * The environment every unit depends on: the backend (initialised here, once per run, in
 * this thread; its name goes to the workers) and the MNIST checksums.
 */
export async function gridEnvironment(p: ExperimentParams): Promise<GridEnvironment & { chosen: string }> {
  const { initBackend, backendIdentity } = await import('../ml/backends/select.ts');
  const { loadMnist } = await import('../ml/data/mnist.ts');
  const { chosen } = await initBackend(p.backend as never);
  const mnist = await loadMnist();
  return { backend: backendIdentity(), data: { ...mnist.checksums }, chosen };
}

function network(id: string, value: JsonValue | undefined): NetworkOutcome {
  const r = networkResult(id, value);
  return {
    id, role: r.role, temperature: r.temperature, testAccuracy: r.testAccuracy, trainCount: r.trainCount,
    validationCount: r.validationCount, history: r.history, imagesPerSecond: r.imagesPerSecond, modelArtifact: r.modelArtifact,
    ...(r.testCount ? { testCount: r.testCount } : {}),
  };
}

/** Run (or find stored) the grid's units for `p`; the raw grid report. */
export async function runExperimentGrid(p: ExperimentParams, opts: RunExperimentOptions): Promise<{ report: GridReport; environment: GridEnvironment }> {
  const { runGrid } = await import('../../engine/grid/index.ts');
  const { chosen, ...environment } = await gridEnvironment(p);
  const units = planUnits(p, environment, opts.select ?? {});
  // Every worker thread (and the handler inline) uses the backend the parent resolved.
  const handlerConfig: HandlerConfig = { backend: chosen };
  const report: GridReport = await runGrid(units, {
      handler: HANDLER,
      handlerConfig: { ...handlerConfig },
      storeRoot: opts.storeRoot,
      workers: p.workers > 0 ? p.workers : undefined,
      shard: opts.shard,
      progress: opts.progress,
      // In a notebook cell stderr is the cell's output: which units ran and which were reused
      // becomes part of the executed record.
      log: opts.log ?? ((line) => console.error(line)),
      label: 'experiment',
    });
  if (report.skipped.length > 0 && !opts.allowIncomplete) {
    throw new Error(`the grid is incomplete: ${report.skipped.length} unit(s) wait for other shards (${report.skipped.slice(0, 3).join(', ')}...)`);
  }
  return { report, environment };
}

/** Run the grid and shape its results into typed outcomes (every selected unit must be done). */
export async function runExperiment(p: ExperimentParams, opts: RunExperimentOptions): Promise<ExperimentOutcome> {
  const { report, environment } = await runExperimentGrid(p, { ...opts, allowIncomplete: false });
  const res = report.results;
  const get = (id: string) => network(id, res[id]);
  const attacks: AttackOutcome[] = [];
  const saturation: SaturationOutcome[] = [];
  const temperatures = opts.select?.networks === 'baseline' ? [] : p.temperatures;
  const selected = opts.select?.attacks ?? [];
  const checkpointEpochs = p.checkpointEpochs.filter((e) => e < p.epochs);
  const models = [
    { model: BASELINE, T: 1 }, ...temperatures.map((T) => ({ model: studentId(T), T })),
    ...checkpointEpochs.map((e) => ({ model: checkpointId(e), T: 1 })),
  ];
  const collect = (id: string, model: string, T: number, attack: AttackUnitName, logitScale?: number) => {
    if (res[id] === undefined) return;
    const r = attackResult(id, res[id]);
    const scale = logitScale === undefined ? {} : { logitScale };
    const variants = r.variants ? Object.fromEntries(Object.entries(r.variants).map(([v, x]) => [v, x!.summary])) : undefined;
    attacks.push({ unit: id, model, temperature: T, attack, ...scale, summary: r.summary, ...(variants ? { variants } : {}), examples: r.examples, perSecond: r.perSecond });
    const exact = r.variants?.exact;
    if (attack === 'fgsm' && r.saturation) {
      saturation.push({ unit: id, model, temperature: T, ...scale, report: r.saturation, ...(exact ? { exactZeroGradientFraction: exact.zeroGradientCount / exact.summary.counts.attacked } : {}) });
    }
  };
  for (const attack of selected) {
    for (const { model, T } of models) collect(attackId(model, attack), model, T, attack);
    if (attack === 'fgsm') for (const T of temperatures) if (T !== 1) collect(scaledControlId(T), BASELINE, 1, attack, T);
  }
  const H = headlineTemperature(p);
  const summaryOf = (id: string) => (res[id] === undefined ? undefined : attackResult(id, res[id]).summary);
  const variantsOf = (id: string) => {
    const v = res[id] === undefined ? null : attackResult(id, res[id]).variants;
    return v ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x!.summary])) as Partial<Record<FgsmVariant, AttackSummary>> : undefined;
  };
  const replicates: ReplicateOutcome[] = Array.from({ length: p.seeds }, (_, r) => {
    const prefix = replicatePrefix(p, r);
    const headline = temperatures.length > 0 ? get(studentId(H, prefix)) : undefined;
    return {
      seed: p.seed + r,
      baseline: get(`${prefix}${BASELINE}`),
      ...(headline ? { headline } : {}),
      fgsmBaseline: summaryOf(attackId(`${prefix}${BASELINE}`, 'fgsm')),
      fgsmHeadline: headline ? summaryOf(attackId(studentId(H, prefix), 'fgsm')) : undefined,
      fgsmVariants: {
        baseline: variantsOf(attackId(`${prefix}${BASELINE}`, 'fgsm')),
        headline: headline ? variantsOf(attackId(studentId(H, prefix), 'fgsm')) : undefined,
      },
    };
  });
  return {
    params: p,
    environment,
    ...(p.warmStartEpochs > 0 ? { warmStart: get(warmStartId()) } : {}),
    baseline: get(BASELINE),
    replicates,
    distilled: temperatures.map((T) => ({
      temperature: T,
      teacher: get(teacherId(T)),
      student: get(studentId(T)),
    })),
    checkpoints: checkpointEpochs.map((epoch) => ({ epoch, network: get(checkpointId(epoch)) })),
    attacks,
    saturation,
    grid: { ran: report.ran, cached: report.cached, skipped: report.skipped, skipReasons: report.skipReasons, workers: report.workers, codeHash: report.codeHash, wallMs: report.wallMs, chains: report.chains },
  };
}

/**
 * The model name used in result names: `baseline`, `T<T>` (the distilled network at T), or
 * `baselineLogitsX<T>` (the control: the baseline with its logits multiplied by T).
 */
export function modelResultName(model: string, T: number, logitScale?: number): string {
  if (logitScale !== undefined && logitScale !== 1) return `baselineLogitsX${logitScale}`;
  const epoch = checkpointEpochOf(model);
  if (epoch !== undefined) return `baselineEpoch${epoch}`;
  return model === BASELINE ? 'baseline' : `T${T}`;
}

/**
 * A published number, the grid units it was computed from and, for a rate or an accuracy, the
 * count behind it (k of n), from which the report draws its binomial interval.
 */
export interface ResultEntry {
  value: number;
  units: string[];
  count?: { k: number; n: number };
}

/** The result-name prefix of each FGSM variant: the float32, clipped one is plain `fgsm`. */
export const FGSM_VARIANT_PREFIX: Record<FgsmVariant, string> = {
  float32: 'fgsm',
  'float32-noclip': 'fgsmUnclipped',
  exact: 'fgsmExact',
  'exact-noclip': 'fgsmExactUnclipped',
};

/**
 * Mean, smallest and largest over the seeds that have a value, published as
 * `seeds.<name>.mean|min|max|n`, and each seed's own as `seeds.<name>.seed<S>`.
 */
function spread(out: Record<string, ResultEntry>, name: string, reps: ReplicateOutcome[], pick: (r: ReplicateOutcome) => ResultEntry | undefined): void {
  const points = reps.flatMap((r) => {
    const e = pick(r);
    return e === undefined ? [] : [{ seed: r.seed, e }];
  });
  if (points.length === 0) return;
  const values = points.map((x) => x.e.value);
  const units = [...new Set(points.flatMap((x) => x.e.units))];
  out[`seeds.${name}.mean`] = { value: values.reduce((a, b) => a + b, 0) / values.length, units };
  out[`seeds.${name}.min`] = { value: Math.min(...values), units };
  out[`seeds.${name}.max`] = { value: Math.max(...values), units };
  out[`seeds.${name}.n`] = { value: values.length, units };
  for (const { seed, e } of points) out[`seeds.${name}.seed${seed}`] = e;
}

/** An attack summary's headline rate (k successes among n correctly classified) and its rate over all. */
function rateEntries(summary: AttackSummary, units: string[]): { rate: ResultEntry; all: ResultEntry } {
  return {
    rate: { value: summary.headlineRate, units, count: { k: summary.counts.successAmongCorrect, n: summary.counts.correctBefore } },
    all: { value: summary.rates.a, units, count: { k: summary.counts.successAll, n: summary.counts.attacked } },
  };
}

/**
 * The stable result names (an interface read by reviewers' scripts; README, "Results
 * interface"), for the parts of `outcome` present, each with the grid units it comes from.
 * Rates are the headline definition, as fractions.
 */
export function resultEntries(outcome: ExperimentOutcome): Record<string, ResultEntry> {
  const net = (n: NetworkOutcome): ResultEntry => ({
    value: n.testAccuracy, units: [n.id],
    ...(n.testCount ? { count: { k: Math.round(n.testAccuracy * n.testCount), n: n.testCount } } : {}),
  });
  const out: Record<string, ResultEntry> = {
    'baseline.accuracy': net(outcome.baseline),
    'baseline.trainCount': { value: outcome.baseline.trainCount, units: [outcome.baseline.id] },
  };
  if (outcome.warmStart) out['warmStart.accuracy'] = net(outcome.warmStart);
  for (const c of outcome.checkpoints ?? []) out[`baselineEpoch${c.epoch}.accuracy`] = net(c.network);
  for (const d of outcome.distilled) {
    out[`distilled.T${d.temperature}.accuracy`] = net(d.student);
    out[`teacher.T${d.temperature}.accuracy`] = net(d.teacher);
  }
  const prefix: Record<AttackOutcome['attack'], string> = { fgsm: 'fgsm', 'fgsm-temperature': 'fgsmTemperature', pgd: 'pgd', jsma: 'jsma' };
  const publishRates = (base: string, summary: AttackSummary, units: string[]) => {
    const r = rateEntries(summary, units);
    out[`${base}.successRate`] = r.rate;
    out[`${base}.successRateAll`] = r.all;
  };
  for (const a of outcome.attacks) {
    const units = [a.unit];
    const model = modelResultName(a.model, a.temperature, a.logitScale);
    const base = `${prefix[a.attack]}.${model}`;
    publishRates(base, a.summary, units);
    for (const [variant, summary] of Object.entries(a.variants ?? {}) as Array<[FgsmVariant, AttackSummary]>) {
      if (variant !== 'float32') publishRates(`${FGSM_VARIANT_PREFIX[variant]}.${model}`, summary, units);
    }
    const exact = a.variants?.exact;
    if (exact) {
      // How much of FGSM's failure is float32's arithmetic: exact minus float32 success (clipped both).
      out[`fgsmArithmetic.${model}.gap`] = { value: exact.headlineRate - a.summary.headlineRate, units };
    }
    if (a.attack === 'fgsm' && a.temperature === 1 && a.logitScale === undefined) {
      // At T = 1, FGSM on logits / T is FGSM itself: publish it under both names rather than "not run".
      publishRates(`fgsmTemperature.${modelResultName(a.model, a.temperature)}`, a.summary, units);
    }
    const samples = `${prefix[a.attack]}.samples`;
    out[samples] = { value: Math.max(out[samples]?.value ?? 0, a.summary.samples), units: [...(out[samples]?.units ?? []), a.unit] };
    if (a.attack === 'jsma' && a.summary.onSuccess) out[`${base}.meanChangedFraction`] = { value: a.summary.onSuccess.changedFraction, units };
  }
  for (const s of outcome.saturation) {
    const name = `saturation.${modelResultName(s.model, s.temperature, s.logitScale)}`;
    const n = s.report.samples;
    out[`${name}.zeroGradientFraction`] = { value: s.report.zeroGradientFraction, units: [s.unit], count: { k: s.report.zeroGradientCount, n } };
    out[`${name}.cancellationFraction`] = { value: s.report.cancellationFraction, units: [s.unit], count: { k: s.report.cancellationCount, n } };
    if (s.exactZeroGradientFraction !== undefined) {
      out[`${name}.exactZeroGradientFraction`] = { value: s.exactZeroGradientFraction, units: [s.unit], count: { k: Math.round(s.exactZeroGradientFraction * n), n } };
    }
    out[`${name}.medianLogitGap`] = { value: s.report.logitGap.quantiles.find((q) => q.p === 0.5)!.value, units: [s.unit] };
  }
  const reps = outcome.replicates;
  if (reps.length > 1) {
    const H = headlineTemperature(outcome.params);
    const rate = (n: NetworkOutcome | undefined, summary: AttackSummary | undefined): ResultEntry | undefined =>
      (n && summary ? rateEntries(summary, [attackId(n.id, 'fgsm')]).rate : undefined);
    spread(out, 'baseline.accuracy', reps, (r) => net(r.baseline));
    spread(out, `distilled.T${H}.accuracy`, reps, (r) => (r.headline ? net(r.headline) : undefined));
    for (const variant of FGSM_VARIANTS) {
      const p = FGSM_VARIANT_PREFIX[variant];
      spread(out, `${p}.baseline.successRate`, reps, (r) => rate(r.baseline, r.fgsmVariants?.baseline?.[variant] ?? (variant === 'float32' ? r.fgsmBaseline : undefined)));
      spread(out, `${p}.T${H}.successRate`, reps, (r) => rate(r.headline, r.fgsmVariants?.headline?.[variant] ?? (variant === 'float32' ? r.fgsmHeadline : undefined)));
    }
  }
  return out;
}

/** The result names and values alone. */
export function resultValues(outcome: ExperimentOutcome): Record<string, number> {
  return Object.fromEntries(Object.entries(resultEntries(outcome)).map(([name, e]) => [name, e.value]));
}

/**
 * What a notebook publishes: each result whose name matches, with the chain of artifact keys
 * it rests on (null when part of the grid was stored before chains were recorded), so that
 * `reprobook verify` recomputes just that chain.
 */
export function publishable(outcome: ExperimentOutcome, names: RegExp): Array<{ name: string; value: number; artifacts: string[] | null; count?: { k: number; n: number } }> {
  return Object.entries(resultEntries(outcome))
    .filter(([name]) => names.test(name))
    .map(([name, e]) => ({ name, value: e.value, artifacts: chainOf(outcome.grid.chains, e.units), ...(e.count ? { count: e.count } : {}) }));
}
