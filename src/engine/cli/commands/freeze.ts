import type { Command } from 'commander';

/**
 * `reprobook freeze --profile NAME`: commit a profile's run into the repository
 * (report/frozen/NAME/, src/engine/freeze/record.ts) so that a build anywhere cites it, and
 * its staleness shows when the code moves on.
 */
export function register(program: Command): void {
  program
    .command('freeze')
    .description("write a profile's last run (its published values, provenance and cell outputs, no artifacts) into report/frozen/PROFILE/ for every build to cite")
    .requiredOption('--profile <name>', 'the profile whose run to freeze (build it first)')
    .option('--root <dir>', 'project root', '.')
    .action(async (opts: { profile: string; root: string }) => {
      const { resolve, relative } = await import('node:path');
      const { freezeProfile } = await import('../../freeze/freeze.ts');
      const root = resolve(opts.root);
      const { dir, record } = await freezeProfile(root, opts.profile);
      const values = Object.keys(record.results.results).length;
      process.stdout.write(`froze profile ${record.profile}: ${values} values from ${record.notebooks.length} notebooks at ${record.commit ?? 'no commit'} into ${relative(root, dir) || dir}\n`
        + 'commit that folder; a build of another profile cites its values as {{result PROFILE:NAME}}\n');
    });
}
