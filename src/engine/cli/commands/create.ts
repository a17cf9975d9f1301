import type { Command } from 'commander';

/** `reprobook create DIR`: start a project of one's own from the engine's template (src/engine/create/). */
export function register(program: Command): void {
  program
    .command('create <dir>')
    .description('start a project of your own in a new folder: two notebooks, a report that embeds and cites them, a claim, a config, a README and a GitHub Pages workflow')
    .option('--force', 'add the template to a folder that is not empty (a file that exists is kept, never overwritten)')
    .option('--engine <spec>', 'the reprobook dependency written to package.json: a version range, file:PATH or a tarball (default: ^ this version)')
    .action(async (dir: string, opts: { force?: boolean; engine?: string }) => {
      const { relative, resolve } = await import('node:path');
      const { createProject } = await import('../../create/create.ts');
      const target = resolve(dir);
      const created = await createProject({ dir: target, ...(opts.force ? { force: true } : {}), ...(opts.engine ? { engineSpec: opts.engine } : {}) });
      const shown = relative(process.cwd(), target) || '.';
      const lines = [`created ${shown}/: ${created.written.length} file${created.written.length === 1 ? '' : 's'}`];
      for (const f of created.written) lines.push(`  ${f}`);
      if (created.kept.length > 0) lines.push(`kept as they were (not overwritten): ${created.kept.join(', ')}`);
      lines.push('', 'next:', `  cd ${shown}`, '  npm install && npm start   # run the notebooks, build _site/ (HTML + report.pdf)', '  npm test                   # the smoke profile, strict');
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
