import { existsSync } from 'node:fs';
import { own } from '../util/own.ts';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UserError } from '../util/errors.ts';
import { formatPointDifference, formatValue } from './values.ts';

/**
 * A paper's quantitative claims against our results. Each claim states how the paper
 * phrased its value (a point value, an upper bound, the range of a swept parameter, a sample
 * count), which result is ours, and the tolerance under which we call it reproduced,
 * partly reproduced or not. `judgeClaim` is pure: the table is its output, rendered.
 */

export type Verdict = 'reproduced' | 'partly' | 'not reproduced' | 'not run';

/** Fractions in [0, 1] unless noted; tolerances are absolute, in the same unit. */
export type ClaimMeasure =
  /** "99.51%": reproduced when |ours − value| ≤ reproduced, partly when ≤ partly. */
  | { kind: 'approx'; value: number; tolerance: { reproduced: number; partly: number } }
  /** "< 1.5%": reproduced when ours < value, partly when ours < value + partly. */
  | { kind: 'below'; value: number; tolerance: { partly: number } }
  /**
   * "x from 1 to 100": a swept parameter, read from the names of the results that exist (the
   * `{x}` in `pattern`, e.g. `model.x{x}.accuracy`); reproduced when both ends and at least
   * minCount values were run. `label` names the parameter in the table ("x = 100 not run").
   */
  | { kind: 'sweep'; pattern: string; label: string; min: number; max: number; tolerance: { minCount: number } }
  /** "all 10,000 samples": a count; reproduced at value, partly at ≥ partlyAtLeast. */
  | { kind: 'count'; value: number; tolerance: { partlyAtLeast: number } };

/** A rate's count: k successes of n trials (results.json `counts`). */
export interface Count {
  k: number;
  n: number;
}

/** z for a two-sided 95% interval. */
const Z95 = 1.959963984540054;

/**
 * The Wilson score interval of k successes in n trials at 95%: unlike the normal
 * approximation it stays inside [0, 1] and is sensible at 0 or n successes (a rate of 0 of
 * 900 still has an upper end of about 0.43%).
 */
export function wilsonInterval({ k, n }: Count, z = Z95): { lo: number; hi: number } {
  if (!(n > 0) || k < 0 || k > n) throw new RangeError(`Wilson interval: ${k} of ${n} is not a count`);
  const p = k / n;
  const z2 = z * z;
  const center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // At k = 0 and k = n the interval ends exactly at 0 and 1; the formula gets there only up to rounding.
  return { lo: k === 0 ? 0 : Math.max(0, center - half), hi: k === n ? 1 : Math.min(1, center + half) };
}

export interface ClaimSpec {
  id: string;
  /** What is claimed, in our words. */
  claim: string;
  /** Where the paper says it; Markdown with citations, e.g. "§3, citing [@smith2020]". */
  source: string;
  /** The paper's value as the paper states it, e.g. "< 1.5%". */
  paperText: string;
  measure: ClaimMeasure;
  /** The result name(s) holding our value; the first one published is used. Not needed for `sweep`. */
  results?: string[];
  /** Markdown shown under the claim (e.g. that a value comes from [7], or is unverified). */
  note?: string;
  /**
   * The id of the claim about the accuracy of the network this one is measured on: when that
   * accuracy is not reproduced, this row says so (an attack on a weaker network is a weaker test).
   */
  network?: string;
  /**
   * The profile whose run the verdict is judged on (default: the build's own). Its value may
   * come from a frozen record (report/frozen/<profile>/) when this machine has not run it.
   */
  profile?: string;
  /** Other results shown in the row beside the judged one, each with its label (e.g. the same attack in another arithmetic). */
  also?: Array<{ label: string; result: string }>;
}

/** Our value of a claim over independent seeds (`seeds.<name>.mean|min|max|n`). */
export interface Spread {
  mean: number;
  min: number;
  max: number;
  n: number;
}

