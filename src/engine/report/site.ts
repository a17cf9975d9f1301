import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutedNotebook, ResultsFile } from '../notebook/types.ts';
import { gitState } from '../notebook/environment.ts';
import {
  buildResults, listNotebooks, loadExecuted, loadResults, profileDir as storeProfileDir, resultsPath as storeResultsPath, type UnreadableRecord,
} from '../store/executed.ts';
import { UserError } from '../util/errors.ts';
import { escapeHtml } from './html.ts';
import { formatValue } from '../results/values.ts';
import {
  createContext, createMarkdown, renderReferences, resultLink, scanNumbering, splitFrontMatter,
  notRunMarker, type ReferenceEntry, type RenderContext,
} from './markdown.ts';
import { renderEmbed, type EmbedSite } from './embed.ts';
import { checkStyle, loadBibliography, type Bibliography } from './bibliography.ts';
import { diffRuns } from '../diff/diff.ts';
import { renderDiffPage } from '../diff/site-page.ts';
import { judgeClaims, loadClaims, type ClaimRow } from '../results/claims.ts';
import { collectProvenance, renderProvenance, type Provenance } from './provenance.ts';
import { renderNotebookPage } from './notebook-page.ts';
import { checkOutDir, toManifestPath, writeOutput, type OutputSource } from './site-output.ts';
import { ProjectFiles } from './project-files.ts';
import { projectTitle, renderProjectIndex } from './project-index.ts';

/**
 * Writes the static site: index.html (the paper mirrored from report/paper.md, with its
 * figures, the claims table and provenance; without one, an index of the project's notebooks
 * and results), one page per executed notebook, results.json
 * and the assets (our CSS, KaTeX's CSS and fonts, the code-highlighting theme). Everything
 * is rendered in memory first, so that a strict build fails before writing anything.
 */

const here = dirname(fileURLToPath(import.meta.url));
/** reprobook's own page style; a project's report/style.css is linked after it. */
const ENGINE_STYLE = join(here, 'style.css');

export interface SiteOptions {
  root: string;
  /** null or undefined: the runner's unnamed default (stored under "default"). */
  profile?: string | null;
  out: string;
  /** Fail on any warning (missing result, unknown citation…) instead of showing "not run". */
  strict?: boolean;
  /** Link report.pdf from the pages (the caller prints it after the HTML). */
  linkPdf?: boolean;
  /** Fixed for reproducible output in tests. */
  builtAt?: string;
  /** The caller writes report.html, the one-file report, after the site (listed in the manifest). */
  selfContained?: boolean;
  /** An earlier run of this profile to compare with: the site gets diff.html (engine/diff). */
  previous?: { label: string; file: ResultsFile };
}

export interface SiteBuild {
  out: string;
  indexPath: string;
  resultsPath: string;
  notebookPages: string[];
  warnings: string[];
  profile: string | null;
  provenance: Provenance;
  claims: ClaimRow[];
  /** The report's title: its paper's, or the project's name when it has no report/paper.md. */
  title: string;
  /** The running header of report.pdf. */
  pdfHeader: string;
  /** The results the site reports (results.json). */
  results: ResultsFile;
  builtAt: string;
  /** The project files the build read (report, style, bibliography, claims, images), relative to the root. */
  inputs: string[];
}

export interface ReportInputs {
  results: ResultsFile;
  executed: ExecutedNotebook[];
  /** True when results.json was assembled here from executed notebooks (no results file found). */
  synthesised: boolean;
  /** Why executed records were left out (unreadable files). */
  skipped: string[];
}

export const profileDir = (profile: string | null | undefined) => storeProfileDir(profile ?? null);

/**
 * The inputs of a build: the latest run of every current notebook (a failed one when the last
 * attempt failed, so that the report shows the error) and the results file of one profile,
 * read through the store (store/executed.ts), the one reader of what the runner wrote.
 */
