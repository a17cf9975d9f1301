import type { Command } from 'commander';
import { repeatable } from '../../engine/cli/options.ts';

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
    .option('--param <name=value>', 'override one parameter (repeatable)', repeatable, [] as string[])
    .option('--shard <i/n>', 'run only the i-th of n deterministic shares of the grid (1-based); under Slurm job arrays and Kubernetes Indexed Jobs it is read from the environment')
    .option('--shard-count <n>', 'the number of shards when the scheduler gives only the index (Kubernetes: JOB_COMPLETION_INDEX)')
    .option('--workers <n>', 'worker threads (default: the workers parameter; 0 = one per core)')
    .action(async (opts: { root: string; profile?: string; param: string[]; shard?: string; shardCount?: string; workers?: string }) => {
      const { resolve, join } = await import('node:path');
      const { profileParams } = await import('../reproduction/profile.ts');
      const { runExperimentGrid } = await import('../reproduction/run.ts');
      const { resolveWorkerCount } = await import('../../engine/grid/index.ts');
      const { resolveShard } = await import('../../engine/grid/cluster-shard.ts');
      const { createProgress, terminalLines } = await import('../../engine/util/terminal-progress.ts');
      const root = resolve(opts.root);
      const { profile, params } = await profileParams(root, opts.profile, opts.param);
      if (opts.workers !== undefined) params.workers = resolveWorkerCount(opts.workers);
      // The scheduler's variables are read here, at the edge, and passed in.
      const resolved = resolveShard({ flag: opts.shard, count: opts.shardCount, env: process.env });
      const shard = resolved?.shard;
      const log = (line: string) => process.stderr.write(`${line}\n`);
      log(`profile: ${profile ?? 'default'}${resolved ? `, shard ${resolved.shard.index}/${resolved.shard.count} (${resolved.source})` : ''}`);
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