export interface ClaimRow {
  spec: ClaimSpec;
  /** Our value as shown, or undefined when no notebook published it. */
  oursText?: string;
  differenceText: string;
  verdict: Verdict;
  toleranceText: string;
  /** The result our value came from (for the link to its notebook cell). */
  resultName?: string;
  /** Present when the value is a mean over seeds: the verdict then holds for the whole range. */
  spread?: Spread;
  /** Set when the claim's network (ClaimSpec.network) does not reproduce the paper's accuracy. */
  networkCaveat?: string;
  /** The 95% Wilson interval(s) behind the value: one run's, or the span of every seed's. */
  interval?: { lo: number; hi: number; seeds: number };
  /** The verdict of the point value alone, when the interval makes the verdict weaker. */
  pointVerdict?: Verdict;
  /** ClaimSpec.also, resolved: each label with our value (undefined: not published). */
  also?: Array<{ label: string; resultName: string; value?: number; interval?: { lo: number; hi: number }; seeds?: number }>;
}

const pp = (x: number) => `${+(x * 100).toFixed(2)} pp`;

export function toleranceText(m: ClaimMeasure): string {
  switch (m.kind) {
    case 'approx': return `reproduced within ±${pp(m.tolerance.reproduced)}; partly within ±${pp(m.tolerance.partly)}`;
    case 'below': return `reproduced below ${formatValue(m.value, 'percent1')}; partly below ${formatValue(m.value + m.tolerance.partly, 'percent1')}`;
    case 'sweep': return `reproduced if ${m.label} = ${m.min} and ${m.label} = ${m.max} and ≥ ${m.tolerance.minCount} values were run; partly if ≥ 2`;
    case 'count': return `reproduced at ${formatValue(m.value, 'int')}; partly at ≥ ${formatValue(m.tolerance.partlyAtLeast, 'int')}`;
  }
}

interface OurValue {
  name: string;
  value: number;
  spread?: Spread;
  /** The interval of each run the verdict rests on (every seed's, or the one run's), where counts were published. */
  intervals: Array<{ lo: number; hi: number }>;
}

function countOf(counts: Record<string, unknown>, name: string): Count | undefined {
  const c = counts[name] as Partial<Count> | undefined;
  return c && typeof c.k === 'number' && typeof c.n === 'number' && c.n > 0 && c.k >= 0 && c.k <= c.n ? { k: c.k, n: c.n } : undefined;
}

/**
 * Our value of one published result: over seeds (`seeds.<name>.mean|min|max|n`, n > 1) the
 * mean with its range and every seed's interval, else the value with its own. One rule for the
 * judged value and the variants shown beside it, so a row never mixes a mean with one seed.
 */
function ourValue(name: string, results: Record<string, unknown>, counts: Record<string, unknown>): OurValue | undefined {
  const v = own(results, name);
  if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  const at = (k: string) => own(results, `seeds.${name}.${k}`);
  const [mean, min, max, n] = ['mean', 'min', 'max', 'n'].map(at);
  if ([mean, min, max, n].every((x) => typeof x === 'number' && Number.isFinite(x)) && (n as number) > 1) {
    const seedNames = Object.keys(results).filter((r) => r.startsWith(`seeds.${name}.seed`) && /^\d+$/.test(r.slice(`seeds.${name}.seed`.length)));
    const intervals = seedNames.map((r) => countOf(counts, r)).filter((c): c is Count => c !== undefined).map((c) => wilsonInterval(c));
    return { name, value: mean as number, spread: { mean: mean as number, min: min as number, max: max as number, n: n as number }, intervals };
  }
  const c = countOf(counts, name);
  return { name, value: v, intervals: c ? [wilsonInterval(c)] : [] };
}

function firstResult(spec: ClaimSpec, results: Record<string, unknown>, counts: Record<string, unknown>): OurValue | undefined {
  for (const name of spec.results ?? []) {
    const ours = ourValue(name, results, counts);
    if (ours) return ours;
  }
  return undefined;
}