export async function loadReportInputs(root: string, profile: string | null | undefined): Promise<ReportInputs> {
  const p = profile ?? null;
  const unreadable: UnreadableRecord[] = [];
  // An unreadable record leaves its notebook out of this report (with a warning) instead of
  // failing the build; running the notebook rewrites it.
  const executed = await loadExecuted(root, p, unreadable);
  const skipped = unreadable.map((u) => `${u.path} is unreadable (${u.reason}); its notebook is left out of the report: run it again (\`reprobook run\`) to rewrite it`);
  const results = await loadResults(root, p);
  if (results) return { results, executed, synthesised: false, skipped };
  if (executed.length === 0) {
    throw new UserError(
      `nothing to build: no executed notebooks in ${join(root, '.reprobook', 'executed', profileDir(p))} and no results file ${storeResultsPath(root, p)}`,
      `run the notebooks first: \`reprobook run --root ${root}${p ? ` --profile ${p}` : ''}\` (or drop --no-run)`,
    );
  }
  return { results: await buildResults(root, p), executed, synthesised: true, skipped };
}

// ---------- page chrome ----------

export interface PageOptions {
  title: string;
  rootPrefix: string;
  profile: string | null;
  body: string;
  notebooks: string[];
  linkPdf: boolean;
  bodyClass: string;
  /** The project has a report/style.css of its own (assets/project.css, after reprobook's). */
  projectStyle?: boolean;
  /** The site has diff.html (changes since the previous build). */
  linkDiff?: boolean;
}

/**
 * No script runs on these pages: the CSP forbids it (defence in depth behind escaping),
 * and every asset is local and linked relatively, so the site works from file://. Images
 * come from the site or are inline (cell outputs are data: PNGs): a Markdown image in prose
 * must not fetch from the network (a tracking pixel, a leak of who reads the report).
 */
export const CONTENT_SECURITY_POLICY = "script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; img-src 'self' data:";

