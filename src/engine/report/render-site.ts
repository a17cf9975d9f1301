import type { ExecutedNotebook } from '../core/records.ts';
import { UserError } from '../util/errors.ts';
import { judgeClaims, type ClaimRow, type ClaimSpec, type Verdict } from '../results/claims.ts';
import { formatValue } from '../results/values.ts';
import { escapeHtml } from './html.ts';
import {
  createContext, createMarkdown, renderReferences, resultLink, scanNumbering, type Placements,
  notRunMarker, type CitedRunView, type RenderContext,
} from './markdown.ts';
import { renderEmbed, type EmbedSite } from './embed.ts';
import { collectProvenance, renderProvenance, type Provenance } from './provenance.ts';
import { renderNotebookPage } from './notebook-page.ts';
import { renderProjectIndex } from './project-index.ts';
import { imageKey, type ReportInputs, type ReportRun } from './load.ts';
import type { OutputSource } from './site-output.ts';
import type { ReportWarning } from './warnings.ts';

/**
 * The site, rendered from what `loadReport` read, without touching the disk: index.html (the
 * report, or an index of the project's notebooks when it has none), one page per executed
 * notebook, the pages of the other profiles' runs the report cites (profiles/<P>/notebooks/),
 * results.json, and the assets to copy. Path → content (or the file to copy), and the
 * warnings as records.
 */

export interface RenderOptions {
  builtAt: string;
  /** Link report.pdf from the pages (the caller prints it after the HTML). */
  linkPdf?: boolean;
  /** The site has diff.html (the caller adds it). */
  linkDiff?: boolean;
  /** Paths of reprobook's own assets: its style sheet, KaTeX's dist folder and fonts, the code theme. */
  assets: { style: string; katexCss: string; katexFonts: Array<{ name: string; path: string }>; highlightCss: string };
}

