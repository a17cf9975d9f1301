import hljs from 'highlight.js';
import type { CellOutput, CellResult, CodeCell, DisplayItem, ExecutedNotebook, NotebookDocument, PublishedResult } from '../core/records.ts';
import { escapeHtml } from './html.ts';
import { formatValue } from '../results/values.ts';
import { cellAnchor, renderMarkdown, resultAnchor, type RenderContext } from './markdown.ts';
import { safePngDataUrl, sanitizeSvg } from './sanitize.ts';
import { formatDuration } from './provenance.ts';

/**
 * One executed notebook as an HTML page body: prose (Markdown, raw HTML off), code
 * (highlighted unless `echo: false`), outputs (escaped or sanitised), errors, and for
 * every published result a link to where the report uses it.
 */

const MAX_TABLE_ROWS = 200;
const MAX_TEXT_CHARS = 20_000;

function truncate(s: string): string {
  return s.length > MAX_TEXT_CHARS ? `${s.slice(0, MAX_TEXT_CHARS)}\n… (${s.length - MAX_TEXT_CHARS} more characters not shown)` : s;
}

export function highlightCode(source: string, lang: string): string {
  const language = lang === 'ts' ? 'typescript' : lang;
  if (language && hljs.getLanguage(language)) {
    return hljs.highlight(source, { language, ignoreIllegals: true }).value;
  }
  return escapeHtml(source);
}

function cellValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return escapeHtml(formatValue(v, 'number'));
  if (typeof v === 'string') return escapeHtml(v);
  return escapeHtml(JSON.stringify(v) ?? String(v));
}

/** A figure label from a notebook becomes an id only if it is a plain identifier. */
function safeId(label: string | undefined): string {
  return label && /^[A-Za-z][\w-]*$/.test(label) ? ` id="${label}"` : '';
}

/**
 * How an output is shown: on its notebook page, or placed in the report by an embed, where
 * the report's figure carries the id and the caption (so neither appears twice).
 */
export interface OutputView {
  embedded?: boolean;
}

export function renderDisplayItem(item: DisplayItem, ctx: RenderContext, view: OutputView = {}): string {
  switch (item.kind) {
    case 'text':
      return `<pre class="output text">${escapeHtml(truncate(item.text))}</pre>`;
    case 'markdown':
      return `<div class="output markdown">${renderMarkdown(item.markdown, ctx)}</div>`;
    case 'table': {
      const cols = item.columns;
      const rows = item.rows.slice(0, MAX_TABLE_ROWS);
      const more = item.rows.length > rows.length ? `<p class="note">${item.rows.length - rows.length} more rows not shown.</p>` : '';
      const caption = item.caption && !view.embedded ? `<caption>${escapeHtml(item.caption)}</caption>` : '';
      return `<div class="output table-scroll"><table class="data">${caption}<thead><tr>${cols.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>` +
        rows.map((r) => `<tr>${cols.map((c) => `<td>${cellValue(r[c])}</td>`).join('')}</tr>`).join('') +
        `</tbody></table>${more}</div>`;
    }
    case 'svg': {
      const svg = sanitizeSvg(item.svg);
      if (!svg) return '<p class="note">(an SVG output that could not be shown)</p>';
      if (view.embedded) return `<div class="output figure">${svg}</div>`;
      const caption = item.caption ? `<figcaption>${escapeHtml(item.caption)}</figcaption>` : '';
      return `<figure class="output figure"${safeId(item.label)}>${svg}${caption}</figure>`;
    }
    case 'image': {
      const src = safePngDataUrl(item.base64);
      if (!src) return '<p class="note">(an image output whose data is not valid base64)</p>';
      const w = Number.isFinite(item.width) ? Math.round(item.width) : 0;
      const h = Number.isFinite(item.height) ? Math.round(item.height) : 0;
      return `<img class="output image" src="${src}" width="${w}" height="${h}" alt="${escapeHtml(item.alt ?? 'notebook image output')}">`;
    }
    case 'json':
      return `<pre class="output json">${escapeHtml(truncate(JSON.stringify(item.value, null, 2) ?? 'undefined'))}</pre>`;
    default: {
      const kind = (item as { kind?: unknown }).kind;
      return `<p class="note">(an output of unknown kind ${escapeHtml(String(kind))})</p>`;
    }
  }
}

export function renderOutput(out: CellOutput, ctx: RenderContext, view: OutputView = {}): string {
  if (out.type === 'stream') {
    return `<pre class="output stream ${out.name === 'stderr' ? 'stderr' : 'stdout'}">${escapeHtml(truncate(out.text))}</pre>`;
  }
  return renderDisplayItem(out.item, ctx, view);
}

/**
 * What a cell shows under its code: its outputs in order (streams, displays, its value), or
 * nothing when the cell says `output: false`. The notebook page and an embed both use it, so
 * a report places exactly what the cell's page shows.
 */
export function renderCellOutputs(doc: NotebookDocument, cell: CodeCell, result: CellResult, ctx: RenderContext, view: OutputView = {}): string {
  if (cell.options.output === false) return '';
  // A Markdown output's local images are the notebook's files, named by the cell that showed them.
  const own = { ...ctx, source: { file: doc.path, line: cell.line, output: `an output of cell ${cell.index + 1}` } };
  return result.outputs.map((o) => renderOutput(o, own, view)).join('\n');
}

