import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { ExecutedNotebook, ResultsFile } from '../notebook/types.ts';
import { profileDir as storeProfileDir, readExecutedRecord, type UnreadableRecord } from '../store/executed.ts';
import { UserError } from '../util/errors.ts';
import { escapeHtml, formatValue } from './format.ts';
import {
  createContext, createMarkdown, renderReferences, resultAnchor, scanNumbering, sourceHref, splitFrontMatter,
  notRunMarker, type ReferenceEntry, type RenderContext,
} from './markdown.ts';
import { figure1Data, figure1Svg, seriesFigureSvg, seriesLegendHtml, temperatureSeries, temperaturesRun } from './figures.ts';
import { judgeClaims, loadClaims, type ClaimRow } from './claims.ts';
import { collectProvenance, renderProvenance, type Provenance } from './provenance.ts';
import { renderNotebookPage } from './notebook-page.ts';
import { checkOutDir, writeOutput, type OutputSource } from './site-output.ts';
import { projectTitle, renderProjectIndex } from './project-index.ts';

/**
 * Writes the static site: index.html (the paper mirrored from report/paper.md, with its
 * figures, the claims table and provenance; without one, an index of the project's notebooks
 * and results), one page per executed notebook, results.json
 * and the assets (our CSS, KaTeX's CSS and fonts, the code-highlighting theme). Everything
 * is rendered in memory first, so that a strict build fails before writing anything.
 */

const here = dirname(fileURLToPath(import.meta.url));
/** This project's own report/ folder: its style.css styles a root that has none. */
export const BUNDLED_REPORT_DIR = resolve(here, '../../../report');

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

async function readJson<T>(path: string, what: string): Promise<T> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    throw new UserError(`cannot read ${what} ${path}: ${(err as Error).message}`, 're-run the notebooks (`reprobook run`) to rewrite it');
  }
}

/** The inputs of a build: executed notebooks and the results file of one profile. */
export async function loadReportInputs(root: string, profile: string | null | undefined): Promise<ReportInputs> {
  const dir = join(root, '.reprobook', 'executed', profileDir(profile));
  const executed: ExecutedNotebook[] = [];
  const failedDir = join(dir, 'failed');
  const jsonIn = async (d: string) => (existsSync(d) ? (await readdir(d)).filter((f) => f.endsWith('.json')) : []);
  // The runner keeps the last good run in <dir> and a later failed one in <dir>/failed:
  // the latest attempt is the one to show, so that the report shows the error.
  const failedFiles = new Set(await jsonIn(failedDir));
  const unreadable: UnreadableRecord[] = [];
  for (const f of [...new Set([...(await jsonIn(dir)), ...failedFiles])].sort()) {
    const path = failedFiles.has(f) ? join(failedDir, f) : join(dir, f);
    // An unreadable record leaves its notebook out of this report (with a warning) instead
    // of failing the build; running the notebook rewrites it.
    let nb = await readExecutedRecord(path, unreadable);
    if (!nb && path !== join(dir, f) && existsSync(join(dir, f))) nb = await readExecutedRecord(join(dir, f), unreadable);
    if (nb) executed.push(nb);
  }
  const skipped = unreadable.map((u) => `${u.path} is unreadable (${u.reason}); its notebook is left out of the report: run it again (\`reprobook run\`) to rewrite it`);
  const resultsPath = join(root, '.reprobook', 'results', `${profileDir(profile)}.json`);
  if (existsSync(resultsPath)) {
    return { results: await readJson<ResultsFile>(resultsPath, 'results file'), executed, synthesised: false, skipped };
  }
  if (executed.length === 0) {
    throw new UserError(
      `nothing to build: no executed notebooks in ${dir} and no results file ${resultsPath}`,
      `run the notebooks first: \`reprobook run --root ${root}${profile ? ` --profile ${profile}` : ''}\` (or drop --no-run)`,
    );
  }
  return { results: synthesiseResults(executed, profile ?? null), executed, synthesised: true, skipped };
}