export function pageHtml(o: PageOptions): string {
  const p = o.rootPrefix;
  const nbLinks = o.notebooks.map((n) => `<a href="${p}notebooks/${encodeURIComponent(n)}.html">${escapeHtml(n)}</a>`).join(' ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CONTENT_SECURITY_POLICY}">
<meta name="generator" content="reprobook">
<title>${escapeHtml(o.title)}</title>
<link rel="stylesheet" href="${p}assets/katex/katex.min.css">
<link rel="stylesheet" href="${p}assets/hljs.css">
<link rel="stylesheet" href="${p}assets/report.css">${o.projectStyle ? `\n<link rel="stylesheet" href="${p}assets/project.css">` : ''}
</head>
<body class="${o.bodyClass}">
<nav class="site-bar" aria-label="site">
<a class="home" href="${p}index.html">reprobook</a>
<span class="profile-badge">profile <strong>${escapeHtml(o.profile ?? 'default')}</strong></span>
<span class="nav-notebooks">Notebooks: ${nbLinks || '<em>none</em>'}</span>
<a href="${p}results.json">results.json</a>${o.linkPdf ? ` <a href="${p}report.pdf">PDF</a>` : ''}
</nav>
<main>
${o.body}
</main>
<footer class="site-footer">Built by reprobook from executed notebooks (profile ${escapeHtml(o.profile ?? 'default')}). Open <a href="${p}results.json">results.json</a> for every published value${o.linkDiff ? `, or <a href="${p}diff.html">the changes since the previous build</a>` : ''}.</footer>
</body>
</html>
`;
}

/** Wraps each `<h2>` and what follows it, up to the next `<h2>`, in a `<section>`. */
export function sectionize(html: string): string {
  const parts = html.split(/(?=<h2[\s>])/);
  return parts.map((part) => {
    const m = /^<h2([^>]*)>/.exec(part);
    if (!m) return part;
    const cls = /class="([^"]*)"/.exec(m[1]!)?.[1];
    return `<section class="paper-section${cls ? ` ${cls}` : ''}">\n${part}</section>\n`;
  }).join('');
}

// ---------- the claims table ----------

const VERDICT_CLASS: Record<string, string> = {
  reproduced: 'verdict-yes', partly: 'verdict-partly', 'not reproduced': 'verdict-no', 'not run': 'verdict-notrun',
};

function claimsTable(ctx: RenderContext, rows: ClaimRow[], inline: (md: string) => string): string {
  const body = rows.map((r) => {
    if (r.oursText === undefined) ctx.warnings.push(`claim ${r.spec.id}: no result ${r.spec.measure.kind === 'sweep' ? `matches ${r.spec.measure.pattern}` : `among ${(r.spec.results ?? []).join(', ')}`}: shown as "not run"`);
    const ours = r.oursText === undefined
      ? notRunMarker(`no result ${r.spec.measure.kind === 'sweep' ? `matches ${r.spec.measure.pattern}` : `among ${(r.spec.results ?? []).join(', ')}`}`)
      : r.resultName ? resultLink(ctx, r.resultName, r.oursText) : escapeHtml(r.oursText);
    const note = (r.spec.note ? `<div class="claim-note">${inline(r.spec.note)}</div>` : '') +
      (r.networkCaveat ? `<div class="claim-note claim-caveat">${escapeHtml(r.networkCaveat)}</div>` : '');
    return `<tr id="claim-${escapeHtml(r.spec.id)}"><td>${inline(r.spec.claim)}<div class="claim-source">${inline(r.spec.source)}</div>${note}</td><td class="num">${escapeHtml(r.spec.paperText)}</td>` +
      `<td class="num">${ours}</td><td class="num diff">${escapeHtml(r.differenceText)}</td>` +
      `<td><span class="verdict ${VERDICT_CLASS[r.verdict]}">${escapeHtml(r.verdict)}</span><div class="tolerance">${escapeHtml(r.toleranceText)}</div></td></tr>`;
  });
  return `<div class="table-scroll"><table class="data claims">\n<thead><tr><th>Claim (where in the paper)</th><th>Paper</th><th>Ours</th><th>Difference</th><th>Verdict (tolerance)</th></tr></thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table></div>`;
}

// ---------- the build ----------


function assetPath(spec: string): string {
  return createRequire(import.meta.url).resolve(spec);
}

/**
 * The report's bibliography: the front matter's `bibliography:` (a path relative to report/),
 * else report/references.bib, else report/references.json; `citation-style:` numbered
 * (default) or author-year.
 */
async function loadReportBibliography(files: ProjectFiles, reportName: string, src: string): Promise<Bibliography | undefined> {
  const root = files.root;
  const { data } = splitFrontMatter(src);
  const style = checkStyle(data['citation-style'], reportName);
  const named = data.bibliography;
  if (named !== undefined) {
    const path = typeof named === 'string' ? join(root, 'report', named) : '';
    if (!path || !existsSync(path)) throw new UserError(`${reportName}: bibliography ${JSON.stringify(named)} does not exist in report/`, 'name a .bib or CSL-JSON .json file in report/, or drop the key to use report/references.bib');
    const line = src.split('\n').findIndex((l) => /^bibliography\s*:/.test(l)) + 1;
    return loadBibliography(files.inside(path, `${reportName}:${line}`), style);
  }
  for (const f of ['references.bib', 'references.json']) {
    if (existsSync(join(root, 'report', f))) return loadBibliography(files.inside(join(root, 'report', f), `report/${f}`), style);
  }
  if (existsSync(join(root, 'report', 'references.yaml'))) {
    throw new UserError('report/references.yaml is no longer read: the bibliography is BibTeX or CSL-JSON', 'convert it to report/references.bib (one @type{key, …} entry per reference, in the same order)');
  }
  return undefined;
}

export async function buildSite(opts: SiteOptions): Promise<SiteBuild> {
  const root = resolve(opts.root);
  const out = resolve(opts.out);
  await checkOutDir(root, out);
  const inputs = await loadReportInputs(root, opts.profile);
  const { results: resultsFile, executed } = inputs;
  const profile = resultsFile.profile ?? opts.profile ?? null;
  const warnings: string[] = [];
  warnings.push(...inputs.skipped);
  if (inputs.synthesised) warnings.push(`no results file for profile "${profileDir(opts.profile)}": results.json was assembled from the executed notebooks`);
  for (const nb of executed) if (nb.status === 'error') warnings.push(`notebook ${nb.notebook.name} failed in this run; its page shows the error`);

  // The project's own report/, or (without report/paper.md) an index of its own notebooks:
  // never this repository's paper, references or claims. Each file is the project's own, not
  // a link to one elsewhere (project-files.ts).
  const projectFiles = new ProjectFiles(root);
  const own = (name: string) => (existsSync(join(root, 'report', name)) ? projectFiles.inside(join(root, 'report', name), `report/${name}`) : null);
  // The report's entry is report/index.md (as a site's), else report/paper.md.
  const paperFile = own('index.md') ?? own('paper.md');
  const hasProjectStyle = own('style.css') !== null;
  const paperSrc = paperFile ? await readFile(paperFile, 'utf8') : '';
  const reportName = paperFile ? toManifestPath(projectFiles.realRoot, paperFile) : 'report';
  const bibliography = paperFile ? await loadReportBibliography(projectFiles, reportName, paperSrc) : undefined;
  const references = bibliography?.entries ?? [];
  const paperRefCount = bibliography?.extraFrom ?? 0;
  const claimsFile = paperFile ? own('claims.yaml') : null;
  const claimSpecs = claimsFile ? await loadClaims(claimsFile) : [];
  const { data: front, body: paperBody } = splitFrontMatter(paperSrc);
  const results = resultsFile.results;
  const claims = judgeClaims(claimSpecs, results);
  const git = gitState(root) ?? {};
  const builtAt = opts.builtAt ?? new Date().toISOString();
  const provenance = collectProvenance(resultsFile, executed, { ...git, builtAt });
  const notebookNames = executed.map((e) => e.notebook.name);

  // Numbers as prose prints them (10,000 test samples), lists comma-separated, the rest verbatim.
  const paramText = (v: unknown): string => (typeof v === 'number' || Array.isArray(v) ? formatValue(v, 'number') : String(v));
  const meta: Record<string, string> = {
    profile: profile ?? 'default',
    // `{{meta verdict.ID}}`: the claims table's verdict, so prose never asserts a finding by hand.
    ...Object.fromEntries(claims.map((c) => [`verdict.${c.spec.id}`, c.verdict])),
    // `{{meta param.NAME}}`: a parameter value when every notebook that declares it used the same one.
    ...Object.fromEntries(provenance.parameters
      .filter((r) => provenance.parameters.filter((o) => o.name === r.name).length === 1)
      .map((r) => [`param.${r.name}`, paramText(r.value)])),
  };

  // ---- index.html ----
  // Directive lines count from the Markdown body; messages name lines of the file.
  const bodyOffset = paperSrc.slice(0, paperSrc.length - paperBody.length).split('\n').length - 1;
  const localFile = projectFiles.markdownImage.bind(projectFiles);
  const ctx = createContext({
    results, sources: resultsFile.sources, references, numbering: scanNumbering(paperBody), meta, rootPrefix: '', targetPage: '', warnings,
    source: { file: reportName, line: bodyOffset + 1 }, localFile,
  });
  const md = createMarkdown(ctx);
  const inline = (s: string) => md.renderInline(s);
  const tableBlock = (id: string, table: string, caption: string) => {
    const n = ctx.numbering.get(id);
    const label = n ? `<span class="figure-label">${escapeHtml(n.label)}:</span> ` : '';
    return `<figure class="table-figure" id="${escapeHtml(id)}">\n<figcaption>${label}${caption}</figcaption>\n${table}\n</figure>`;
  };
  const allNotebooks = (await listNotebooks(root)).map((n) => n.name);
  const placed = new Set<string>();
  const embedding: EmbedSite['embedding'] = [];
  ctx.directive = (name, args, line) => {
    const id = args[0] ?? '';
    const where = `${reportName}:${line + bodyOffset}`;
    if (name === 'embed') return renderEmbed(id, { file: reportName, line: line + bodyOffset, executed, notebooks: allNotebooks, ctx, inline, placed, embedding });
    if (name === 'provenance') return `<div class="provenance">${renderProvenance(provenance, '')}</div>`;
    if (name === 'references') {
      if (!bibliography) throw new UserError(`${where}: {{references}} but the report has no bibliography`, 'add report/references.bib (BibTeX) or report/references.json (CSL-JSON), or name one with bibliography: in the front matter');
      const paperRefs = references.slice(0, paperRefCount);
      const extra = references.slice(paperRefCount);
      return renderReferences(paperRefs) + (extra.length
        ? `\n<p class="references-extra-title">Cited only by this reproduction:</p>\n${renderReferences(extra, paperRefCount)}`
        : '');
    }
    if (name === 'claims') {
      if (!/^tbl-[\w-]+$/.test(id)) throw new UserError(`${where}: {{claims ${id}}} needs a table label`, 'write {{claims tbl-claims}} (any label starting with tbl-), which @tbl-claims can then reference');
      return tableBlock(id, claimsTable(ctx, claims, inline),
        `The paper's quantitative claims next to this reproduction's values (profile <strong>${escapeHtml(profile ?? 'default')}</strong>); the tolerance behind each verdict is stated in its row.`);
    }
    // {{figure …}} and {{table …}} drew a fixed set of figures; any cell's output is now placed by reference.
    throw new UserError(`${where}: {{${name} ${args.join(' ')}}} is no longer a directive`, `place a labelled notebook cell's output with {{embed NOTEBOOK#${id || 'LABEL'}}}, and the claims table with {{claims tbl-claims}}`);
  };
  const warnedBefore = warnings.length;
  const paperHtml = sectionize(md.render(paperBody));
  // An unknown citation is named with the report line that cites it.
  const srcLines = paperSrc.split('\n');
  for (let i = warnedBefore; i < warnings.length; i++) {
    const key = /^citation \[@([^\]]+)\]/.exec(warnings[i]!)?.[1];
    const line = key === undefined ? -1 : srcLines.findIndex((l) => new RegExp(`@${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`).test(l));
    if (line >= 0) warnings[i] = `${reportName}:${line + 1}: ${warnings[i]}`;
  }
  const fm = (k: string) => (typeof front[k] === 'string' ? (front[k] as string) : '');
  const title = fm('title') || 'Report';
  const originalUrl = /^https?:\/\//.test(fm('originalUrl')) ? fm('originalUrl') : '';
  const titleBlock = `<header class="title-block">
<p class="kicker">A reproduction</p>
<h1>${escapeHtml(title)}</h1>
<p class="authors">${escapeHtml(fm('authors'))}</p>
<p class="affiliation">${escapeHtml(fm('affiliation'))}</p>
<p class="reproduced">Reproduced by <strong>${escapeHtml(fm('reproducedBy') || 'reprobook')}</strong> · profile <strong class="profile-name">${escapeHtml(profile ?? 'default')}</strong> · built ${escapeHtml(builtAt.slice(0, 10))}${fm('original') ? ` · original: ${originalUrl ? `<a href="${escapeHtml(originalUrl)}">${escapeHtml(fm('original'))}</a>` : escapeHtml(fm('original'))}` : ''}</p>
</header>`;
  const paperHtmlPage = pageHtml({ title: `${title} (reproduction)`, rootPrefix: '', profile, body: `<article class="paper">\n${titleBlock}\n${paperHtml}</article>`, notebooks: notebookNames, linkPdf: !!opts.linkPdf, projectStyle: hasProjectStyle, linkDiff: !!opts.previous, bodyClass: 'report' });
  // Without report/paper.md (the paper code above then renders nothing): an index of the
  // project's own notebooks and results, under the project's name.
  const reportTitle = paperFile ? title : projectTitle(root);
  const indexHtml = paperFile ? paperHtmlPage : pageHtml({
    title: reportTitle, rootPrefix: '', profile, notebooks: notebookNames, linkPdf: !!opts.linkPdf, projectStyle: hasProjectStyle, linkDiff: !!opts.previous, bodyClass: 'report',
    body: renderProjectIndex({ title: reportTitle, profile, builtAt, executed, provenance, ctx }),
  });
  const pdfHeader = paperFile
    ? `${title}, reproduced by reprobook (profile ${profile ?? 'default'})`
    : `${reportTitle}: notebooks built by reprobook (profile ${profile ?? 'default'})`;
  const usedInReport = new Set(ctx.usedResults);

  // ---- notebooks/NAME.html ----
  const pages = executed.map((nb) => {
    const nctx = createContext({ results, sources: resultsFile.sources, references, numbering: ctx.numbering, meta, rootPrefix: '../', targetPage: '../index.html', warnings: [], localFile });
    const page = renderNotebookPage(nb, nctx, usedInReport);
    for (const w of nctx.warnings) warnings.push(`notebook ${nb.notebook.name}: ${w}`);
    return { name: nb.notebook.name, html: pageHtml({ title: `${page.title} · notebook`, rootPrefix: '../', profile, body: `<article class="notebook">\n${page.body}\n</article>`, notebooks: notebookNames, linkPdf: !!opts.linkPdf, projectStyle: hasProjectStyle, linkDiff: !!opts.previous, bodyClass: 'notebook-page' }) };
  });

  if (opts.strict && warnings.length) {
    throw new UserError(`the report has ${warnings.length} problem(s) and --strict is set:\n  - ${warnings.join('\n  - ')}`, 'run the missing notebooks, fix the names in report/paper.md, or build without --strict to show them as "not run"');
  }

  // ---- write: only files the last build listed in its manifest are replaced (site-output.ts) ----
  const files = new Map<string, OutputSource>();
  files.set('index.html', { content: indexHtml });
  for (const p of pages) files.set(`notebooks/${p.name}.html`, { content: p.html });
  files.set('results.json', { content: `${JSON.stringify(resultsFile, null, 2)}\n` });
  if (opts.previous) {
    const d = diffRuns(opts.previous, { label: 'this build', file: resultsFile }, claimSpecs);
    files.set('diff.html', { content: pageHtml({ title: 'Changes since the previous build', rootPrefix: '', profile, body: renderDiffPage(d), notebooks: notebookNames, linkPdf: !!opts.linkPdf, projectStyle: hasProjectStyle, linkDiff: true, bodyClass: 'diff' }) });
  }
  const katexDist = dirname(assetPath('katex'));
  files.set('assets/katex/katex.min.css', { copyFrom: join(katexDist, 'katex.min.css') });
  for (const f of (await readdir(join(katexDist, 'fonts'))).sort()) files.set(`assets/katex/fonts/${f}`, { copyFrom: join(katexDist, 'fonts', f) });
  files.set('assets/hljs.css', { copyFrom: assetPath('highlight.js/styles/github.css') });
  files.set('assets/report.css', { copyFrom: ENGINE_STYLE });
  if (hasProjectStyle) files.set('assets/project.css', { content: projectFiles.checkStyle(await readFile(own('style.css')!, 'utf8'), 'report/style.css') });
  for (const [at, from] of projectFiles.copies) files.set(at, { copyFrom: from });
  await writeOutput(out, files, [...(opts.linkPdf ? ['report.pdf'] : []), ...(opts.selfContained ? ['report.html'] : [])], (w) => warnings.push(w));
  const indexPath = join(out, 'index.html');
  const notebookPages = pages.map((p) => join(out, 'notebooks', `${p.name}.html`));
  const resultsPath = join(out, 'results.json');
  const read = [...projectFiles.read].map((f) => toManifestPath(projectFiles.realRoot, f));
  return { out, indexPath, resultsPath, notebookPages, warnings, profile, provenance, claims, title: reportTitle, pdfHeader, results: resultsFile, builtAt, inputs: read };
}
