import type { Command } from 'commander';
import { UserError } from '../../engine/util/errors.ts';

/**
 * `reprobook bench [--backend LIST] [--seconds N] [--suite LIST] [--compare-torch]`: JSON lines
 * (BenchRecord) on stdout, one per measurement. Not a test: figures depend on the machine.
 */
export function register(program: Command): void {
  program
    .command('bench')
    .description('measure training, input-gradient and attack throughput per backend; prints JSON lines')
    .option('--backend <list>', 'comma-separated backends (tensorflow-gpu, webgpu, tensorflow, wasm, cpu); unavailable ones print a skipped record', 'tensorflow-gpu,webgpu,tensorflow,wasm,cpu')
    .option('--seconds <n>', 'rough time per throughput measurement', '10')
    .option('--suite <list>', 'comma-separated suites to run (default: all)')
    .option('--compare-torch', 'also run the same network in PyTorch (1 and 2 threads) when python3 can import torch, and print the ratio')
    .action(async (opts: { backend: string; seconds: string; suite?: string; compareTorch?: boolean }) => {
      const { parseBackendName } = await import('../ml/backends/select.ts');
      const { SUITES } = await import('../bench/index.ts');
      const backends = opts.backend.split(',').map((b) => b.trim()).filter(Boolean);
      for (const b of backends) {
        if (parseBackendName(b) === 'auto') throw new UserError("--backend lists concrete backends, not 'auto'", 'e.g. --backend wasm,cpu');
      }
      const seconds = Number(opts.seconds);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new UserError(`--seconds must be a positive number, got '${opts.seconds}'`, 'e.g. --seconds 10');
      const wanted = opts.suite?.split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = wanted?.filter((w) => !SUITES.some((s) => s.name === w)) ?? [];
      if (unknown.length) throw new UserError(`unknown bench suite(s): ${unknown.join(', ')}`, `choose from: ${SUITES.map((s) => s.name).join(', ')}`);
      for (const suite of SUITES) {
        if (wanted && !wanted.includes(suite.name)) continue;
        const run = await suite.load();
        // Only the training suite knows how to run PyTorch; others ignore the flag.
        for await (const record of run({ backends, seconds, compareTorch: Boolean(opts.compareTorch) && suite.name === 'training' })) {
          process.stdout.write(`${JSON.stringify({ suite: suite.name, ...record })}\n`);
        }
      }
    });
}