/** A results file assembled from executed notebooks, for when the runner wrote none. */
export function synthesiseResults(executed: ExecutedNotebook[], profile: string | null): ResultsFile {
  const results: ResultsFile['results'] = {};
  const sources: ResultsFile['sources'] = {};
  for (const nb of executed) {
    for (const r of nb.results) {
      results[r.name] = r.value;
      sources[r.name] = { notebook: r.notebook, cellIndex: r.cellIndex, ...(r.cellLabel ? { cellLabel: r.cellLabel } : {}) };
    }
  }
  const first = executed[0]!;
  return {
    profile,
    provenance: {
      generatedAt: executed.map((e) => e.startedAt).sort().at(-1) ?? '',
      environment: first.environment,
      notebooks: executed.map((e) => ({ name: e.notebook.name, path: e.notebook.path, cacheKey: e.cacheKey, wallTimeMs: e.wallTimeMs, params: e.params, startedAt: e.startedAt })),
    },
    results,
    sources,
  };
}

export async function loadReferences(path: string): Promise<ReferenceEntry[]> {
  const doc = parseYaml(await readFile(path, 'utf8')) as { references?: unknown; extra?: unknown };
  const list = [...(Array.isArray(doc?.references) ? doc.references : []), ...(Array.isArray(doc?.extra) ? doc.extra : [])];
  return list.map((r, i) => {
    const e = r as Partial<ReferenceEntry>;
    if (typeof e.key !== 'string' || typeof e.text !== 'string') {
      throw new UserError(`${path}: reference ${i + 1} needs "key" and "text"`, 'write each reference as { key: name2016, text: "Authors. Title. Venue, year." }');
    }
    return { key: e.key, text: e.text, ...(typeof e.url === 'string' ? { url: e.url } : {}) };
  });
}

