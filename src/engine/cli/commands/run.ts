import type { Command } from 'commander';
import { repeatable, SANDBOX_FLAG, SANDBOX_HELP } from '../options.ts';

/**
 * `reprobook run [NOTEBOOK...]`: run notebooks (cached when nothing they depend on
 * changed), store their executed form and collect the published results.
 */
export function register(program: Command): void {
  program
    .command('run')
    .description('run notebooks (all, in file-name order, by default) and store their outputs and results')
    .argument('[notebooks...]', 'notebook names (e.g. 02-train) or paths')
    .option('--root <dir>', 'project root (the folder with notebooks/)', '.')
    .option('--profile <name>', 'named set of parameter values (project config or front matter)')
    .option('--param <name=value>', 'override one parameter (repeatable)', repeatable, [] as string[])
    .option('--force', 're-run even when the cache key is unchanged', false)
    .option('--ipynb', 'also export the executed notebooks as Jupyter .ipynb files', false)
    .option(SANDBOX_FLAG, SANDBOX_HELP)
    .action(async (notebooks: string[], opts: { root: string; profile?: string; param: string[]; force: boolean; ipynb: boolean; sandbox?: boolean }) => {
      const { runProject, throwIfInterrupted } = await import('../../notebook/project.ts');
      const { withRunControl } = await import('../run-control.ts');
      const { parseOverrides } = await import('../../notebook/params.ts');
      const { writeIpynb } = await import('../../notebook/ipynb.ts');
      const { resultsPath } = await import('../../store/executed.ts');
      const { relative, resolve } = await import('node:path');
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const root = resolve(opts.root);
      const result = await withRunControl(log, (control) => runProject({
        root,
        notebooks,
        profile: opts.profile,
        overrides: parseOverrides(opts.param),
        force: opts.force,
        ...(opts.sandbox ? { sandbox: {} } : {}),
        log,
        ...control,
      }));
      throwIfInterrupted(result);
      if (opts.ipynb) {
        for (const o of result.outcomes) log(`${o.name}: wrote ${relative(process.cwd(), await writeIpynb(root, o.executed))}`);
      }
      const counts = { ran: 0, cached: 0, failed: 0 };
      for (const o of result.outcomes) counts[o.status]++;
      log(`${counts.ran} ran, ${counts.cached} cached, ${counts.failed} failed; results: ${relative(process.cwd(), resultsPath(root, result.profile)) || '.'}`);
      if (!result.ok) process.exitCode = 1;
      // A cell may leave timers or sockets open; they must not keep a finished run alive.
      setTimeout(() => process.exit(), 2000).unref();
    });
}
