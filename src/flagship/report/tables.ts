/**
 * The per-temperature table of the report, as Markdown whose cells are `{{result NAME FORMAT}}`
 * placeholders: the report (and the notebook page) fills each from the results file and links
 * it to the cell that published it, so a value missing from a build shows "not run" and fails
 * `build --strict`, like any value in the prose.
 *
 * One row for the baseline and one per temperature. The control columns (the baseline with
 * logits x T, no training) sit next to the distilled network's, so that what the logit scale
 * does and what distillation does can be read side by side; on the baseline's row and at
 * T = 1 (logits x 1) the control is the baseline itself.
 */

type Row = 'baseline' | number;
type Format = 'percent' | 'number' | 'points';
interface Column { label: string; name: (row: Row) => string; format: Format }

/** The result-name model of a row: `baseline` or `T<T>`. */
const model = (r: Row) => (r === 'baseline' ? 'baseline' : `T${r}`);
/** The control of a row: the baseline with logits x T (at T = 1, and on the baseline's row, the baseline itself). */
const control = (r: Row) => (r === 'baseline' || r === 1 ? 'baseline' : `baselineLogitsX${r}`);

const COLUMNS: Column[] = [
  { label: 'Test accuracy', name: (r) => (r === 'baseline' ? 'baseline.accuracy' : `distilled.T${r}.accuracy`), format: 'percent' },
  { label: 'FGSM success', name: (r) => `fgsm.${model(r)}.successRate`, format: 'percent' },
  { label: 'FGSM, exact gradient', name: (r) => `fgsmExact.${model(r)}.successRate`, format: 'percent' },
  { label: 'Zero-gradient samples', name: (r) => `saturation.${model(r)}.zeroGradientFraction`, format: 'percent' },
  { label: 'Cancellation regime', name: (r) => `saturation.${model(r)}.cancellationFraction`, format: 'percent' },
  { label: 'Median logit gap', name: (r) => `saturation.${model(r)}.medianLogitGap`, format: 'number' },
  { label: 'Control: baseline, logits × T: FGSM success', name: (r) => `fgsm.${control(r)}.successRate`, format: 'percent' },
  { label: 'Control: zero-gradient samples', name: (r) => `saturation.${control(r)}.zeroGradientFraction`, format: 'percent' },
  { label: 'Control: median logit gap', name: (r) => `saturation.${control(r)}.medianLogitGap`, format: 'number' },
  { label: 'FGSM on logits / T', name: (r) => `fgsmTemperature.${model(r)}.successRate`, format: 'percent' },
  { label: 'Logit PGD success', name: (r) => `pgd.${model(r)}.successRate`, format: 'percent' },
  { label: 'JSMA success', name: (r) => `jsma.${model(r)}.successRate`, format: 'percent' },
];

/**
 * How much of FGSM's failure is float32's arithmetic, per network: the attack as a TensorFlow
 * user runs it (the framework's float32 gradient) against the same attack with the exact
 * gradient's sign, the difference, and what causes it (the share of digits in float32's
 * cancellation regime, and the zero gradients of each arithmetic); the same for the control.
 */
const ARITHMETIC: Column[] = [
  { label: 'FGSM, float32 gradient (the paper\'s)', name: (r) => `fgsm.${model(r)}.successRate`, format: 'percent' },
  { label: 'FGSM, exact gradient', name: (r) => `fgsmExact.${model(r)}.successRate`, format: 'percent' },
  { label: 'Exact − float32', name: (r) => `fgsmArithmetic.${model(r)}.gap`, format: 'points' },
  { label: 'Cancellation regime', name: (r) => `saturation.${model(r)}.cancellationFraction`, format: 'percent' },
  { label: 'Zero gradient, float32', name: (r) => `saturation.${model(r)}.zeroGradientFraction`, format: 'percent' },
  { label: 'Zero gradient, exact', name: (r) => `saturation.${model(r)}.exactZeroGradientFraction`, format: 'percent' },
  { label: 'Control (logits × T): float32', name: (r) => `fgsm.${control(r)}.successRate`, format: 'percent' },
  { label: 'Control: exact', name: (r) => `fgsmExact.${control(r)}.successRate`, format: 'percent' },
];

function table(columns: Column[], temperatures: number[]): string {
  const rows: Row[] = ['baseline', ...[...temperatures].sort((a, b) => a - b)];
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(['Network', ...columns.map((c) => c.label)]),
    line(['---', ...columns.map(() => '---:')]),
    // Every rate with its 95% Wilson interval (of the count its notebook published beside it).
    ...rows.map((r) => line([r === 'baseline' ? 'baseline' : `T = ${r}`, ...columns.map((c) => `{{result ${c.name(r)} ${c.format}${c.format === 'percent' ? ' ci' : ''}}}`)])),
  ].join('\n');
}

export function perTemperatureTable(temperatures: number[]): string {
  return table(COLUMNS, temperatures);
}

export function arithmeticTable(temperatures: number[]): string {
  return table(ARITHMETIC, temperatures);
}