/** The hull of the intervals a value rests on (every seed's, or its one), with how many. */
function hull(intervals: Array<{ lo: number; hi: number }>): { lo: number; hi: number; seeds: number } | undefined {
  return intervals.length > 0
    ? { lo: Math.min(...intervals.map((i) => i.lo)), hi: Math.max(...intervals.map((i) => i.hi)), seeds: intervals.length }
    : undefined;
}

/** The values of `{x}` in the names of the numeric results matching `pattern`, ascending. */
export function sweepValues(pattern: string, results: Record<string, unknown>): number[] {
  const [before, after] = pattern.split('{x}').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`^${before}(-?\\d+(?:\\.\\d+)?)${after}$`);
  const found = new Set<number>();
  for (const [name, value] of Object.entries(results)) {
    const m = re.exec(name);
    if (m && typeof value === 'number' && Number.isFinite(value)) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b);
}

const rank: Record<Verdict, number> = { reproduced: 3, partly: 2, 'not reproduced': 1, 'not run': 0 };
/** The weaker of two verdicts. */
const weaker = (a: Verdict, b: Verdict): Verdict => (rank[a] <= rank[b] ? a : b);

/**
 * The verdict for one claim given our published results (and, for rates, the counts behind
 * them: results.json `counts`, name -> { k, n }). Pure.
 *
 * How the interval enters: a value published with its count carries a 95% Wilson interval,
 * and the verdict is the weakest of the verdicts of the value and of both ends of its
 * interval (over seeds: of every seed's value and interval ends). So "reproduced" means that
 * sampling error could not make it anything less; when the point value alone would judge
 * better, the row says so (`pointVerdict`).
 */
export function judgeClaim(spec: ClaimSpec, results: Record<string, unknown>, counts: Record<string, unknown> = {}): ClaimRow {
  const m = spec.measure;
  const base = { spec, toleranceText: toleranceText(m) };
  if (m.kind === 'sweep') {
    const run = sweepValues(m.pattern, results);
    if (run.length === 0) return { ...base, differenceText: '—', verdict: 'not run' };
    const both = run.includes(m.min) && run.includes(m.max);
    const verdict: Verdict = both && run.length >= m.tolerance.minCount ? 'reproduced' : run.length >= 2 ? 'partly' : 'not reproduced';
    const missing = [m.min, m.max].filter((t) => !run.includes(t));
    return {
      ...base,
      oursText: `${run.join(', ')} (${run.length} value${run.length === 1 ? '' : 's'})`,
      differenceText: missing.length ? `${m.label} = ${missing.join(' and ')} not run` : `${run.length} values`,
      verdict,
    };
  }
  const ours = firstResult(spec, results, counts);
  if (!ours) return { ...base, differenceText: '—', verdict: 'not run' };
  const also = spec.also?.map((a) => {
    const v = ourValue(a.result, results, counts);
    const i = v ? hull(v.intervals) : undefined;
    return {
      label: a.label, resultName: a.result,
      ...(v ? { value: v.value } : {}), ...(v?.spread ? { seeds: v.spread.n } : {}), ...(i ? { interval: { lo: i.lo, hi: i.hi } } : {}),
    };
  });
  // Over seeds: the mean is shown with its range, and a verdict holds only if it holds for
  // every seed's value (the weakest of the verdicts of the mean, the smallest and the largest).
  const points = ours.spread ? [ours.spread.mean, ours.spread.min, ours.spread.max] : [ours.value];
  const ends = ours.intervals.flatMap((i) => [i.lo, i.hi]);
  const interval = hull(ours.intervals);
  const withSpread = (text: string) => (ours.spread
    ? `${text} (mean of ${ours.spread.n} seeds; range ${formatValue(ours.spread.min, 'percent')} to ${formatValue(ours.spread.max, 'percent')})`
    : text);
  const extra = { ...(ours.spread ? { spread: ours.spread } : {}), ...(interval ? { interval } : {}), ...(also ? { also } : {}) };
  const verdicts = (judge: (v: number) => Verdict) => {
    const point = points.map(judge).reduce(weaker);
    const verdict = [...points, ...ends].map(judge).reduce(weaker);
    return verdict === point ? { verdict } : { verdict, pointVerdict: point };
  };
  switch (m.kind) {
    case 'approx': {
      // A hair of slack so that a value shown as exactly the tolerance counts as inside it.
      const eps = 1e-12;
      const judge = (v: number): Verdict => {
        const d = Math.abs(v - m.value);
        return d <= m.tolerance.reproduced + eps ? 'reproduced' : d <= m.tolerance.partly + eps ? 'partly' : 'not reproduced';
      };
      return { ...base, ...extra, resultName: ours.name, oursText: withSpread(formatValue(ours.value, 'percent')), differenceText: formatPointDifference(ours.value, m.value), ...verdicts(judge) };
    }
    case 'below': {
      const judge = (v: number): Verdict => (v < m.value ? 'reproduced' : v < m.value + m.tolerance.partly ? 'partly' : 'not reproduced');
      const diff = ours.value < m.value ? `below the bound by ${pp(m.value - ours.value)}` : `above the bound by ${pp(ours.value - m.value)}`;
      return { ...base, ...extra, resultName: ours.name, oursText: withSpread(formatValue(ours.value, 'percent')), differenceText: diff, ...verdicts(judge) };
    }
    case 'count': {
      const verdict: Verdict = ours.value >= m.value ? 'reproduced' : ours.value >= m.tolerance.partlyAtLeast ? 'partly' : 'not reproduced';
      const diff = ours.value >= m.value ? 'all' : `${formatValue(m.value - ours.value, 'int')} fewer`;
      return { ...base, resultName: ours.name, oursText: formatValue(ours.value, 'int'), differenceText: diff, verdict };
    }
  }
}

