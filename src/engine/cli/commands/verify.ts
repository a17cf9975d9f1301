import type { Command } from 'commander';
import { SANDBOX_FLAG, SANDBOX_HELP } from '../options.ts';

/**
 * `reprobook verify CLAIM|RESULT` (or `--all`): for a reviewer who does not trust the cache.
 * The notebooks that published the value run again from scratch in a scratch copy with an
 * empty store; the recomputed value is compared with the published one under the claim's
 * tolerance, and both provenances are printed. Exit 1 when a verdict does not hold.
 */
export function register(program: Command): void {
  program
    .command('verify')
    .description("recompute, from scratch and in a separate store, what one published claim or result depends on, and compare")
    .argument('[claim-or-result]', 'a claim id from report/claims.yaml, or a result name from results.json')
    .option('--root <dir>', 'project root', '.')
    .option('--profile <name>', 'the run to check (default: the project default profile)')
    .option('--frozen', "check the profile's frozen run (report/frozen/PROFILE/) even when this machine has a run of its own (without one, the frozen run is checked anyway)")
    .option('--all', 'every claim that has a published value')
    .option('--tolerance <x>', 'for a bare result: the largest difference that still holds (default 0)')
    .option('--keep', 'keep the scratch project (its store and executed notebooks) for inspection')
    .option('--json', 'print the outcome as JSON')
    .option(SANDBOX_FLAG, SANDBOX_HELP)
    .action(async (what: string | undefined, opts: { root: string; profile?: string; frozen?: boolean; all?: boolean; tolerance?: string; keep?: boolean; json?: boolean; sandbox?: boolean }) => {
      const { resolve, join } = await import('node:path');
      const { UserError } = await import('../../util/errors.ts');
      const { commandProfile } = await import('../../notebook/config.ts');
      const { loadResults } = await import('../../store/executed.ts');
      const { loadProjectClaims } = await import('../../results/claims.ts');
      const { planVerify } = await import('../../verify/plan.ts');
      const { verify } = await import('../../verify/run.ts');
      const { renderVerify } = await import('../../verify/render.ts');
      const root = resolve(opts.root);
      const profile = await commandProfile(root, opts.profile);
      const tolerance = opts.tolerance === undefined ? undefined : Number(opts.tolerance);
      if (tolerance !== undefined && !(tolerance >= 0)) throw new UserError(`--tolerance ${opts.tolerance} is not a non-negative number`, 'e.g. --tolerance 0.005');
      const { loadFrozenRun } = await import('../../freeze/record.ts');
      const frozen = profile ? await loadFrozenRun(root, profile) : null;
      if (opts.frozen && !frozen) throw new UserError(`--frozen: profile ${profile ?? 'default'} has no frozen run in ${join(root, 'report', 'frozen')}`, 'freeze it first (reprobook freeze --profile NAME), or drop --frozen');
      const local = opts.frozen ? null : await loadResults(root, profile);
      const published = local ?? frozen?.record.results ?? null;
      if (!published) throw new UserError(`no published run of profile ${profile ?? 'default'} in ${join(root, '.reprobook')}, and no frozen one`, `build it first: reprobook build${profile ? ` --profile ${profile}` : ''}`);
      if (!local && frozen) process.stderr.write(`verify: checking the frozen run of ${profile} (frozen ${frozen.record.frozenAt} at ${frozen.record.commit ?? 'no commit'})\n`);
      const claims = await loadProjectClaims(root);
      const targets = planVerify(what, { ...(opts.all ? { all: true } : {}), ...(tolerance !== undefined ? { tolerance } : {}) }, published, claims);
      const { withRunControl } = await import('../run-control.ts');
      const log = (l: string) => process.stderr.write(`${l}\n`);
      const run = await withRunControl(log, (control) => verify(root, published, targets, { log, ...(opts.keep ? { keep: true } : {}), ...(opts.sandbox ? { sandbox: true } : {}), ...control }));
      process.stdout.write(opts.json ? `${JSON.stringify(run, null, 2)}\n` : renderVerify(run));
      if (run.outcomes.some((o) => !o.holds)) process.exitCode = 1;
      setTimeout(() => process.exit(), 2000).unref();
    });
}
