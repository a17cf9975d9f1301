import { formatPointDifference, formatValue } from '../results/values.ts';
import type { RunDiff, RunLabel, ValueRow } from './diff.ts';

/** A run diff as a terminal table (what changed, then every verdict that moved) or JSON. */

export function formatDelta(row: ValueRow): string {
  if (row.delta === undefined) return row.change === 'changed' ? 'changed' : row.change === 'same' ? '' : row.change;
  if (row.delta === 0) return '0';
  const a = row.a as number;
  const b = row.b as number;
  // Fractions (the report's rates and accuracies) read best in percentage points.
  if (a >= 0 && a <= 1 && b >= 0 && b <= 1) return formatPointDifference(b, a);
  return `${row.delta > 0 ? '+' : '−'}${formatValue(Math.abs(row.delta), 'number')}`;
}

export const showValue = (v: unknown): string => (v === undefined ? '—' : formatValue(v, typeof v === 'number' ? 'number' : 'raw'));

export function describeLabel(r: RunLabel): string {
  const bits = [`profile ${r.profile ?? 'default'}`, r.generatedAt && `generated ${r.generatedAt}`, r.commit && `commit ${r.commit.slice(0, 12)}`, r.backend && `backend ${r.backend}`].filter(Boolean);
  return `${r.label} (${bits.join(', ')})`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
}

export function renderDiffText(d: RunDiff, opts: { all?: boolean } = {}): string {
  const out = [`A: ${describeLabel(d.a)}`, `B: ${describeLabel(d.b)}`, ''];
  const rows = d.values.filter((v) => opts.all || v.change !== 'same');
  if (rows.length === 0) out.push(`every one of the ${d.values.length} results is the same in A and B`);
  else out.push(...table([['result', 'A', 'B', 'change'], ...rows.map((v) => [v.name, showValue(v.a), showValue(v.b), formatDelta(v)])]));
  const c = d.counts;
  out.push('', `${c.changed} changed, ${c.added} only in B, ${c.removed} only in A, ${c.same} the same`);
  if (d.verdicts.length > 0) {
    const moved = d.verdicts.filter((v) => opts.all || v.changed);
    out.push('');
    if (moved.length === 0) out.push(`claim verdicts: all ${d.verdicts.length} the same`);
    else out.push(...table([['claim', 'A', 'B', ''], ...moved.map((v) => [v.id, v.a, v.b, v.changed ? 'VERDICT CHANGED' : ''])]));
  }
  return `${out.join('\n')}\n`;
}

export function renderDiffJson(d: RunDiff): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}
