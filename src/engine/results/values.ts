/**
 * How a published value reads as text (the report, diff and verify all print values through
 * here): plain text, which an HTML caller escapes.
 */

/**
 * How a placeholder shows a value: `percent` reads a fraction in [0, 1]; `points` reads a
 * difference of two fractions and shows it as signed percentage points.
 */
export type ValueFormat = 'percent' | 'percent1' | 'percent3' | 'points' | 'number' | 'int' | 'fixed4' | 'raw';

export const VALUE_FORMATS: readonly ValueFormat[] = ['percent', 'percent1', 'percent3', 'points', 'number', 'int', 'fixed4', 'raw'];

export function isValueFormat(s: string): s is ValueFormat {
  return (VALUE_FORMATS as readonly string[]).includes(s);
}

/** Plain-text rendering of a published value (the caller escapes it). */
export function formatValue(value: unknown, format: ValueFormat = 'raw'): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return String(value);
    switch (format) {
      case 'percent': return `${(value * 100).toFixed(2)}%`;
      case 'percent1': return `${(value * 100).toFixed(1)}%`;
      case 'percent3': return `${(value * 100).toFixed(3)}%`;
      case 'points': return formatPointDifference(value, 0);
      case 'int': return Math.round(value).toLocaleString('en-US');
      case 'fixed4': return value.toFixed(4);
      case 'number': return Number.isInteger(value) ? value.toLocaleString('en-US') : String(Number(value.toPrecision(4)));
      case 'raw': return String(value);
    }
  }
  if (Array.isArray(value)) return value.map((v) => formatValue(v, format)).join(', ');
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return JSON.stringify(value) ?? String(value);
}

/** Percentage points between two fractions, signed, e.g. "+1.20 pp". */
export function formatPointDifference(ours: number, paper: number): string {
  const d = (ours - paper) * 100;
  const sign = d > 0 ? '+' : d < 0 ? '−' : '±';
  return `${sign}${Math.abs(d).toFixed(2)} pp`;
}
