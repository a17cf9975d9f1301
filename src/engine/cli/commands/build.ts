import type { Command } from 'commander';
import { repeatable, SANDBOX_FLAG, SANDBOX_HELP } from '../options.ts';
import { UserError } from '../../util/errors.ts';

/**
 * `reprobook build`: run the notebooks (unless --no-run), then render the site and print
 * the PDF. A missing browser never silently skips the PDF: the HTML is written, the command
 * says how to get Chromium and exits non-zero, unless --no-pdf asked for HTML only.
 */

interface BuildFlags {
  root: string;
  profile?: string;
  out?: string;
  pdf: boolean;
  run: boolean;
  strict?: boolean;
  force?: boolean;
  param: string[];
  paper: string;
  selfContained?: boolean;
  sandbox?: boolean;
}

export function register(program: Command): void {
  program
    .command('build')
    .description('run the notebooks, then render the report: a static site (index.html, notebooks/, results.json) and report.pdf')
    .option('--root <dir>', 'project root (holds notebooks/ and .reprobook/)', '.')
    .option('--profile <name>', 'parameter profile to run and report (e.g. smoke, quick, paper)')
    .option('--out <dir>', 'output folder (default: <root>/_site)')
    .option('--no-pdf', 'do not print report.pdf (no browser needed)')
    .option('--no-run', 'do not run the notebooks; render the executed notebooks already on disk')
    .option('--strict', 'fail on any missing result, citation or cross-reference instead of showing "not run"')
    .option('--force', 'run every notebook even when its cached outputs are up to date')
    .option('--param <key=value>', 'override one notebook parameter (repeatable)', repeatable, [] as string[])
    .option('--paper <size>', 'PDF page size: A4 or Letter', 'A4')
    .option('--self-contained', 'also write report.html: the report as one file, styles, fonts, figures and math inlined, no outside requests')
    .option(SANDBOX_FLAG, SANDBOX_HELP)
    .action(async (flags: BuildFlags) => {
      const { resolve, join } = await import('node:path');
      const root = resolve(flags.root);
      const out = flags.out ? resolve(flags.out) : join(root, '_site');
      if (flags.paper !== 'A4' && flags.paper !== 'Letter') throw new UserError(`--paper ${flags.paper}: unknown page size`, 'use --paper A4 or --paper Letter');
      const { parseOverrides } = await import('../../notebook/params.ts');
      const params = parseOverrides(flags.param);
      // Refuse a dangerous --out before running anything (a run can take hours).
      const { checkOutDir } = await import('../../report/site-output.ts');
      await checkOutDir(root, out, flags.out ?? out);
      // One build per root at a time: two writing one site (or one store) at once raced.
      const { acquireProjectLock } = await import('../../util/project-lock.ts');
      const release = await acquireProjectLock(root, {
        command: 'build',
        onWait: (h, path) => process.stderr.write(`reprobook build: waiting for another build of this project (pid ${h.pid} on ${h.host}, since ${h.startedAt}); if none is running, delete ${path}\n`),
      });
      try {
        await buildLocked(flags, root, out, params);
      } finally {
        await release();
      }
    });
}

export interface RenderStep {
  root: string;
  out: string;
  profile: string | null;
  params: Record<string, string>;
  run: boolean;
  force?: boolean;
  strict?: boolean;
  linkPdf: boolean;
  /** Keep this build's results in .reprobook/history/ and compare with the previous one (diff.html). */
  history: boolean;
  selfContained?: boolean;
  /** Run the cells under --sandbox. */
  sandbox?: boolean;
  log: (line: string) => void;
  /** Stops the run (see runProject); the caller then owns Ctrl-C (preview), else this step handles it (run-control.ts). */
  signal?: AbortSignal;
}

/**
 * One build step, shared by `build` and `preview`: run the notebooks through the cache (a
 * failing notebook does not stop it: its page shows the error) and render the site. A user
 * mistake (unknown profile or parameter, a bad embed) throws.
 */