export interface RenderedSite {
  files: Map<string, OutputSource>;
  warnings: ReportWarning[];
  profile: string | null;
  provenance: Provenance;
  /** The claims as judged (on each claim's profile). */
  claims: ClaimRow[];
  /** The report's title: its paper's, or the project's name when it has none. */
  title: string;
  /** The running header of report.pdf. */
  pdfHeader: string;
  results: ReportInputs['run']['results'];
  /** The notebook pages of this build's run, relative to the site. */
  notebookPages: string[];
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
  /** A note above the page's content (where its values from other runs come from). */
  note?: string;
  /** Where the notebook links of the bar lead, from the site root ('' for this build's run). */
  pagesAt?: string;
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
  const nbLinks = o.notebooks.map((n) => `<a href="${p}${o.pagesAt ?? ''}notebooks/${encodeURIComponent(n)}.html">${escapeHtml(n)}</a>`).join(' ');
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
${o.note ? `${o.note}\n` : ''}${o.body}
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

// ---------- other profiles' runs ----------

const pagesAtOf = (profile: string) => `profiles/${encodeURIComponent(profile)}/`;

function runView(run: ReportRun): CitedRunView {
  return {
    profile: run.profile!,
    results: run.results.results,
    sources: run.results.sources,
    counts: run.results.counts ?? {},
    pagesAt: pagesAtOf(run.profile!),
    ...(run.frozen ? { frozen: { commit: run.frozen.commit, frozenAt: run.frozen.frozenAt } } : {}),
    stale: run.stale,
  };
}

/** What a run is, in words: "the frozen run of profile P (frozen 2026-12-04 at abc…)" or "this machine's run of P". */
function describeRun(run: ReportRun, dirOf: (r: ReportRun) => string): string {
  if (run.frozen) return `the frozen run of profile <strong>${escapeHtml(run.profile!)}</strong> (<code>${escapeHtml(dirOf(run))}</code>, frozen ${escapeHtml(run.frozen.frozenAt.slice(0, 10))} at <code>${escapeHtml(run.frozen.commit?.slice(0, 12) ?? 'no commit')}</code>)`;
  return `this machine's run of profile <strong>${escapeHtml(run.profile!)}</strong>`;
}

/** The note a page carries when it shows values of other runs: where they come from, and which are stale. */
function runsNote(used: Iterable<string>, cited: Map<string, ReportRun>, dirOf: (r: ReportRun) => string): string {
  const lines = [...used].map((p) => cited.get(p)!).filter(Boolean).map((run) => {
    const stale = run.stale.size > 0
      ? ` The code, parameters or data of ${[...run.stale].map((n) => `<code>${escapeHtml(n)}</code>`).join(', ')} have changed since that run: its values are marked <span class="stale-value">code changed since</span>.`
      : '';
    const mark = run.frozen ? '❄' : '†';
    return `<li>Values marked ${mark} are from ${describeRun(run, dirOf)}, not from this build.${stale}</li>`;
  });
  return lines.length ? `<aside class="runs-note"><ul>${lines.join('')}</ul></aside>` : '';
}

// ---------- the claims table ----------

const VERDICT_CLASS: Record<Verdict, string> = {
  reproduced: 'verdict-yes', partly: 'verdict-partly', 'not reproduced': 'verdict-no', 'not run': 'verdict-notrun',
};

const verdictTag = (v: Verdict) => `<span class="verdict ${VERDICT_CLASS[v]}">${escapeHtml(v)}</span>`;

/** One claim across the runs shown (each column a profile), judged on its own profile's run. */
export interface ClaimLine {
  spec: ClaimSpec;
  judgedOn: string;
  judged: ClaimRow;
  byProfile: Map<string, ClaimRow>;
}

function claimCell(ctx: RenderContext, r: ClaimRow, profile: string, own: string): string {
  if (r.oursText === undefined) return notRunMarker(`no result ${r.spec.measure.kind === 'sweep' ? `matches ${r.spec.measure.pattern}` : `among ${(r.spec.results ?? []).join(', ')}`} in the run of ${profile}`);
  const ref = (name: string) => (profile === own ? name : `${profile}:${name}`);
  const value = r.resultName ? resultLink(ctx, ref(r.resultName), r.oursText) : escapeHtml(r.oursText);
  const interval = r.interval
    ? `<div class="interval">95% interval ${escapeHtml(formatValue(r.interval.lo, 'percent'))} to ${escapeHtml(formatValue(r.interval.hi, 'percent'))}${r.interval.seeds > 1 ? ` (every seed's)` : ''}</div>`
    : '';
  const also = (r.also ?? []).map((a) => {
    const shown = a.value === undefined ? notRunMarker(`${a.resultName} not published`) : resultLink(ctx, ref(a.resultName), formatValue(a.value, 'percent'));
    const ci = a.interval ? ` [${escapeHtml(formatValue(a.interval.lo, 'percent'))}–${escapeHtml(formatValue(a.interval.hi, 'percent'))}]` : '';
    return `<li>${escapeHtml(a.label)}: ${shown}${ci}${a.seeds ? ` (mean of ${a.seeds} seeds; every seed's interval)` : ''}</li>`;
  });
  const point = r.pointVerdict ? `; the value alone: ${escapeHtml(r.pointVerdict)}` : '';
  return `${value}${interval}${also.length ? `<ul class="claim-also">${also.join('')}</ul>` : ''}<div class="column-verdict">${verdictTag(r.verdict)}${point}</div>`;
}

function claimsTable(ctx: RenderContext, lines: ClaimLine[], shown: string[], own: string, inline: (md: string) => string): string {
  const head = shown.map((p) => `<th>Ours: <code>${escapeHtml(p)}</code>${p === own ? ' (this build)' : ''}</th>`).join('');
  const body = lines.map((l) => {
    const r = l.judged;
    if (r.oursText === undefined) ctx.warnings.push({ file: 'report/claims.yaml', rule: 'claim-not-run', message: `claim ${l.spec.id}: no value in the run of ${l.judgedOn} it is judged on: shown as "not run"` });
    const cells = shown.map((p) => {
      const row = l.byProfile.get(p);
      return `<td class="num">${row ? claimCell(ctx, row, p, own) : notRunMarker(`profile ${p} has no run here and no frozen record`)}</td>`;
    }).join('');
    const note = (l.spec.note ? `<div class="claim-note">${inline(l.spec.note)}</div>` : '') +
      (r.networkCaveat ? `<div class="claim-note claim-caveat">${escapeHtml(r.networkCaveat)}</div>` : '');
    return `<tr id="claim-${escapeHtml(l.spec.id)}"><td>${inline(l.spec.claim)}<div class="claim-source">${inline(l.spec.source)}</div>${note}</td><td class="num">${escapeHtml(l.spec.paperText)}</td>` +
      `${cells}<td class="num diff">${escapeHtml(r.differenceText)}</td>` +
      `<td>${verdictTag(r.verdict)}<div class="tolerance">judged on <code>${escapeHtml(l.judgedOn)}</code>; ${escapeHtml(r.toleranceText)}</div></td></tr>`;
  });
  return `<div class="table-scroll"><table class="data claims">\n<thead><tr><th>Claim (where in the paper)</th><th>Paper</th>${head}<th>Difference</th><th>Verdict (tolerance)</th></tr></thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table></div>`;
}

/** Every claim judged on its profile's run, with the row of every run shown beside it. */
export function judgeAcrossRuns(specs: ClaimSpec[], runs: Map<string, ReportRun>, own: string, shown: string[]): ClaimLine[] {
  const rows = new Map([...runs].map(([p, r]) => [p, judgeClaims(specs, r.results.results, r.results.counts ?? {})]));
  return specs.map((spec, i) => {
    const judgedOn = spec.profile ?? own;
    const byProfile = new Map(shown.flatMap((p) => (rows.has(p) ? [[p, rows.get(p)![i]!] as const] : [])));
    const judged = rows.get(judgedOn)?.[i] ?? { spec, differenceText: '—', verdict: 'not run' as Verdict, toleranceText: '' };
    return { spec, judgedOn, judged, byProfile };
  });
}

// ---------- the site ----------

export function renderSite(inputs: ReportInputs, opts: RenderOptions): RenderedSite {
  const { run, cited, report } = inputs;
  const resultsFile = run.results;
  const profile = resultsFile.profile ?? run.profile;
  const own = profile ?? 'default';
  const warnings: ReportWarning[] = [...inputs.warnings];
  const references = inputs.bibliography?.entries ?? [];
  const paperRefCount = inputs.bibliography?.extraFrom ?? 0;
  const dirOf = (r: ReportRun) => `report/frozen/${r.profile}/`;
  const provenance = collectProvenance(resultsFile, run.executed, { ...(inputs.git ?? {}), builtAt: opts.builtAt });
  const notebookNames = run.executed.map((e) => e.notebook.name);
  const localFile = (src: string, source: { file: string }) => {
    const at = inputs.images.get(imageKey(source.file, src));
    if (at === undefined) throw new Error(`render: image ${src} of ${source.file} was not resolved by loadReport`);
    return at;
  };
  const views = new Map([...cited].map(([p, r]) => [p, runView(r)]));
  const allRuns = new Map<string, ReportRun>([[own, run], ...cited]);
  const shownProfiles = [...new Set([own, ...inputs.claims.profiles, ...inputs.claims.claims.flatMap((c) => (c.profile ? [c.profile] : []))])];
  const lines = judgeAcrossRuns(inputs.claims.claims, allRuns, own, shownProfiles);
  const claims = lines.map((l) => l.judged);

  // Numbers as prose prints them (10,000 test samples), lists comma-separated, the rest verbatim.
  const paramText = (v: unknown): string => (typeof v === 'number' || Array.isArray(v) ? formatValue(v, 'number') : String(v));
  const meta: Record<string, string> = {
    profile: own,
    // `{{meta verdict.ID}}`: the claims table's verdict, so prose never asserts a finding by hand.
    ...Object.fromEntries(claims.map((c) => [`verdict.${c.spec.id}`, c.verdict])),
    // `{{meta param.NAME}}`: a parameter value when every notebook that declares it used the same one.
    ...Object.fromEntries(provenance.parameters
      .filter((r) => provenance.parameters.filter((o) => o.name === r.name).length === 1)
      .map((r) => [`param.${r.name}`, paramText(r.value)])),
  };
  const base = {
    results: resultsFile.results, sources: resultsFile.sources, counts: resultsFile.counts ?? {}, profile: own, runs: views,
    references, meta, localFile,
  };

  // ---- index.html ----
  const ctx = createContext({
    ...base, numbering: scanNumbering(report?.body ?? '', own), rootPrefix: '', targetPage: '', warnings,
    ...(report ? { source: { file: report.file, line: report.bodyOffset + 1 } } : {}),
  });
  const md = createMarkdown(ctx);
  const inline = (s: string) => md.renderInline(s);
  const tableBlock = (id: string, table: string, caption: string) => {
    const n = ctx.numbering.get(id);
    const label = n ? `<span class="figure-label">${escapeHtml(n.label)}:</span> ` : '';
    return `<figure class="table-figure" id="${escapeHtml(id)}">\n<figcaption>${label}${caption}</figcaption>\n${table}\n</figure>`;
  };
  const placed: Placements = new Map();
  const embedding: EmbedSite['embedding'] = [];
  const citedExecuted = new Map([...cited].map(([p, r]) => [p, r.executed]));
  if (report) {
    ctx.directive = (name, args, line) => {
      const id = args[0] ?? '';
      const fileLine = line + report.bodyOffset;
      const where = `${report.file}:${fileLine}`;
      if (name === 'embed') return renderEmbed(id, { file: report.file, line: fileLine, executed: run.executed, cited: citedExecuted, notebooks: inputs.notebooks, ctx, inline, placed, embedding });
      if (name === 'provenance') {
        const others = [...cited.values()].map((r) => `<h3>Profile <code>${escapeHtml(r.profile!)}</code>: ${describeRun(r, dirOf)}</h3>\n${renderProvenance(collectProvenance(r.results, r.executed), pagesAtOf(r.profile!))}`);
        return `<div class="provenance">${renderProvenance(provenance, '')}${others.length ? `\n${others.join('\n')}` : ''}</div>`;
      }
      if (name === 'references') {
        if (!inputs.bibliography) throw new UserError(`${where}: {{references}} but the report has no bibliography`, 'add report/references.bib (BibTeX) or report/references.json (CSL-JSON), or name one with bibliography: in the front matter');
        const paperRefs = references.slice(0, paperRefCount);
        const extra = references.slice(paperRefCount);
        return renderReferences(paperRefs) + (extra.length
          ? `\n<p class="references-extra-title">Cited only by this reproduction:</p>\n${renderReferences(extra, paperRefCount)}`
          : '');
      }
      if (name === 'claims') {
        if (!/^tbl-[\w-]+$/.test(id)) throw new UserError(`${where}: {{claims ${id}}} needs a table label`, 'write {{claims tbl-claims}} (any label starting with tbl-), which @tbl-claims can then reference');
        return tableBlock(id, claimsTable(ctx, lines, shownProfiles, own, inline),
          `The paper's quantitative claims next to this reproduction's values, run by run (this build: profile <strong>${escapeHtml(own)}</strong>); each verdict is judged on the run its row names, with the tolerance stated beside it, and a rate's 95% Wilson interval enters the verdict (report/claims.yaml says how).`);
      }
      // {{figure …}} and {{table …}} drew a fixed set of figures; any cell's output is now placed by reference.
      throw new UserError(`${where}: {{${name} ${args.join(' ')}}} is no longer a directive`, `place a labelled notebook cell's output with {{embed NOTEBOOK#${id || 'LABEL'}}}, and the claims table with {{claims tbl-claims}}`);
    };
  }
  const paperHtml = report ? sectionize(md.render(report.body)) : '';
  const fm = (k: string) => (typeof report?.front[k] === 'string' ? (report.front[k] as string) : '');
  const title = report ? fm('title') || 'Report' : inputs.title;
  const chrome = { profile, notebooks: notebookNames, linkPdf: !!opts.linkPdf, projectStyle: inputs.style !== undefined, linkDiff: !!opts.linkDiff };
  let indexHtml: string;
  if (report) {
    const originalUrl = /^https?:\/\//.test(fm('originalUrl')) ? fm('originalUrl') : '';
    const titleBlock = `<header class="title-block">
<p class="kicker">A reproduction</p>
<h1>${escapeHtml(title)}</h1>
<p class="authors">${escapeHtml(fm('authors'))}</p>
<p class="affiliation">${escapeHtml(fm('affiliation'))}</p>
<p class="reproduced">Reproduced by <strong>${escapeHtml(fm('reproducedBy') || 'reprobook')}</strong> · profile <strong class="profile-name">${escapeHtml(own)}</strong> · built ${escapeHtml(opts.builtAt.slice(0, 10))}${fm('original') ? ` · original: ${originalUrl ? `<a href="${escapeHtml(originalUrl)}">${escapeHtml(fm('original'))}</a>` : escapeHtml(fm('original'))}` : ''}</p>
</header>`;
    indexHtml = pageHtml({ ...chrome, title: `${title} (reproduction)`, rootPrefix: '', body: `<article class="paper">\n${titleBlock}\n${paperHtml}</article>`, bodyClass: 'report', note: runsNote(ctx.usedRuns, cited, dirOf) });
  } else {
    // Without a report of its own: an index of the project's own notebooks and results, under the project's name.
    indexHtml = pageHtml({ ...chrome, title, rootPrefix: '', bodyClass: 'report', body: renderProjectIndex({ title, profile, builtAt: opts.builtAt, executed: run.executed, provenance, ctx }) });
  }
  const pdfHeader = report ? `${title}, reproduced by reprobook (profile ${own})` : `${title}: notebooks built by reprobook (profile ${own})`;
  const usedInReport = new Set(ctx.usedResults);

  // ---- notebooks/NAME.html, and profiles/P/notebooks/NAME.html for the runs cited ----
  const files = new Map<string, OutputSource>();
  const notebookPage = (nb: ExecutedNotebook, r: ReportRun, pagesAt: string, prefix: string, note: string) => {
    const view = pagesAt ? views.get(r.profile!)! : undefined;
    const nctx = createContext({
      ...base, numbering: ctx.numbering, rootPrefix: prefix, targetPage: `${prefix}index.html`, warnings: [], pagesAt,
      ...(view ? { results: view.results, sources: view.sources, counts: view.counts, profile: view.profile } : {}),
    });
    const page = renderNotebookPage(nb, nctx, pagesAt ? new Set() : usedInReport);
    for (const w of nctx.warnings) warnings.push({ ...w, message: `notebook ${nb.notebook.name}${pagesAt ? ` (profile ${r.profile})` : ''}: ${w.message}` });
    const names = r.executed.map((e) => e.notebook.name);
    return pageHtml({ ...chrome, profile: r.profile, notebooks: names, pagesAt, title: `${page.title} · notebook`, rootPrefix: prefix, body: `<article class="notebook">\n${page.body}\n</article>`, bodyClass: 'notebook-page', note: note || runsNote(nctx.usedRuns, cited, dirOf) });
  };
  files.set('index.html', { content: indexHtml });
  for (const nb of run.executed) files.set(`notebooks/${nb.notebook.name}.html`, { content: notebookPage(nb, run, '', '../', '') });
  for (const r of cited.values()) {
    const note = `<aside class="runs-note"><ul><li>This page is from ${describeRun(r, dirOf)}, not from this build (profile <strong>${escapeHtml(own)}</strong>).</li></ul></aside>`;
    for (const nb of r.executed) {
      const stale = r.stale.has(nb.notebook.name) ? note.replace('</li>', ' Its code, parameters or data have changed since: <span class="stale-value">code changed since</span>.</li>') : note;
      files.set(`${pagesAtOf(r.profile!)}notebooks/${nb.notebook.name}.html`, { content: notebookPage(nb, r, pagesAtOf(r.profile!), '../../../', stale) });
    }
  }
  for (const p of inputs.missingProfiles) warnings.push({ rule: 'missing-profile', message: `profile ${p} is cited but has no run here and no frozen record (reprobook build --profile ${p}, then reprobook freeze --profile ${p})` });
  files.set('results.json', { content: `${JSON.stringify(resultsFile, null, 2)}\n` });
  files.set('assets/katex/katex.min.css', { copyFrom: opts.assets.katexCss });
  for (const f of opts.assets.katexFonts) files.set(`assets/katex/fonts/${f.name}`, { copyFrom: f.path });
  files.set('assets/hljs.css', { copyFrom: opts.assets.highlightCss });
  files.set('assets/report.css', { copyFrom: opts.assets.style });
  if (inputs.style !== undefined) files.set('assets/project.css', { content: inputs.style });
  for (const [at, from] of inputs.copies) files.set(at, { copyFrom: from });
  return {
    files, warnings, profile, provenance, claims, title, pdfHeader, results: resultsFile,
    notebookPages: run.executed.map((nb) => `notebooks/${nb.notebook.name}.html`),
  };
}
