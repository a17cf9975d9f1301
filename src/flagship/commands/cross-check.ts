import type { Command } from 'commander';
import { repeatable } from '../../engine/cli/options.ts';

/**
 * `reprobook cross-check`: the independent check of the FGSM figures (src/flagship/reproduction/cross-check.ts).
 * It needs the experiment's networks in the store (it trains them otherwise) and writes
 * its report as JSON next to the site's results, so that the check is part of the record.
 */
export function register(program: Command): void {
  program
    .command('cross-check')
    .description('re-run FGSM on the stored networks with the exact cpu backend and compare, sample by sample')
    .option('--root <dir>', 'project root (holds reprobook.config.yaml and .reprobook/)', '.')
    .option('--profile <name>', 'parameter profile (default: the project default)')
    .option('--param <name=value>', 'override one parameter (repeatable)', repeatable, [] as string[])
    .option('--samples <n>', 'the first n test digits (the cpu backend attacks about 8 a second)', '300')
    .option('--out <file>', 'where to write the JSON report', 'report/checks/fgsm-cpu.json')
    .action(async (opts: { root: string; profile?: string; param: string[]; samples: string; out: string }) => {
      const { resolve, join, dirname } = await import('node:path');
      const { mkdir, writeFile } = await import('node:fs/promises');
      const { profileParams } = await import('../reproduction/profile.ts');
      const { crossCheckFgsm } = await import('../reproduction/cross-check.ts');
      const { createProgress } = await import('../../engine/util/progress.ts');
      const { UserError } = await import('../../engine/util/errors.ts');
      const samples = Number(opts.samples);
      if (!Number.isInteger(samples) || samples < 1 || samples > 10000) throw new UserError(`--samples ${opts.samples} is not a whole number in 1..10000`, 'use e.g. --samples 300');
      const root = resolve(opts.root);
      const { profile, params } = await profileParams(root, opts.profile, opts.param);
      const report = await crossCheckFgsm(params, { storeRoot: join(root, '.reprobook', 'artifacts'), samples, progress: createProgress() });
      const out = resolve(root, opts.out);
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, `${JSON.stringify({ profile: profile ?? 'default', ...report }, null, 2)}\n`);
      const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
      for (const r of report.rows) {
        process.stdout.write(`${r.network.padEnd(20)} ${report.backend}: ${pct(r.rate.experiment)}  cpu: ${pct(r.rate.cpu)}  samples differing: ${r.samplesDiffering}/${r.samples}  pixels differing: ${r.pixelsDiffering}  zero gradient: ${r.zeroGradient.experiment} vs ${r.zeroGradient.cpu}\n`);
      }
      process.stdout.write(`report: ${out}\n`);
      // Two backends sum in different orders, so a pixel whose gradient is a near-cancelling sum
      // (or a max-pooling near-tie) can take the other sign, and a borderline digit can flip:
      // a point of rate at most. A different count of exactly-zero gradients is another matter:
      // that is the signature of a flushed value (issue 11), and fails the check.
      const bad = report.rows.filter((r) => r.zeroGradient.experiment !== r.zeroGradient.cpu || Math.abs(r.rate.experiment - r.rate.cpu) > 0.01);
      if (bad.length > 0) {
        process.stderr.write(`FGSM differs between ${report.backend} and cpu beyond rounding on ${bad.map((r) => r.network).join(', ')}: inspect before publishing\n`);
        process.exitCode = 1;
      } else {
        process.stdout.write('agreement: the same zero-gradient counts, and rates within 1 point, on every network\n');
      }
      setTimeout(() => process.exit(), 2000).unref();
    });
}
