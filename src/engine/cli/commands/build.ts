import type { Command } from 'commander';
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
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseParams(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new UserError(`--param ${p}: expected key=value`, 'write it as --param epsilon=0.3');
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

type RunNotebooks = (opts: { root: string; profile?: string; params: Record<string, string>; force: boolean }) => Promise<unknown>;

/** The runner lives in another module (issue 4); until it exists, build renders what is on disk. */
async function loadRunner(): Promise<RunNotebooks | undefined> {
  const url = new URL('../../notebook/runner.ts', import.meta.url).href;
  try {
    const mod = (await import(url)) as { runNotebooks?: RunNotebooks };
    return typeof mod.runNotebooks === 'function' ? mod.runNotebooks : undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('runner.ts')) return undefined;
    throw err;
  }
}

async function defaultProfile(root: string): Promise<string | null> {
  try {
    const { loadProjectConfig } = (await import(new URL('../../notebook/config.ts', import.meta.url).href)) as {
      loadProjectConfig: (root: string) => Promise<{ defaultProfile: string | null }>;
    };
    return (await loadProjectConfig(root)).defaultProfile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return null;
    throw err;
  }
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
    .option('--param <key=value>', 'override one notebook parameter (repeatable)', collect, [])
    .option('--paper <size>', 'PDF page size: A4 or Letter', 'A4')
    .action(async (flags: BuildFlags) => {
      const { resolve, join } = await import('node:path');
      const root = resolve(flags.root);
      const out = flags.out ? resolve(flags.out) : join(root, '_site');
      if (flags.paper !== 'A4' && flags.paper !== 'Letter') throw new UserError(`--paper ${flags.paper}: unknown page size`, 'use --paper A4 or --paper Letter');
      const params = parseParams(flags.param);
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

async function buildLocked(flags: BuildFlags, root: string, out: string, params: Record<string, string>): Promise<void> {
  const { join, relative } = await import('node:path');
  // The profile is printed at the start of every run (issue 6), so resolve the default first.
  let profile: string | undefined = flags.profile ?? (await defaultProfile(root)) ?? undefined;
  let runError: Error | undefined;

  if (flags.run) {
    const runNotebooks = await loadRunner();
    if (!runNotebooks) {
      process.stderr.write('reprobook build: the notebook runner (src/engine/notebook/runner.ts) is not available; rendering the executed notebooks already on disk\n');
    } else {
      process.stderr.write(`reprobook build: running notebooks (profile ${profile ?? 'default'})\n`);
      try {
        const ran = (await runNotebooks({ root, ...(profile ? { profile } : {}), params, force: !!flags.force })) as { profile?: unknown } | undefined;
        if (!profile && ran && typeof ran.profile === 'string') profile = ran.profile;
      } catch (err) {
        // A user mistake (unknown profile or parameter) stops here; a failing notebook
        // does not: render what exists (failed cells show their errors), then fail.
        if (err instanceof UserError) throw err;
        runError = err as Error;
        process.stderr.write(`reprobook build: the notebooks did not all run: ${runError.message}\n`);
      }
    }
  }

  // Without --profile, report the profile the runner used: the project's defaultProfile.
  if (profile === undefined) profile = (await defaultProfile(root)) ?? undefined;
  const { buildSite } = await import('../../report/site.ts');
  const site = await buildSite({ root, profile: profile ?? null, out, ...(flags.strict ? { strict: true } : {}), linkPdf: flags.pdf });
  for (const w of site.warnings) process.stderr.write(`warning: ${w}\n`);
  const rel = (p: string) => {
    const r = relative(process.cwd(), p);
    return r && !r.startsWith('..') ? r : p;
  };
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