/** The paper's own list (shown as [1]–[9]) and then the works only this reproduction cites. */
async function referenceCount(path: string): Promise<number> {
  const doc = parseYaml(await readFile(path, 'utf8')) as { references?: unknown[] };
  return Array.isArray(doc?.references) ? doc.references.length : 0;
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
<link rel="stylesheet" href="${p}assets/report.css">
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
<footer class="site-footer">Built by reprobook from executed notebooks (profile ${escapeHtml(o.profile ?? 'default')}). Open <a href="${p}results.json">results.json</a> for every published value.</footer>
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

// ---------- generated figures and tables ----------

/**
 * The per-temperature table: one row for the baseline and one per temperature. The control
 * columns (the baseline with logits x T, no training) sit next to the distilled network's, so
 * that what the logit scale does and what distillation does can be read side by side; on the
 * baseline's row and at T = 1 (logits x 1) the control is the baseline itself.
 */
const BEYOND_COLUMNS: Array<{ label: string; name: (row: 'baseline' | number) => string; format: 'percent' | 'number' }> = [
  { label: 'Test accuracy', name: (r) => (r === 'baseline' ? 'baseline.accuracy' : `distilled.T${r}.accuracy`), format: 'percent' },
  { label: 'FGSM success', name: (r) => (r === 'baseline' ? 'fgsm.baseline.successRate' : `fgsm.T${r}.successRate`), format: 'percent' },
  { label: 'Zero-gradient samples', name: (r) => (r === 'baseline' ? 'saturation.baseline.zeroGradientFraction' : `saturation.T${r}.zeroGradientFraction`), format: 'percent' },
  { label: 'Median logit gap', name: (r) => (r === 'baseline' ? 'saturation.baseline.medianLogitGap' : `saturation.T${r}.medianLogitGap`), format: 'number' },
  { label: 'Control: baseline, logits × T: FGSM success', name: (r) => (r === 'baseline' || r === 1 ? 'fgsm.baseline.successRate' : `fgsm.baselineLogitsX${r}.successRate`), format: 'percent' },
  { label: 'Control: zero-gradient samples', name: (r) => (r === 'baseline' || r === 1 ? 'saturation.baseline.zeroGradientFraction' : `saturation.baselineLogitsX${r}.zeroGradientFraction`), format: 'percent' },
  { label: 'Control: median logit gap', name: (r) => (r === 'baseline' || r === 1 ? 'saturation.baseline.medianLogitGap' : `saturation.baselineLogitsX${r}.medianLogitGap`), format: 'number' },
  { label: 'FGSM on logits / T', name: (r) => (r === 'baseline' ? 'fgsmTemperature.baseline.successRate' : `fgsmTemperature.T${r}.successRate`), format: 'percent' },
  { label: 'Logit PGD success', name: (r) => (r === 'baseline' ? 'pgd.baseline.successRate' : `pgd.T${r}.successRate`), format: 'percent' },
  { label: 'JSMA success', name: (r) => (r === 'baseline' ? 'jsma.baseline.successRate' : `jsma.T${r}.successRate`), format: 'percent' },
];

function linkedValue(ctx: RenderContext, name: string, format: 'percent' | 'percent1' | 'number'): string {
  if (!(name in ctx.results)) return notRunMarker(`${name} was not published in this build`);
  const text = escapeHtml(formatValue(ctx.results[name], format));
  const src = ctx.sources[name];
  const first = !ctx.usedResults.has(name);
  ctx.usedResults.add(name);
  const id = first ? ` id="${resultAnchor(name)}"` : '';
  return src ? `<a class="result"${id} href="${escapeHtml(sourceHref(src, ctx.rootPrefix))}" title="${escapeHtml(name)}">${text}</a>` : `<span class="result"${id}>${text}</span>`;
}

function beyondTable(ctx: RenderContext): string {
  const temps = temperaturesRun(ctx.results);
  const header = `<tr><th>Network</th>${BEYOND_COLUMNS.map((c) => `<th>${escapeHtml(c.label)}</th>`).join('')}</tr>`;
  const rows = (['baseline', ...temps] as const).map((r) =>
    `<tr><th scope="row">${r === 'baseline' ? 'baseline' : `T = ${r}`}</th>${BEYOND_COLUMNS.map((c) => `<td class="num">${linkedValue(ctx, c.name(r), c.format)}</td>`).join('')}</tr>`);
  return `<div class="table-scroll"><table class="data numbers">\n<thead>${header}</thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table></div>`;
}

const VERDICT_CLASS: Record<string, string> = {
  reproduced: 'verdict-yes', partly: 'verdict-partly', 'not reproduced': 'verdict-no', 'not run': 'verdict-notrun',
};

function claimsTable(ctx: RenderContext, rows: ClaimRow[], inline: (md: string) => string): string {
  const body = rows.map((r) => {
    const ours = r.oursText === undefined
      ? notRunMarker(`no result among ${(r.spec.results ?? []).join(', ') || 'the per-temperature results'}`)
      : r.resultName && ctx.sources[r.resultName]
        ? (() => {
          const first = !ctx.usedResults.has(r.resultName!);
          ctx.usedResults.add(r.resultName!);
          return `<a class="result"${first ? ` id="${resultAnchor(r.resultName!)}"` : ''} href="${escapeHtml(sourceHref(ctx.sources[r.resultName!]!, ctx.rootPrefix))}" title="${escapeHtml(r.resultName!)}">${escapeHtml(r.oursText!)}</a>`;
        })()
        : escapeHtml(r.oursText);
    const note = (r.spec.note ? `<div class="claim-note">${inline(r.spec.note)}</div>` : '') +
      (r.networkCaveat ? `<div class="claim-note claim-caveat">${escapeHtml(r.networkCaveat)}</div>` : '');
    return `<tr id="claim-${escapeHtml(r.spec.id)}"><td>${inline(r.spec.claim)}<div class="claim-source">${inline(r.spec.source)}</div>${note}</td><td class="num">${escapeHtml(r.spec.paperText)}</td>` +
      `<td class="num">${ours}</td><td class="num diff">${escapeHtml(r.differenceText)}</td>` +
      `<td><span class="verdict ${VERDICT_CLASS[r.verdict]}">${escapeHtml(r.verdict)}</span><div class="tolerance">${escapeHtml(r.toleranceText)}</div></td></tr>`;
  });
  return `<div class="table-scroll"><table class="data claims">\n<thead><tr><th>Claim (where in the paper)</th><th>Paper</th><th>Ours</th><th>Difference</th><th>Verdict (tolerance)</th></tr></thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table></div>`;
}

function firstSourceLink(ctx: RenderContext, names: string[]): string {
  for (const n of names) {
    const src = ctx.sources[n];
    if (src) return `<a class="source-link" href="${escapeHtml(sourceHref(src, ctx.rootPrefix))}">notebook ${escapeHtml(src.notebook)}, cell ${src.cellIndex + 1}</a>`;
  }
  return 'no notebook in this build';
}

// ---------- the build ----------

async function gitState(cwd: string): Promise<{ commit?: string; dirty?: boolean }> {
  const run = promisify(execFile);
  try {
    const { stdout: commit } = await run('git', ['rev-parse', 'HEAD'], { cwd });
    const { stdout: status } = await run('git', ['status', '--porcelain', '--untracked-files=no'], { cwd });
    return { commit: commit.trim(), dirty: status.trim().length > 0 };
  } catch {
    return {};
  }
}

/** The root's own report/<name>, else this repository's (used for style.css only). */
function reportFile(root: string, name: string): string {
  const own = join(root, 'report', name);
  return existsSync(own) ? own : join(BUNDLED_REPORT_DIR, name);
}

function assetPath(spec: string): string {
  return createRequire(import.meta.url).resolve(spec);
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
  // never this repository's paper, references or claims.
  const own = (name: string) => (existsSync(join(root, 'report', name)) ? join(root, 'report', name) : null);
  const paperFile = own('paper.md');
  const paperSrc = paperFile ? await readFile(paperFile, 'utf8') : '';
  const refsFile = paperFile ? own('references.yaml') : null;
  const references = refsFile ? await loadReferences(refsFile) : [];
  const paperRefCount = refsFile ? await referenceCount(refsFile) : 0;
  const claimsFile = paperFile ? own('claims.yaml') : null;
  const claimSpecs = claimsFile ? await loadClaims(claimsFile) : [];
  const { data: front, body: paperBody } = splitFrontMatter(paperSrc);
  const results = resultsFile.results;
  const claims = judgeClaims(claimSpecs, results);
  const git = await gitState(root);
  const builtAt = opts.builtAt ?? new Date().toISOString();
  const provenance = collectProvenance(resultsFile, executed, { ...git, builtAt });
  const notebookNames = executed.map((e) => e.notebook.name);

  const temps = temperaturesRun(results);
  const sampleCount = ['fgsm.samples', 'fgsm.sampleCount', 'fgsm.attackedSamples'].map((n) => results[n]).find((v) => typeof v === 'number');
  const meta: Record<string, string> = {
    profile: profile ?? 'default',
    ...(temps.length ? { temperatures: temps.length > 1 ? `T = ${temps.slice(0, -1).join(', ')} and ${temps.at(-1)}` : `T = ${temps[0]}` } : {}),
    ...(typeof sampleCount === 'number' ? { fgsmSamples: formatValue(sampleCount, 'int') } : {}),
    // `{{meta verdict.ID}}`: the claims table's verdict, so prose never asserts a finding by hand.
    ...Object.fromEntries(claims.map((c) => [`verdict.${c.spec.id}`, c.verdict])),
    // `{{meta param.NAME}}`: a parameter value when every notebook that declares it used the same one.
    ...Object.fromEntries(provenance.parameters
      .filter((r) => provenance.parameters.filter((o) => o.name === r.name).length === 1)
      .map((r) => [`param.${r.name}`, Array.isArray(r.value) ? r.value.join(', ') : String(r.value)])),
  };

  // ---- index.html ----
  const ctx = createContext({
    results, sources: resultsFile.sources, references, numbering: scanNumbering(paperBody), meta, rootPrefix: '', targetPage: '', warnings,
  });
  const md = createMarkdown(ctx);
  const inline = (s: string) => md.renderInline(s);
  const figureBlock = (id: string, svg: string, caption: string, note: string) => {
    const n = ctx.numbering.get(id)!;
    return `<figure class="figure" id="${escapeHtml(id)}">\n${svg}\n<figcaption><span class="figure-label">${escapeHtml(n.label)}:</span> ${caption}<span class="figure-note"> ${note}</span></figcaption>\n</figure>`;
  };
  const tableBlock = (id: string, table: string, caption: string) => {
    const n = ctx.numbering.get(id)!;
    return `<figure class="table-figure" id="${escapeHtml(id)}">\n<figcaption><span class="figure-label">${escapeHtml(n.label)}:</span> ${caption}</figcaption>\n${table}\n</figure>`;
  };
  ctx.directive = (name, args) => {
    const id = args[0] ?? '';
    if (name === 'provenance') return `<div class="provenance">${renderProvenance(provenance, '')}</div>`;
    if (name === 'references') {
      const paperRefs = references.slice(0, paperRefCount);
      const extra = references.slice(paperRefCount);
      return renderReferences(paperRefs) + (extra.length
        ? `\n<p class="references-extra-title">Cited only by this reproduction:</p>\n${renderReferences(extra, paperRefCount)}`
        : '');
    }
    if (name === 'figure' && id === 'fig-fgsm') {
      const fgsmNames = figure1Data(results).points.map((p) => p.name);
      return figureBlock(id, figure1Svg(results),
        inline('Success rate of the fast gradient sign method [@goodfellow2015explaining] against MNIST networks trained with defensive distillation as set up in [@papernot2016distillation], for each distillation temperature.'),
        `Blue: this reproduction (profile ${escapeHtml(profile ?? 'default')}; ${firstSourceLink(ctx, fgsmNames)}), with the range over independent seeds where several were run. Grey, dashed: the control, FGSM on the baseline with its logits multiplied by T and no training. Orange: the values stated in the paper.`);
    }
    if (name === 'figure' && id === 'fig-beyond') {
      const series = [
        { label: 'FGSM (as in the paper)', points: temperatureSeries(results, 'fgsm', 'successRate'), color: '#1f5fa8' },
        { label: 'FGSM on logits / T', points: temperatureSeries(results, 'fgsmTemperature', 'successRate'), color: '#b45309' },
        { label: 'logit-space PGD', points: temperatureSeries(results, 'pgd', 'successRate'), color: '#15803d' },
        { label: 'samples with zero gradient', points: temperatureSeries(results, 'saturation', 'zeroGradientFraction'), color: '#7c3aed' },
      ];
      const names = series.flatMap((s) => s.points.map((p) => p.name));
      return figureBlock(id, seriesFigureSvg(series, 'Percent of test samples', 'Beyond the paper: attacks that adapt to distillation'),
        `Attack success and gradient saturation per distillation temperature (not in the paper). ${seriesLegendHtml(series)}`,
        `Profile ${escapeHtml(profile ?? 'default')}; ${firstSourceLink(ctx, names)}.`);
    }
    if (name === 'table' && id === 'tbl-claims') {
      return tableBlock(id, claimsTable(ctx, claims, inline),
        `The paper's quantitative claims next to this reproduction's values (profile <strong>${escapeHtml(profile ?? 'default')}</strong>). Rates are success rates over the test samples the network classified correctly; the tolerance behind each verdict is stated in its row.`);
    }
    if (name === 'table' && id === 'tbl-beyond') {
      return tableBlock(id, beyondTable(ctx), `Per-temperature results of this reproduction (profile ${escapeHtml(profile ?? 'default')}); every value links to the notebook cell that published it.`);
    }
    warnings.push(`directive {{${name} ${args.join(' ')}}} names nothing the report can draw`);
    return `<p>${notRunMarker(`${name} ${id}`)}</p>`;
  };
  const paperHtml = sectionize(md.render(paperBody));
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
  const paperHtmlPage = pageHtml({ title: `${title} (reproduction)`, rootPrefix: '', profile, body: `<article class="paper">\n${titleBlock}\n${paperHtml}</article>`, notebooks: notebookNames, linkPdf: !!opts.linkPdf, bodyClass: 'report' });
  // Without report/paper.md (the paper code above then renders nothing): an index of the
  // project's own notebooks and results, under the project's name.
  const reportTitle = paperFile ? title : projectTitle(root);
  const indexHtml = paperFile ? paperHtmlPage : pageHtml({
    title: reportTitle, rootPrefix: '', profile, notebooks: notebookNames, linkPdf: !!opts.linkPdf, bodyClass: 'report',
    body: renderProjectIndex({ title: reportTitle, profile, builtAt, executed, provenance, ctx }),
  });
  const pdfHeader = paperFile
    ? `${title}, reproduced by reprobook (profile ${profile ?? 'default'})`
    : `${reportTitle}: notebooks built by reprobook (profile ${profile ?? 'default'})`;
  const usedInReport = new Set(ctx.usedResults);

  // ---- notebooks/NAME.html ----
  const pages = executed.map((nb) => {
    const nctx = createContext({ results, sources: resultsFile.sources, references, numbering: ctx.numbering, meta, rootPrefix: '../', targetPage: '../index.html', warnings: [] });
    const page = renderNotebookPage(nb, nctx, usedInReport);
    for (const w of nctx.warnings) warnings.push(`notebook ${nb.notebook.name}: ${w}`);
    return { name: nb.notebook.name, html: pageHtml({ title: `${page.title} · notebook`, rootPrefix: '../', profile, body: `<article class="notebook">\n${page.body}\n</article>`, notebooks: notebookNames, linkPdf: !!opts.linkPdf, bodyClass: 'notebook-page' }) };
  });

  if (opts.strict && warnings.length) {
    throw new UserError(`the report has ${warnings.length} problem(s) and --strict is set:\n  - ${warnings.join('\n  - ')}`, 'run the missing notebooks, fix the names in report/paper.md, or build without --strict to show them as "not run"');
  }

  // ---- write: only files the last build listed in its manifest are replaced (site-output.ts) ----
  const files = new Map<string, OutputSource>();
  files.set('index.html', { content: indexHtml });
  for (const p of pages) files.set(`notebooks/${p.name}.html`, { content: p.html });
  files.set('results.json', { content: `${JSON.stringify(resultsFile, null, 2)}\n` });
  const katexDist = dirname(assetPath('katex'));
  files.set('assets/katex/katex.min.css', { copyFrom: join(katexDist, 'katex.min.css') });
  for (const f of (await readdir(join(katexDist, 'fonts'))).sort()) files.set(`assets/katex/fonts/${f}`, { copyFrom: join(katexDist, 'fonts', f) });
  files.set('assets/hljs.css', { copyFrom: assetPath('highlight.js/styles/github.css') });
  files.set('assets/report.css', { copyFrom: reportFile(root, 'style.css') });
  await writeOutput(out, files, opts.linkPdf ? ['report.pdf'] : []);
  const indexPath = join(out, 'index.html');
  const notebookPages = pages.map((p) => join(out, 'notebooks', `${p.name}.html`));
  const resultsPath = join(out, 'results.json');
  return { out, indexPath, resultsPath, notebookPages, warnings, profile, provenance, claims, title: reportTitle, pdfHeader };
}
