import type { ResultsFile } from '../core/records.ts';
import { has } from '../util/own.ts';
import { judgeClaims, type ClaimSpec, type Verdict } from '../results/claims.ts';

/**
 * Two runs side by side: per result name, both values and the change, and per claim, both
 * verdicts. Pure: the loading of runs (files, profiles, saved builds) is in load.ts.
 */

export type ChangeKind = 'same' | 'changed' | 'added' | 'removed';

export interface ValueRow {
  name: string;
  a?: unknown;
  b?: unknown;
  /** b − a, when both are finite numbers. */
  delta?: number;
  change: ChangeKind;
}

export interface VerdictRow {
  id: string;
  claim: string;
  a: Verdict;
  b: Verdict;
  aText?: string;
  bText?: string;
  changed: boolean;
}

export interface RunLabel {
  /** What the user named (`quick`, `quick~1`, `old/results.json`). */
  label: string;
  profile: string | null;
  /** When the run's results were generated, from its provenance. */
  generatedAt?: string;
  commit?: string;
  backend?: string;
}

export interface RunDiff {
  a: RunLabel;
  b: RunLabel;
  values: ValueRow[];
  verdicts: VerdictRow[];
  counts: Record<ChangeKind, number> & { verdictsChanged: number };
}

const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);

export function describeRun(label: string, file: ResultsFile): RunLabel {
  const p = file.provenance;
  return {
    label,
    profile: file.profile ?? null,
    ...(p?.generatedAt ? { generatedAt: p.generatedAt } : {}),
    ...(p?.environment?.git?.commit ? { commit: p.environment.git.commit } : {}),
    ...(p?.environment?.backend ? { backend: p.environment.backend } : {}),
  };
}

export function diffRuns(a: { label: string; file: ResultsFile }, b: { label: string; file: ResultsFile }, claims: ClaimSpec[] = []): RunDiff {
  const ra = a.file.results;
  const rb = b.file.results;
  const names = [...new Set([...Object.keys(ra), ...Object.keys(rb)])].sort();
  const values: ValueRow[] = names.map((name) => {
    const inA = has(ra, name);
    const inB = has(rb, name);
    const row: ValueRow = { name, change: !inA ? 'added' : !inB ? 'removed' : same(ra[name], rb[name]) ? 'same' : 'changed' };
    if (inA) row.a = ra[name];
    if (inB) row.b = rb[name];
    if (typeof row.a === 'number' && typeof row.b === 'number' && Number.isFinite(row.a) && Number.isFinite(row.b)) row.delta = row.b - row.a;
    return row;
  });
  const ja = judgeClaims(claims, ra);
  const jb = judgeClaims(claims, rb);
  const verdicts: VerdictRow[] = ja.map((x, i) => {
    const y = jb[i]!;
    return {
      id: x.spec.id, claim: x.spec.claim, a: x.verdict, b: y.verdict,
      ...(x.oursText !== undefined ? { aText: x.oursText } : {}), ...(y.oursText !== undefined ? { bText: y.oursText } : {}),
      changed: x.verdict !== y.verdict,
    };
  });
  const counts = { same: 0, changed: 0, added: 0, removed: 0, verdictsChanged: verdicts.filter((v) => v.changed).length };
  for (const v of values) counts[v.change]++;
  return { a: describeRun(a.label, a.file), b: describeRun(b.label, b.file), values, verdicts, counts };
}