/**
 * Every claim's verdict; a claim measured on a network (ClaimSpec.network) whose own accuracy
 * claim is not reproduced carries a caveat saying so.
 */
export function judgeClaims(specs: ClaimSpec[], results: Record<string, unknown>, counts: Record<string, unknown> = {}): ClaimRow[] {
  const rows = specs.map((s) => judgeClaim(s, results, counts));
  const byId = new Map(rows.map((r) => [r.spec.id, r]));
  for (const row of rows) {
    const id = row.spec.network;
    if (!id) continue;
    const net = byId.get(id);
    if (!net) throw new UserError(`claims file: claim "${row.spec.id}" names network claim "${id}", which does not exist`, 'set "network" to the id of an accuracy claim');
    if (net.verdict !== 'reproduced' && row.verdict !== 'not run') {
      row.networkCaveat = `Measured on a network whose accuracy is ${net.verdict === 'not run' ? 'not measured' : `not reproduced (${net.verdict}: ${net.oursText ?? '—'} against the paper's ${net.spec.paperText})`}.`;
    }
  }
  return rows;
}

// ---- loading report/claims.yaml, with errors that name the claim and the field ----

function fail(where: string, what: string): never {
  throw new UserError(`claims file ${where}: ${what}`, 'see the comment at the top of report/claims.yaml for the fields each claim needs');
}

function num(obj: Record<string, unknown>, key: string, where: string): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, `"${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function str(obj: Record<string, unknown>, key: string, where: string, optional = false): string | undefined {
  const v = obj[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string' || !v.trim()) fail(where, `"${key}" must be a non-empty string`);
  return v;
}

/** A claims file: the claims, and the runs the table shows side by side after the build's own (`profiles:`). */
export interface ClaimsFile {
  claims: ClaimSpec[];
  profiles: string[];
}

export function parseClaimsFile(yamlText: string, file = 'report/claims.yaml'): ClaimsFile {
  const doc = parseYaml(yamlText) as { profiles?: unknown } | null;
  const profiles = doc?.profiles === undefined ? [] : Array.isArray(doc.profiles) && doc.profiles.every((p) => typeof p === 'string' && p.trim())
    ? (doc.profiles as string[])
    : fail(file, '"profiles" must be a list of profile names');
  return { claims: parseClaims(yamlText, file), profiles };
}

export function parseClaims(yamlText: string, file = 'report/claims.yaml'): ClaimSpec[] {
  const doc = parseYaml(yamlText) as { claims?: unknown };
  if (!doc || !Array.isArray(doc.claims)) fail(file, 'expected a top-level "claims:" list');
  return doc.claims.map((raw, i): ClaimSpec => {
    const where = `${file}, claim ${i + 1}`;
    if (!raw || typeof raw !== 'object') fail(where, 'expected a mapping');
    const c = raw as Record<string, unknown>;
    const t = (c.tolerance ?? {}) as Record<string, unknown>;
    const kind = c.kind;
    let measure: ClaimMeasure;
    switch (kind) {
      case 'approx': measure = { kind, value: num(c, 'value', where), tolerance: { reproduced: num(t, 'reproduced', `${where} tolerance`), partly: num(t, 'partly', `${where} tolerance`) } }; break;
      case 'below': measure = { kind, value: num(c, 'value', where), tolerance: { partly: num(t, 'partly', `${where} tolerance`) } }; break;
      case 'sweep': {
        const pattern = str(c, 'pattern', where)!;
        if (!pattern.includes('{x}')) fail(where, `"pattern" must contain {x} where the swept value stands in a result name, got ${JSON.stringify(pattern)}`);
        measure = { kind, pattern, label: str(c, 'label', where, true) ?? 'x', min: num(c, 'min', where), max: num(c, 'max', where), tolerance: { minCount: num(t, 'minCount', `${where} tolerance`) } };
        break;
      }
      case 'count': measure = { kind, value: num(c, 'value', where), tolerance: { partlyAtLeast: num(t, 'partlyAtLeast', `${where} tolerance`) } }; break;
      default: fail(where, `"kind" must be approx, below, sweep or count, got ${JSON.stringify(kind)}`);
    }
    const results = c.results === undefined ? undefined : Array.isArray(c.results) && c.results.every((r) => typeof r === 'string')
      ? (c.results as string[])
      : fail(where, '"results" must be a list of result names');
    if (kind !== 'sweep' && !results?.length) fail(where, '"results" must name at least one result');
    const note = str(c, 'note', where, true);
    const network = str(c, 'network', where, true);
    const profile = str(c, 'profile', where, true);
    const also = c.also === undefined ? undefined : Array.isArray(c.also) && c.also.every((a) => a && typeof a === 'object' && typeof (a as { label?: unknown }).label === 'string' && typeof (a as { result?: unknown }).result === 'string')
      ? (c.also as Array<{ label: string; result: string }>).map((a) => ({ label: a.label, result: a.result }))
      : fail(where, '"also" must be a list of { label, result } (a label and a result name each)');
    return {
      id: str(c, 'id', where)!,
      claim: str(c, 'claim', where)!,
      source: str(c, 'source', where)!,
      paperText: str(c, 'paper', where)!,
      measure,
      ...(results ? { results } : {}),
      ...(note ? { note } : {}),
      ...(network ? { network } : {}),
      ...(profile ? { profile } : {}),
      ...(also ? { also } : {}),
    };
  });
}

/** The project's claims (report/claims.yaml), or none when it has no such file. */
export async function loadProjectClaims(root: string): Promise<ClaimSpec[]> {
  const path = join(root, 'report', 'claims.yaml');
  return existsSync(path) ? loadClaims(path) : [];
}

export async function loadClaims(path: string): Promise<ClaimSpec[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new UserError(`claims file not found: ${path}`, 'the report needs report/claims.yaml under the project root (or pass --root)');
  }
  return parseClaims(text, path);
}