export async function runAndRender(step: RenderStep): Promise<{ site: import('../../report/site.ts').SiteBuild; runError?: Error; executed: import('../../core/records.ts').ExecutedNotebook[] }> {
  const { root, out, profile, log } = step;
  let runError: Error | undefined;
  let executed: import('../../core/records.ts').ExecutedNotebook[] = [];
  if (step.run) {
    const { runProject, formatCellError, throwIfInterrupted } = await import('../../notebook/project.ts');
    const { withRunControl } = await import('../run-control.ts');
    log(`reprobook build: running notebooks (profile ${profile ?? 'default'})`);
    const ran = await withRunControl(log, (control) => runProject({ root, profile, overrides: step.params, force: !!step.force, ...(step.sandbox ? { sandbox: {} } : {}), log, ...control }), step.signal);
    throwIfInterrupted(ran);
    executed = ran.outcomes.map((o) => o.executed);
    const failed = ran.outcomes.filter((o) => o.status === 'failed');
    if (failed.length > 0) {
      runError = new Error(failed.map((o) => formatCellError(o.executed.notebook, o.error!).split('\n')[0]).join('; '));
      log(`reprobook build: the notebooks did not all run: ${runError.message}`);
    }
  }
  const { buildSite } = await import('../../report/site.ts');
  const { listSaved, saveBuild } = await import('../../diff/history.ts');
  const { loadRun } = await import('../../diff/load.ts');
  // The previous build of this profile, for the site's diff.html; then this one is kept too.
  // Unreadable, it costs the comparison (said so), never the build.
  const previous = step.history && (await listSaved(root, profile)).length > 0
    ? await loadRun(root, `${profile ?? 'default'}~1`).catch((err: Error) => {
      log(`reprobook build: ${err.message}; diff.html shows no comparison this time`);
      return undefined;
    })
    : undefined;
  // The build adds diff.html itself: the report knows no diff (results -> report, results -> diff).
  const { diffRuns } = await import('../../diff/diff.ts');
  const { renderDiffPage } = await import('../../diff/site-page.ts');
  const { pageHtml } = await import('../../report/render-site.ts');
  const extra = previous
    ? (s: import('../../report/render-site.ts').RenderedSite) => new Map([['diff.html', {
      content: pageHtml({
        title: 'Changes since the previous build', rootPrefix: '', profile: s.profile, notebooks: s.notebookPages.map((p) => p.replace(/^notebooks\/|\.html$/g, '')),
        linkPdf: step.linkPdf, linkDiff: true, bodyClass: 'diff', projectStyle: s.files.has('assets/project.css'),
        body: renderDiffPage(diffRuns(previous, { label: 'this build', file: s.results }, s.claims.map((c) => c.spec))),
      }),
    }]])
    : undefined;
  const site = await buildSite({ root, profile, out, ...(step.strict ? { strict: true } : {}), linkPdf: step.linkPdf, ...(step.selfContained ? { selfContained: true } : {}), ...(extra ? { extra } : {}) });
  if (step.history) await saveBuild(root, site.results, site.builtAt);
  return { site, executed, ...(runError ? { runError } : {}) };
}

async function buildLocked(flags: BuildFlags, root: string, out: string, params: Record<string, string>): Promise<void> {
  const { join, relative } = await import('node:path');
  const { commandProfile } = await import('../../notebook/config.ts');
  // Resolved once: the run and the report are of the same profile (the runner validates it).
  const profile = await commandProfile(root, flags.profile);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const { site, runError } = await runAndRender({
    root, out, profile, params, run: flags.run, force: !!flags.force, strict: !!flags.strict, linkPdf: flags.pdf, history: true, log,
    ...(flags.selfContained ? { selfContained: true } : {}),
    ...(flags.sandbox ? { sandbox: true } : {}),
  });
  const { formatWarning } = await import('../../report/warnings.ts');
  for (const w of site.warnings) process.stderr.write(`warning: ${formatWarning(w)}\n`);
  const rel = (p: string) => {
    const r = relative(process.cwd(), p);
    return r && !r.startsWith('..') ? r : p;
  };
  if (flags.selfContained) {
    const { selfContainedPage } = await import('../../report/self-contained.ts');
    const { writeFile } = await import('node:fs/promises');
    const file = join(out, 'report.html');
    const html = await selfContainedPage(out, site.indexPath);
    await writeFile(file, html);
    process.stdout.write(`one-file report: ${rel(file)} (${Math.round(Buffer.byteLength(html) / 1024)} KiB)\n`);
  }
  process.stdout.write(`site: ${rel(site.indexPath)} (profile ${site.profile ?? 'default'}, ${site.notebookPages.length} notebook page${site.notebookPages.length === 1 ? '' : 's'}, ${rel(site.resultsPath)})\n`);

  if (flags.pdf) {
    const { findChrome, printPdf, NO_BROWSER_HINT } = await import('../../report/pdf.ts');
    const chrome = await findChrome();
    if (!chrome) {
      throw new UserError(`report.pdf was NOT printed: no Chromium found (the HTML site in ${rel(out)} is complete)`, NO_BROWSER_HINT);
    }
    const pdf = await printPdf(site.indexPath, join(out, 'report.pdf'), {
      format: flags.paper as 'A4' | 'Letter',
      headerText: site.pdfHeader,
    });
    process.stdout.write(`pdf: ${rel(pdf.path)} (${Math.round(pdf.bytes / 1024)} KiB, printed by ${chrome.path})\n`);
  }
  if (runError) {
    throw new UserError(`the site was built, but running the notebooks failed: ${runError.message}`, 'open the failing notebook page in the site for the error, fix the cell, and build again');
  }
}