function renderError(result: CellResult): string {
  const e = result.error!;
  const where = e.fileLine !== undefined ? ` (notebook line ${e.fileLine}${e.cellLine !== undefined ? `, line ${e.cellLine} of the cell` : ''})` : '';
  return `<div class="cell-error" role="alert"><p><strong>${escapeHtml(e.name)}</strong> in cell ${e.cellIndex + 1}${escapeHtml(where)}: ${escapeHtml(e.message)}</p>` +
    (e.stack ? `<pre>${escapeHtml(truncate(e.stack))}</pre>` : '') + '</div>';
}

function renderPublished(published: PublishedResult[], usedInReport: Set<string>, rootPrefix: string): string {
  if (published.length === 0) return '';
  const items = published.map((r) => {
    const name = escapeHtml(r.name);
    const value = escapeHtml(formatValue(r.value, typeof r.value === 'number' ? 'number' : 'raw'));
    const link = usedInReport.has(r.name)
      ? ` — <a class="used-in-report" href="${rootPrefix}index.html#${escapeHtml(resultAnchor(r.name))}">used in the report</a>`
      : '';
    return `<li><code>${name}</code> = ${value}${link}</li>`;
  });
  return `<div class="published"><p>Published results:</p><ul>${items.join('')}</ul></div>`;
}

export interface NotebookPageParts {
  title: string;
  body: string;
}

export function renderNotebookPage(nb: ExecutedNotebook, ctx: RenderContext, usedInReport: Set<string>): NotebookPageParts {
  const doc = nb.notebook;
  const parts: string[] = [];
  const title = doc.frontMatter.title || doc.name;
  const failed = nb.cells.find((c) => c.error);
  parts.push(`<header class="notebook-header"><p class="kicker">Notebook <code>${escapeHtml(doc.path)}</code></p><h1>${escapeHtml(title)}</h1>`);
  if (doc.frontMatter.summary) parts.push(`<p class="summary">${escapeHtml(doc.frontMatter.summary)}</p>`);
  const params = Object.entries(nb.params).map(([k, v]) => `<code>${escapeHtml(k)}</code> = <code>${escapeHtml(Array.isArray(v) ? `[${v.join(', ')}]` : String(v))}</code>`).join(', ');
  parts.push(`<p class="run-info">Profile <strong>${escapeHtml(nb.profile ?? 'default')}</strong> · status <strong class="status-${escapeHtml(nb.status)}">${escapeHtml(nb.status)}</strong> · ran ${escapeHtml(nb.startedAt)} in ${escapeHtml(formatDuration(nb.wallTimeMs))} · cache key <code class="hash" title="${escapeHtml(nb.cacheKey)}">${escapeHtml(nb.cacheKey.slice(0, 16))}</code></p>`);
  if (params) parts.push(`<p class="run-info">Parameters: ${params}</p>`);
  if (failed?.error) parts.push(`<p class="cell-error-summary">This run stopped at <a href="#${cellAnchor(failed.error.cellIndex)}">cell ${failed.error.cellIndex + 1}</a>: ${escapeHtml(failed.error.message)}</p>`);
  parts.push('</header>');

  const resultsByCell = new Map<number, PublishedResult[]>();
  for (const r of nb.results) resultsByCell.set(r.cellIndex, [...(resultsByCell.get(r.cellIndex) ?? []), r]);

  for (const block of doc.blocks) {
    if (block.kind === 'prose') {
      parts.push(`<div class="prose">${renderMarkdown(block.markdown, { ...ctx, source: { file: doc.path, line: block.line } })}</div>`);
    } else if (block.kind === 'shown') {
      parts.push(`<pre class="code shown"><code class="hljs language-${escapeHtml(block.lang)}">${highlightCode(block.source, block.lang)}</code></pre>`);
    } else {
      const result = nb.cells.find((c) => c.index === block.index);
      const label = block.options.label ? ` <code>${escapeHtml(block.options.label)}</code>` : '';
      const head = `<div class="cell-head"><a class="cell-link" href="#${cellAnchor(block.index)}">cell ${block.index + 1}</a>${label}${result ? ` <span class="cell-time">${escapeHtml(formatDuration(result.durationMs))}</span>` : ''}</div>`;
      const code = block.options.echo === false ? '' : `<pre class="code"><code class="hljs language-typescript">${highlightCode(block.source, 'ts')}</code></pre>`;
      let outputs = '';
      if (!result) outputs = '<p class="note not-run-cell">Not run (an earlier cell failed or the run stopped).</p>';
      else outputs = renderCellOutputs(doc, block, result, ctx);
      const error = result?.error ? renderError(result) : '';
      const published = renderPublished(resultsByCell.get(block.index) ?? [], usedInReport, ctx.rootPrefix);
      parts.push(`<section class="cell${result?.error ? ' failed' : ''}" id="${cellAnchor(block.index)}">${head}${code}<div class="outputs">${outputs}${error}</div>${published}</section>`);
    }
  }
  return { title, body: parts.join('\n') };
}
