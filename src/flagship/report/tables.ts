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
type Format = 'percent' | 'number';

const COLUMNS: Array<{ label: string; name: (row: Row) => string; format: Format }> = [
  { label: 'Test accuracy', name: (r) => (r === 'baseline' ? 'baseline.accuracy' : `distilled.T${r}.accuracy`), format: 'percent' },
  { label: 'FGSM success', name: (r) => (r === 'baseline' ? 'fgsm.baseline.successRate' : `fgsm.T${r}.successRate`), format: 'percent' },
  { label: 'Zero-gradient samples', name: (r) => (r === 'baseline' ? 'saturation.baseline.zeroGradientFraction' : `saturation.T${r}.zeroGradientFraction`), format: 'percent' },
  { label: 'Median logit gap', name: (r) => (r === 'baseline' ? 'saturation.baseline.medianLogitGap' : `saturation.T${r}.medianLogitGap`), format: 'number' },
  { label: 'Control: baseline, logits × T: FGSM success', name: (r) => (r === 'baseline' || r === 1 ? 'fgsm.baseline.successRate' : `fgsm.baselineLogitsX${r}.successRate`), format: 'percent' },
  { label: 'Control: zero-gradient samples', name: (r) => (r === 'baseline' || r === 1 ? 'saturation.baseline.zeroGradientFraction' : `saturation.baselineLogitsX${r}.zeroGradientFraction`), format: 'percent' },
  { label: 'Control: median logit gap', name: (r) => (r === 'baseline' || r === 1 ? 'saturation.baseline.medianLogitGap' : `saturation.baselineLogitsX${r}.medianLogitGap`), format: 'number' },
  { label: 'FGSM on logits / T', name: (r) => (r === 'baseline' ? 'fgsmTemperature.baseline.successRate' : `fgsmTemperature.T${r}.successRate`), format: 'percent' },
  { label: 'Logit PGD success', name: (r) => (r === 'baseline' ? 'pgd.baseline.successRate' : `pgd.T${r}.successRate`), format: 'percent' },
  { label: 'JSMA success', name: (r) => (r === 'baseline' ? 'jsma.baseline.successRate' : `jsma.T${r}.successRate`), format: 'percent' },
];

export function perTemperatureTable(temperatures: number[]): string {
  const rows: Row[] = ['baseline', ...[...temperatures].sort((a, b) => a - b)];
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(['Network', ...COLUMNS.map((c) => c.label)]),
    line(['---', ...COLUMNS.map(() => '---:')]),
    ...rows.map((r) => line([r === 'baseline' ? 'baseline' : `T = ${r}`, ...COLUMNS.map((c) => `{{result ${c.name(r)} ${c.format}}}`)])),
  ].join('\n');
}
