import { existsSync } from 'node:fs';
import { own } from '../util/own.ts';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UserError } from '../util/errors.ts';
import { formatPointDifference, formatValue } from './format.ts';

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

function firstResult(spec: ClaimSpec, results: Record<string, unknown>): { name: string; value: number; spread?: Spread } | undefined {
  for (const name of spec.results ?? []) {
    const v = own(results, name);
    if (typeof v === 'number' && Number.isFinite(v)) {
      const at = (k: string) => own(results, `seeds.${name}.${k}`);
      const [mean, min, max, n] = ['mean', 'min', 'max', 'n'].map(at);
      if ([mean, min, max, n].every((x) => typeof x === 'number' && Number.isFinite(x)) && (n as number) > 1) {
        return { name, value: mean as number, spread: { mean: mean as number, min: min as number, max: max as number, n: n as number } };
      }
      return { name, value: v };
    }
  }
  return undefined;
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

/** The verdict for one claim given our published results. Pure. */
export function judgeClaim(spec: ClaimSpec, results: Record<string, unknown>): ClaimRow {
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
  const ours = firstResult(spec, results);
  if (!ours) return { ...base, differenceText: '—', verdict: 'not run' };
  // Over seeds: the mean is shown with its range, and a verdict holds only if it holds for
  // every seed's value (the weakest of the verdicts of the mean, the smallest and the largest).
  const values = ours.spread ? [ours.spread.mean, ours.spread.min, ours.spread.max] : [ours.value];
  const withSpread = (text: string) => (ours.spread
    ? `${text} (mean of ${ours.spread.n} seeds; range ${formatValue(ours.spread.min, 'percent')} to ${formatValue(ours.spread.max, 'percent')})`
    : text);
  const spreadField = ours.spread ? { spread: ours.spread } : {};
  switch (m.kind) {
    case 'approx': {
      // A hair of slack so that a value shown as exactly the tolerance counts as inside it.
      const eps = 1e-12;
      const judge = (v: number): Verdict => {
        const d = Math.abs(v - m.value);
        return d <= m.tolerance.reproduced + eps ? 'reproduced' : d <= m.tolerance.partly + eps ? 'partly' : 'not reproduced';
      };
      const verdict = values.map(judge).reduce(weaker);
      return { ...base, ...spreadField, resultName: ours.name, oursText: withSpread(formatValue(ours.value, 'percent')), differenceText: formatPointDifference(ours.value, m.value), verdict };
    }
    case 'below': {
      const judge = (v: number): Verdict => (v < m.value ? 'reproduced' : v < m.value + m.tolerance.partly ? 'partly' : 'not reproduced');
      const verdict = values.map(judge).reduce(weaker);
      const diff = ours.value < m.value ? `below the bound by ${pp(m.value - ours.value)}` : `above the bound by ${pp(ours.value - m.value)}`;
      return { ...base, ...spreadField, resultName: ours.name, oursText: withSpread(formatValue(ours.value, 'percent')), differenceText: diff, verdict };
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
export function judgeClaims(specs: ClaimSpec[], results: Record<string, unknown>): ClaimRow[] {
  const rows = specs.map((s) => judgeClaim(s, results));
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
    return {
      id: str(c, 'id', where)!,
      claim: str(c, 'claim', where)!,
      source: str(c, 'source', where)!,
      paperText: str(c, 'paper', where)!,
      measure,
      ...(results ? { results } : {}),
      ...(note ? { note } : {}),
      ...(network ? { network } : {}),
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
