import { readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.ts';
import { loadReport } from './load.ts';
import { renderSite, type RenderedSite } from './render-site.ts';
import { checkOutDir, writeOutput, type OutputSource } from './site-output.ts';
import { formatWarning, type ReportWarning } from './warnings.ts';

/**
 * A build of the report as three steps, as Observable Framework's build(config, effects):
 * `loadReport` reads everything (load.ts), `renderSite` turns it into path → content without
 * touching the disk (render-site.ts), and the effects write it. A strict build fails on its
 * warnings before anything is written.
 */

const here = dirname(fileURLToPath(import.meta.url));

export interface SiteOptions {
  root: string;
  /** null or undefined: the runner's unnamed default (stored under "default"). */
  profile?: string | null;
  out: string;
  /** Fail on any warning (missing result, unknown citation, a stale value…) instead of showing it. */
  strict?: boolean;
  /** Link report.pdf from the pages (the caller prints it after the HTML). */
  linkPdf?: boolean;
  /** Fixed for reproducible output in tests. */
  builtAt?: string;
  /** The caller writes report.html, the one-file report, after the site (listed in the manifest). */
  selfContained?: boolean;
  /** More files the caller adds to the site (e.g. diff.html), written and listed with the others. */
  extra?: (site: RenderedSite) => Map<string, OutputSource>;
  /** The environment the notebooks run with (for the staleness of cited runs); default this process's. */
  env?: Record<string, string | undefined>;
}

/** What a build writes, through `writeSite` (default: write-only-what-the-manifest-lists, site-output.ts). */
export interface SiteEffects {
  writeSite(out: string, files: Map<string, OutputSource>, alsoListed: string[], warn: (message: string) => void): Promise<void>;
}

export const defaultSiteEffects: SiteEffects = { writeSite: writeOutput };

/** What a build wrote and found: the rendered site's facts, with the paths written. */
export interface SiteBuild extends Omit<RenderedSite, 'files' | 'notebookPages'> {
  out: string;
  indexPath: string;
  resultsPath: string;
  /** The notebook pages of the build's run, as written. */
  notebookPages: string[];
  builtAt: string;
  /** The project files the build read (report, style, bibliography, claims, images), relative to the root. */
  inputs: string[];
}

/** reprobook's own assets: its style sheet, KaTeX's, the code theme. */
async function engineAssets() {
  const require = createRequire(import.meta.url);
  const katexDist = dirname(require.resolve('katex'));
  return {
    style: join(here, 'style.css'),
    katexCss: join(katexDist, 'katex.min.css'),
    katexFonts: (await readdir(join(katexDist, 'fonts'))).sort().map((name) => ({ name, path: join(katexDist, 'fonts', name) })),
    highlightCss: require.resolve('highlight.js/styles/github.css'),
  };
}

export async function buildSite(opts: SiteOptions, effects: SiteEffects = defaultSiteEffects): Promise<SiteBuild> {
  const root = resolve(opts.root);
  const out = resolve(opts.out);
  await checkOutDir(root, out);
  const inputs = await loadReport(root, opts.profile ?? null, opts.env ? { env: opts.env } : {});
  const builtAt = opts.builtAt ?? new Date().toISOString();
  const extraWanted = opts.extra !== undefined;
  const site = renderSite(inputs, { builtAt, linkPdf: !!opts.linkPdf, linkDiff: extraWanted, assets: await engineAssets() });
  const extra = opts.extra?.(site) ?? new Map();
  for (const [path, file] of extra) site.files.set(path, file);
  if (opts.strict && site.warnings.length) {
    throw new UserError(`the report has ${site.warnings.length} problem(s) and --strict is set:\n  - ${site.warnings.map(formatWarning).join('\n  - ')}`, 'run the missing notebooks (or re-freeze a stale profile), fix the names in the report, or build without --strict to show them as "not run"');
  }
  const warnings = [...site.warnings];
  await effects.writeSite(out, site.files, [...(opts.linkPdf ? ['report.pdf'] : []), ...(opts.selfContained ? ['report.html'] : [])], (message) => warnings.push({ rule: 'site-output', message }));
  return {
    out, indexPath: join(out, 'index.html'), resultsPath: join(out, 'results.json'),
    notebookPages: site.notebookPages.map((p) => join(out, p)),
    warnings, profile: site.profile, provenance: site.provenance, claims: site.claims, title: site.title, pdfHeader: site.pdfHeader,
    results: site.results, builtAt, inputs: inputs.read,
  };
}

export { pageHtml, sectionize, CONTENT_SECURITY_POLICY } from './render-site.ts';
