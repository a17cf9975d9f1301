import type { Command } from 'commander';

/**
 * `reprobook diff A B`: two runs side by side, per result name (both values and the change)
 * and per claim (both verdicts). A and B: results.json files, profile names, or PROFILE~N
 * for the N-th most recent build of a profile. With one argument, PROFILE: its previous
 * build (PROFILE~2) against its results now.
 */
export function register(program: Command): void {
  program
    .command('diff')
    .description('compare two runs: every result value and every claim verdict (results.json files, profiles, or PROFILE~N saved builds)')
    .argument('<a>', 'the earlier run: a results.json, a profile name, or PROFILE~N (N-th most recent build)')
    .argument('[b]', 'the later run (default, when A is a profile: that profile\'s results now, against its previous build)')
    .option('--root <dir>', 'project root (holds .reprobook/ and report/claims.yaml)', '.')
    .option('--json', 'print the comparison as JSON')
    .option('--all', 'list unchanged results and verdicts too')
    .option('--fail-on-change', 'exit 1 when a claim verdict differs (for CI)')
    .action(async (a: string, b: string | undefined, opts: { root: string; json?: boolean; all?: boolean; failOnChange?: boolean }) => {
      const { resolve } = await import('node:path');
      const { loadRun } = await import('../../diff/load.ts');
      const { diffRuns } = await import('../../diff/diff.ts');
      const { renderDiffJson, renderDiffText } = await import('../../diff/render.ts');
      const { loadProjectClaims } = await import('../../results/claims.ts');
      const { UserError } = await import('../../util/errors.ts');
      const root = resolve(opts.root);
      let [argA, argB] = [a, b];
      if (argB === undefined) {
        if (/[/~]|\.json$/.test(a)) throw new UserError(`reprobook diff ${a}: one argument must be a profile name`, 'give two runs (A and B), or one profile to compare its previous build with its results now');
        [argA, argB] = [`${a}~2`, a];
      }
      const claims = await loadProjectClaims(root);
      const d = diffRuns(await loadRun(root, argA), await loadRun(root, argB!), claims);
      process.stdout.write(opts.json ? renderDiffJson(d) : renderDiffText(d, { all: !!opts.all }));
      if (opts.failOnChange && d.counts.verdictsChanged > 0) process.exitCode = 1;
    });
}
