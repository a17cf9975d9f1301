import type { Command } from 'commander';

/**
 * `reprobook experiment`: run the reproduction's whole grid (every network and every
 * attack of a profile) without the notebooks, optionally one shard of it. n machines that
 * share `.reprobook/artifacts` (or a CI matrix that carries it) each run `--shard i/n`;
 * a final `reprobook build` then finds every unit stored and only assembles the report.
 */
export function register(program: Command): void {
  program
    .command('experiment')
    .description("run the reproduction's grid of networks and attacks (or one shard of it) into the artifact store")
    .option('--root <dir>', 'project root (holds reprobook.config.yaml and .reprobook/)', '.')
    .option('--profile <name>', 'parameter profile (default: the project default)')
    .option('--param <name=value>', 'override one parameter (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--shard <i/n>', 'run only the i-th of n deterministic shares of the grid (1-based)')
    .option('--workers <n>', 'worker threads (default: the workers parameter; 0 = one per core)')
    .action(async (opts: { root: string; profile?: string; param: string[]; shard?: string; workers?: string }) => {
      const { resolve, join } = await import('node:path');
      const { profileParams } = await import('../reproduction/profile.ts');
      const { runExperimentGrid } = await import('../reproduction/run.ts');
      const { parseShard, resolveWorkerCount } = await import('../../engine/grid/index.ts');
      const { createProgress, terminalLines } = await import('../../engine/util/progress.ts');
      const root = resolve(opts.root);
      const { profile, params } = await profileParams(root, opts.profile, opts.param);
      if (opts.workers !== undefined) params.workers = resolveWorkerCount(opts.workers);
      const shard = opts.shard ? parseShard(opts.shard) : undefined;
      const log = (line: string) => process.stderr.write(`${line}\n`);
      log(`profile: ${profile ?? 'default'}${shard ? `, shard ${shard.index}/${shard.count}` : ''}`);
      const { report: g } = await runExperimentGrid(params, {
        storeRoot: join(root, '.reprobook', 'artifacts'),
        select: { attacks: ['fgsm', 'fgsm-temperature', 'pgd', 'jsma'] },
        progress: createProgress(),
        log: terminalLines(),
        shard,
        allowIncomplete: shard !== undefined,
      });
      log(`grid: ${g.ran.length} ran, ${g.cached.length} cached, ${g.skipped.length} waiting for other shards, ${(g.wallMs / 1000).toFixed(1)}s`);
      if (shard) log('when every shard is done, run `reprobook build` (unsharded) to assemble the report from the store');
      setTimeout(() => process.exit(), 2000).unref();
    });
}
