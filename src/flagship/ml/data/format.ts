import type { DataReport } from './mnist.ts';

/** The human-readable form of a data report, as `reprobook data verify` prints it. */
export function formatDataReport(report: DataReport): string {
  const lines: string[] = [`MNIST data in ${report.dir} (${report.source})`];
  for (const f of report.files) {
    const status = f.ok ? 'ok' : 'FAIL';
    const size = f.bytes === null ? '-' : `${f.bytes.toLocaleString('en-US')} bytes`;
    lines.push(`  ${status.padEnd(4)} ${f.name.padEnd(24)} ${size.padStart(18)}${f.compressed ? ' (gunzipped)' : ''}`);
    if (f.path) lines.push(`       path   ${f.path}`);
    if (f.sha256) lines.push(`       sha256 ${f.sha256}${f.ok ? ' (matches the manifest)' : ''}`);
    if (f.problem) lines.push(`       problem: ${f.problem}`);
  }
  for (const split of ['train', 'test'] as const) {
    const c = report.labelCounts[split];
    lines.push(`  labels ${split.padEnd(5)} ${c ? `${c.reduce((a, b) => a + b, 0)}: ${c.map((n, d) => `${d}:${n}`).join(' ')}` : 'unavailable'}`);
  }
  for (const p of report.datasetProblems) lines.push(`  problem: ${p}`);
  lines.push(report.ok ? 'all MNIST checks passed' : 'MNIST data check FAILED');
  return `${lines.join('\n')}\n`;
}
