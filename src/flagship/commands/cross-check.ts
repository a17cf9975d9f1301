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
    .option('--float64-samples <n>', 'the first n test digits for the float64 judge of every network (about 0.3 s a digit and network; 0 skips it)', '200')
    .option('--out <file>', 'where to write the JSON report', 'report/checks/fgsm-cpu.json')
    .action(async (opts: { root: string; profile?: string; param: string[]; samples: string; float64Samples: string; out: string }) => {
      const { resolve, join, dirname } = await import('node:path');
      const { mkdir, writeFile } = await import('node:fs/promises');
      const { profileParams } = await import('../reproduction/profile.ts');
      const { crossCheckFgsm } = await import('../reproduction/cross-check.ts');
      const { createProgress } = await import('../../engine/util/terminal-progress.ts');
      const { UserError } = await import('../../engine/util/errors.ts');
      const samples = Number(opts.samples);
      if (!Number.isInteger(samples) || samples < 1 || samples > 10000) throw new UserError(`--samples ${opts.samples} is not a whole number in 1..10000`, 'use e.g. --samples 300');
      const float64Samples = Number(opts.float64Samples);
      if (!Number.isInteger(float64Samples) || float64Samples < 0 || float64Samples > 10000) throw new UserError(`--float64-samples ${opts.float64Samples} is not a whole number in 0..10000`, 'use e.g. --float64-samples 200, or 0 to skip the float64 judge');
      const root = resolve(opts.root);
      const { profile, params } = await profileParams(root, opts.profile, opts.param);
      const report = await crossCheckFgsm(params, { storeRoot: join(root, '.reprobook', 'artifacts'), samples, float64Samples, progress: createProgress() });
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
      // The float64 judge: exact FGSM must take float64's sign on every compared pixel of the
      // piece float32 chose; float32's disagreement is the measurement, not a failure.
      for (const { network, judgement: j } of report.float64) {
        const share = (a: { digits: number; digitsDiffering: number }) => `${a.digitsDiffering}/${a.digits} digits`;
        process.stdout.write(`${network.padEnd(20)} float64 judge on ${j.samples}: perturbation differs from float64's for float32 ${share(j.againstRescaled64.float32)}, exact ${share(j.againstRescaled64.exact)}; `
          + `success float64 ${pct(j.successRate.float64)}, exact ${pct(j.successRate.exact)}, float32 ${pct(j.successRate.float32)}; cancellation regime ${j.cancellation}, other linear piece ${j.otherPiece}\n`);
      }
      const wrong = report.float64.filter((r) => r.judgement.againstRescaled64.exact.digitsDiffering > 0 || r.judgement.againstFloat64.exact.digitsDiffering > 0 || r.judgement.rescalingAgainstFloat64.digitsDiffering > 0);
      if (wrong.length > 0) {
        process.stderr.write(`exact FGSM disagrees with float64 beyond negligible pixels on ${wrong.map((r) => r.network).join(', ')}: inspect before publishing\n`);
        process.exitCode = 1;
      } else if (report.float64.length > 0) {
        process.stdout.write('float64: exact FGSM takes float64\'s sign on every compared pixel of every network\n');
      }
      setTimeout(() => process.exit(), 2000).unref();
    });
}
