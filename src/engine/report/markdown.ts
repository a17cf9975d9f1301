import MarkdownIt from 'markdown-it';
import type StateInline from 'markdown-it/lib/rules_inline/state_inline.mjs';
import type StateBlock from 'markdown-it/lib/rules_block/state_block.mjs';
import type StateCore from 'markdown-it/lib/rules_core/state_core.mjs';
import katex from 'katex';
import { parse as parseYaml } from 'yaml';
import { escapeHtml } from './html.ts';
import { formatValue, isValueFormat, VALUE_FORMATS, type ValueFormat } from '../results/values.ts';
import { has, own } from '../util/own.ts';
import { wilsonInterval, type Count } from '../results/claims.ts';
import type { ReportWarning } from './warnings.ts';

/**
 * The report's Markdown dialect: CommonMark through markdown-it with raw HTML OFF (so a
 * `<script>` in prose is shown as text, never run), plus
 *   - placeholders   `{{result NAME [FORMAT] [ci]}}`, `{{meta KEY}}`: values from the results
 *                    file, never typed in; a missing one shows "not run" and adds a warning.
 *                    `PROFILE:NAME` cites another profile's run (its frozen record when this
 *                    machine has not run it); `ci` adds a rate's 95% Wilson interval;
 *   - directives     a line `{{embed [PROFILE:]NOTEBOOK#LABEL}}` places the outputs of a notebook's
 *                    labelled cell (numbered as a figure for `fig-` labels, a table for
 *                    `tbl-`, captioned by the cell's `caption` option); `{{claims tbl-ID}}`,
 *                    `{{provenance}}`, `{{references}}`: HTML the report generates;
 *   - cross-refs     `@fig-ID`, `@tbl-ID`, `@eq-ID`, `@sec-ID` → "Figure 1" etc., linked;
 *   - citations      `[@key]`, `[@a; @b]` → "[2]" linked to the reference list;
 *   - math           `$...$` inline, `$$...$$ {#eq-ID}` display (numbered), by KaTeX at build time.
 */

export interface ReferenceEntry {
  key: string;
  /** The reference as plain text, formatted by the bibliography's style (bibliography.ts). */
  text: string;
  url?: string;
  /** In author-year styles, what a citation shows ("Goodfellow et al., 2015"); numbered otherwise. */
  cite?: string;
}

export interface CrossRefTarget {
  /** "Figure", "Table", "Equation", "Section". */
  kind: string;
  /** What a reference shows: "Figure 1", "equation (1)", "Section 3". */
  label: string;
  number: number;
}

export type Numbering = Map<string, CrossRefTarget>;

export interface ResultSource {
  notebook: string;
  cellIndex: number;
  cellLabel?: string;
}

/** Where Markdown being rendered comes from: its local images resolve from its file, and messages name its lines. */
export interface MarkdownSource {
  /** The file, relative to the project root ('report/index.md', 'notebooks/a.md'). */
  file: string;
  /** The file's line of the Markdown's first line. */
  line: number;
  /** Set for a cell's Markdown output ("an output of cell 3"): its lines are not the file's, so messages name `line`. */
  output?: string;
}

/**
 * A run other than the page's own that a page may cite (`{{result PROFILE:NAME}}`): another
 * profile's, from this machine's store or from its frozen record.
 */
export interface CitedRunView {
  profile: string;
  results: Record<string, unknown>;
  sources: Record<string, ResultSource>;
  counts: Record<string, Count>;
  /** Where its notebook pages are, from the site root ('profiles/<profile>/'). */
  pagesAt: string;
  /** Set for a frozen record: when and at which commit it was frozen. */
  frozen?: { commit: string | null; frozenAt: string };
  /** Its notebooks whose code, parameters or data have changed since the run (their values are stale). */
  stale: Set<string>;
}

/**
 * How a stale cited value names where it came from: the mark on the page ("frozen at C, code
 * changed since", as the freeze promises) and the warning's phrase ("the run frozen at C").
 */
export function staleOrigin(run: CitedRunView): { mark: string; origin: string } {
  if (!run.frozen) return { mark: `run of profile ${run.profile}`, origin: `the run of profile ${run.profile}` };
  const at = `frozen at ${run.frozen.commit?.slice(0, 12) ?? 'no commit'}`;
  return { mark: at, origin: `the run ${at}` };
}

export interface RenderContext {
  results: Record<string, unknown>;
  sources: Record<string, ResultSource>;
  /** The counts behind the page's own rates (results.json `counts`), for `ci`. */
  counts: Record<string, Count>;
  /** The page's own profile (`{{result PROFILE:NAME}}` with it is the page's own value). */
  profile: string | null;
  /** The other runs the page may cite, by profile. */
  runs: Map<string, CitedRunView>;
  /** Profiles of `runs` the page cited: its note says where their values come from. */
  usedRuns: Set<string>;
  /** Where the page's own notebook pages are, from the site root ('' for the build's own run). */
  pagesAt: string;
  references: ReferenceEntry[];
  numbering: Numbering;
  /** Named strings for `{{meta KEY}}` (e.g. the profile). */
  meta: Record<string, string>;
  /** Relative path from the page to the site root: '' for index.html, '../' for notebooks/. */
  rootPrefix: string;
  /** Page on which the ids of cross-ref targets live ('' = this page). */
  targetPage: string;
  warnings: ReportWarning[];
  /** Result names shown on this page (the notebook pages link back to their first use). */
  usedResults: Set<string>;
  /** Renders a block directive to trusted HTML; absent on pages without directives. `line` is 1-based in the Markdown source. */
  directive?: (name: string, args: string[], line: number) => string;
  /** Where the Markdown comes from (for local images and their messages). */
  source?: MarkdownSource;
  /** The 0-based line, within the Markdown being rendered, of the block now rendering (set by the renderer). */
  blockLine?: number;
  /**
   * A local image's path in the site (relative to its root), given its `src` as written and the
   * file line it is on; throws when the file may not be shown. Absent: local images stay as written.
   */
  localFile?: (src: string, source: MarkdownSource, line: number) => string;
}

export function createContext(partial: Partial<RenderContext> = {}): RenderContext {
  return {
    results: {},
    sources: {},
    counts: {},
    profile: null,
    runs: new Map(),
    usedRuns: new Set(),
    pagesAt: '',
    references: [],
    numbering: new Map(),
    meta: {},
    rootPrefix: '',
    targetPage: '',
    warnings: [],
    usedResults: new Set(),
    ...partial,
  };
}

/** YAML front matter (`---` … `---`) and the body after it. */
export function splitFrontMatter(src: string): { data: Record<string, unknown>; body: string } {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(src);
  if (!m) return { data: {}, body: src };
  const data = (parseYaml(m[1]!) ?? {}) as Record<string, unknown>;
  return { data, body: src.slice(m[0].length) };
}

// figure and table are recognised only to say what replaced them (site.ts).
const DIRECTIVE_LINE = /^\{\{\s*(embed|claims|provenance|references|figure|table)\b([^}]*)\}\}\s*$/;

/** The numbered kind of a label: `fig-` figures and `tbl-` tables, as in Quarto. */
export function labelKind(label: string): 'Figure' | 'Table' | undefined {
  return label.startsWith('fig-') ? 'Figure' : label.startsWith('tbl-') ? 'Table' : undefined;
}

/** `{{embed [PROFILE:]NOTEBOOK#LABEL}}`'s argument, split; undefined when it is not of that shape. */
export function parseEmbedTarget(arg: string | undefined): { profile?: string; notebook: string; label: string } | undefined {
  const m = /^(?:([A-Za-z][\w-]*):)?([^#\s:]+)#([A-Za-z][\w-]*)$/.exec(arg ?? '');
  return m ? { ...(m[1] ? { profile: m[1] } : {}), notebook: m[2]!, label: m[3]! } : undefined;
}

/** The 0-based lines of fenced and indented code blocks, where nothing is a directive, equation or heading. */
function codeLines(markdown: string): Set<number> {
  const lines = new Set<number>();
  for (const t of new MarkdownIt().parse(markdown, {})) {
    if ((t.type === 'fence' || t.type === 'code_block') && t.map) for (let i = t.map[0]; i < t.map[1]; i++) lines.add(i);
  }
  return lines;
}

/** The labels an embed has placed, each with the runs it came from ('' for this build's own run). */
export type Placements = Map<string, Set<string>>;

/**
 * Where an embed places a label, one rule for numbering and rendering: the first placement of
 * a label is its target (id = the label, so `@label` finds it); the same label from another
 * profile's run is a placement of its own (id `PROFILE-label`: the paper's protocol and this
 * build may both show their `txt-arithmetic`); the same label from the same run again is a
 * duplicate, which gets no id (ids are unique) and is reported.
 */
export function placeEmbed(placed: Placements, run: string, label: string): { id?: string } {
  const runs = placed.get(label);
  if (!runs) {
    placed.set(label, new Set([run]));
    return { id: label };
  }
  if (runs.has(run)) return {};
  runs.add(run);
  return { id: `${run || 'this-run'}-${label}` };
}

/**
 * Numbers figures, tables and display equations in the order they appear, and records the
 * sections that carry an explicit `{#sec-ID}`, so that a reference may come before its target.
 * Code blocks are skipped, as the renderer shows them: literal text, numbering nothing.
 * `profile` is this build's: an embed that names it is this build's run.
 */
export function scanNumbering(markdown: string, profile?: string): Numbering {
  const out: Numbering = new Map();
  const placed: Placements = new Map();
  let fig = 0;
  let tbl = 0;
  let eq = 0;
  const code = codeLines(markdown);
  for (const [i, line] of markdown.split(/\r?\n/).entries()) {
    if (code.has(i)) continue;
    const d = DIRECTIVE_LINE.exec(line.trim());
    if (d) {
      const arg = d[2]!.trim().split(/\s+/)[0] ?? '';
      const target = d[1] === 'embed' ? parseEmbedTarget(arg) : undefined;
      const label = target ? target.label : d[1] === 'claims' ? arg : undefined;
      const run = target?.profile !== undefined && target.profile !== profile ? target.profile : '';
      const id = label ? placeEmbed(placed, run, label).id : undefined;
      const kind = id ? labelKind(label!) : undefined;
      if (kind === 'Figure') out.set(id!, { kind, number: ++fig, label: `Figure ${fig}` });
      if (kind === 'Table') out.set(id!, { kind, number: ++tbl, label: `Table ${tbl}` });
      continue;
    }
    const e = /\$\$\s*\{#(eq-[\w-]+)\}\s*$/.exec(line);
    if (e) {
      eq++;
      out.set(e[1]!, { kind: 'Equation', number: eq, label: `equation (${eq})` });
      continue;
    }
    const h = /^#{1,6}\s+(.*?)\s*\{#(sec-[\w-]+)(?:\s+\.[\w-]+)*\}\s*$/.exec(line);
    if (h) {
      const num = /^(\d+)\s/.exec(h[1]!);
      const n = num ? Number(num[1]) : 0;
      out.set(h[2]!, { kind: 'Section', number: n, label: num ? `Section ${n}` : `“${h[1]!.replace(/^\d+\s+/, '')}”` });
    }
  }
  return out;
}

/** Record a warning at the line being rendered (its file's line, when the context knows the file). */
export function warn(ctx: RenderContext, rule: string, message: string): void {
  const src = ctx.source;
  if (!src) { ctx.warnings.push({ rule, message }); return; }
  const line = src.output ? src.line : src.line + (ctx.blockLine ?? 0);
  ctx.warnings.push({ file: src.file, line, rule, message: src.output ? `${message} (in ${src.output})` : message });
}

export function notRunMarker(what: string): string {
  return `<span class="not-run" title="${escapeHtml(what)}">not run</span>`;
}

/** The anchor for the first use of a result in the report (notebook pages link to it). */
export function resultAnchor(name: string): string {
  return `use-${name.replace(/[^\w.-]/g, '_')}`;
}

/** A cell's anchor on its notebook page; "cell N" is 1-based as in the runner's messages. */
export function cellAnchor(cellIndex: number): string {
  return `cell-${cellIndex + 1}`;
}

/** The cell that published a value, on its notebook page (`pagesAt`: where that run's pages are, from the site root). */
export function sourceHref(src: ResultSource, rootPrefix: string, pagesAt = ''): string {
  return `${rootPrefix}${pagesAt}notebooks/${encodeURIComponent(src.notebook)}.html#${cellAnchor(src.cellIndex)}`;
}

/** A result reference as written: `NAME` (the page's own run) or `PROFILE:NAME`. */
export function parseResultRef(ref: string): { profile?: string; name: string } {
  const m = /^([A-Za-z][\w-]*):(.+)$/.exec(ref);
  return m ? { profile: m[1]!, name: m[2]! } : { name: ref };
}

/** The run a reference names: the page's own (undefined) or another profile's; null when that profile is not available. */
function runOf(ctx: RenderContext, profile: string | undefined): CitedRunView | undefined | null {
  if (profile === undefined || profile === ctx.profile) return undefined;
  return ctx.runs.get(profile) ?? null;
}

/** ` [lo–hi]`: the 95% Wilson interval of a rate published with its count, in the value's format. */
function intervalText(count: Count | undefined, format: ValueFormat): string {
  if (!count) return '';
  const { lo, hi } = wilsonInterval(count);
  return ` [${formatValue(lo, format)}–${formatValue(hi, format)}]`;
}

/** Renders one published value as a link to the cell that produced it (`ref`: NAME or PROFILE:NAME). */
export function renderResult(ctx: RenderContext, ref: string, format: ValueFormat, opts: { ci?: boolean } = {}): string {
  const { profile, name } = parseResultRef(ref);
  const run = runOf(ctx, profile);
  if (run === null) {
    warn(ctx, 'missing-profile', `result "${ref}": profile ${profile} has no run here and no frozen record: shown as "not run"`);
    return notRunMarker(`${ref}: profile ${profile} has not run (reprobook build --profile ${profile}, then reprobook freeze --profile ${profile})`);
  }
  const results = run ? run.results : ctx.results;
  if (!has(results, name)) {
    warn(ctx, 'missing-result', `result "${ref}" is not in ${run ? `the run of profile ${run.profile}` : 'the results file'}: shown as "not run"`);
    return notRunMarker(`${ref}: no notebook published this result in ${run ? `the run of profile ${run.profile}` : 'this build'}`);
  }
  const counts = run ? run.counts : ctx.counts;
  const shown = formatValue(own(results, name), format) + (opts.ci ? intervalText(own(counts, name), format) : '');
  return resultLink(ctx, ref, shown);
}

/**
 * The one way a value appears in the report: `text` linked to the cell that published
 * `ref` (NAME, or PROFILE:NAME for another profile's run), with the anchor of its first use
 * (a notebook page links back to it). A value of another profile's frozen run is marked as
 * such, and as stale when the code behind it has changed since.
 */
export function resultLink(ctx: RenderContext, ref: string, shown: string): string {
  const { profile, name } = parseResultRef(ref);
  const run = runOf(ctx, profile) ?? undefined;
  const text = escapeHtml(shown);
  const first = !ctx.usedResults.has(ref);
  ctx.usedResults.add(ref);
  const id = first && !run ? ` id="${resultAnchor(name)}"` : '';
  const src = own(run ? run.sources : ctx.sources, name);
  let mark = '';
  if (run) {
    ctx.usedRuns.add(run.profile);
    const when = run.frozen ? `frozen ${run.frozen.frozenAt.slice(0, 10)} at ${run.frozen.commit?.slice(0, 12) ?? 'no commit'}` : 'this machine\'s run';
    mark = `<span class="run-mark${run.frozen ? ' frozen' : ''}" title="profile ${escapeHtml(run.profile)}, ${escapeHtml(when)}">${run.frozen ? '❄' : '†'}</span>`;
    if (src && run.stale.has(src.notebook)) {
      const { mark: at, origin } = staleOrigin(run);
      warn(ctx, 'stale-value', `result "${ref}" is from ${origin}, and the code, parameters or data of notebook ${src.notebook} have changed since`);
      mark += ` <span class="stale-value">(${escapeHtml(at)}, code changed since)</span>`;
    }
  }
  if (!src) return `<span class="result"${id} data-result="${escapeHtml(ref)}">${text}</span>${mark}`;
  const title = `${name}, published by ${run ? `profile ${run.profile}'s ` : ''}${src.notebook}, cell ${src.cellIndex + 1}`;
  return `<a class="result"${id} data-result="${escapeHtml(ref)}" href="${escapeHtml(sourceHref(src, ctx.rootPrefix, run ? run.pagesAt : ctx.pagesAt))}" title="${escapeHtml(title)}">${text}</a>${mark}`;
}

function renderPlaceholder(ctx: RenderContext, body: string): string {
  const parts = body.trim().split(/\s+/);
  const [kind, name, ...options] = parts;
  if (kind === 'result' && name) {
    const ci = options.includes('ci');
    const formats = options.filter((o) => o !== 'ci');
    const fmt = formats[0];
    if (formats.length > 1 || (fmt !== undefined && !isValueFormat(fmt))) {
      warn(ctx, 'bad-format', `placeholder {{${body.trim()}}}: unknown format "${formats.join(' ')}" (use one of ${VALUE_FORMATS.join(', ')}, and optionally ci)`);
      return notRunMarker(`bad format ${formats.join(' ')}`);
    }
    return renderResult(ctx, name, (fmt as ValueFormat | undefined) ?? 'number', { ci });
  }
  if (kind === 'meta' && name) {
    const v = own(ctx.meta, name);
    if (v === undefined) {
      warn(ctx, 'unknown-meta', `placeholder {{meta ${name}}}: nothing named "${name}" (known: ${Object.keys(ctx.meta).join(', ') || 'none'})`);
      return notRunMarker(name);
    }
    return escapeHtml(v);
  }
  warn(ctx, 'bad-placeholder', `placeholder {{${body.trim()}}} is not understood (use {{result NAME [FORMAT] [ci]}} or {{meta KEY}})`);
  return notRunMarker(body.trim());
}

function renderMath(ctx: RenderContext, tex: string, displayMode: boolean): string {
  try {
    return katex.renderToString(tex, { displayMode, throwOnError: true, output: 'htmlAndMathml', strict: 'ignore' });
  } catch (err) {
    warn(ctx, 'math', `math "${tex}" does not typeset: ${(err as Error).message}`);
    return `<code class="math-error">${escapeHtml(tex)}</code>`;
  }
}

function renderCrossRef(ctx: RenderContext, id: string): string {
  const target = ctx.numbering.get(id);
  if (!target) {
    warn(ctx, 'missing-crossref', `cross-reference @${id} has no target (place it with {{embed NOTEBOOK#${id}}}, $$…$$ {#${id}} or a heading {#${id}})`);
    return `<span class="xref-missing">@${escapeHtml(id)}?</span>`;
  }
  return `<a class="xref" href="${escapeHtml(ctx.targetPage)}#${escapeHtml(id)}">${escapeHtml(target.label)}</a>`;
}

function renderCitation(ctx: RenderContext, keys: string[]): string {
  let authorYear = false;
  const parts = keys.map((key) => {
    const i = ctx.references.findIndex((r) => r.key === key);
    if (i < 0) {
      warn(ctx, 'unknown-citation', `citation [@${key}] is not in the bibliography`);
      return `<span class="xref-missing">@${escapeHtml(key)}?</span>`;
    }
    const shown = ctx.references[i]!.cite;
    if (shown !== undefined) authorYear = true;
    return `<a class="cite" href="${escapeHtml(ctx.targetPage)}#ref-${escapeHtml(key)}">${escapeHtml(shown ?? String(i + 1))}</a>`;
  });
  return authorYear ? `(${parts.join('; ')})` : `[${parts.join(', ')}]`;
}

/** Escaped reference text with its DOIs, arXiv ids and web addresses as links. */
export function linkifyReference(text: string): string {
  const re = /(https?:\/\/[^\s<>"]+[^\s<>".,;)])|\b(?:doi:\s*)?(10\.\d{4,9}\/[^\s<>"]+[^\s<>".,;)])|\barXiv:\s*(\d{4}\.\d{4,5}(?:v\d+)?)/g;
  let out = '';
  let last = 0;
  for (const m of text.matchAll(re)) {
    out += escapeHtml(text.slice(last, m.index));
    const href = m[1] ?? (m[2] ? `https://doi.org/${m[2]}` : `https://arxiv.org/abs/${m[3]}`);
    out += `<a class="ref-url" href="${escapeHtml(href)}">${escapeHtml(m[0])}</a>`;
    last = m.index! + m[0].length;
  }
  return out + escapeHtml(text.slice(last));
}

function inlineRule(ctx: RenderContext) {
  return (state: StateInline, silent: boolean): boolean => {
    const src = state.src;
    const pos = state.pos;
    const ch = src.charCodeAt(pos);
    let html: string | null = null;
    let end = pos;
    if (ch === 0x7b /* { */ && src.startsWith('{{', pos)) {
      const close = src.indexOf('}}', pos + 2);
      if (close < 0) return false;
      if (!silent) html = renderPlaceholder(ctx, src.slice(pos + 2, close));
      end = close + 2;
    } else if (ch === 0x40 /* @ */) {
      const prev = pos > 0 ? src[pos - 1]! : ' ';
      if (/[\w.]/.test(prev)) return false;
      const m = /^@((?:fig|tbl|eq|sec)-[A-Za-z0-9_-]*[A-Za-z0-9])/.exec(src.slice(pos));
      if (!m) return false;
      if (!silent) html = renderCrossRef(ctx, m[1]!);
      end = pos + m[0].length;
    } else if (ch === 0x5b /* [ */) {
      const m = /^\[@([\w-]+(?:\s*[;,]\s*@[\w-]+)*)\]/.exec(src.slice(pos));
      if (!m) return false;
      if (!silent) html = renderCitation(ctx, m[1]!.split(/\s*[;,]\s*/).map((k) => k.replace(/^@/, '')));
      end = pos + m[0].length;
    } else if (ch === 0x24 /* $ */) {
      if (src.charCodeAt(pos + 1) === 0x24) return false;
      let close = pos + 1;
      while (true) {
        close = src.indexOf('$', close);
        if (close < 0) return false;
        if (src[close - 1] !== '\\') break;
        close++;
      }
      const tex = src.slice(pos + 1, close);
      // "$5 and $6" is money, not math: TeX must not start or end with a space.
      if (!tex || /^\s|\s$/.test(tex)) return false;
      if (!silent) html = renderMath(ctx, tex, false);
      end = close + 1;
    } else {
      return false;
    }
    if (!silent) {
      const token = state.push('reprobook_html', '', 0);
      token.content = html ?? '';
    }
    state.pos = end;
    return true;
  };
}

function blockMathRule(ctx: RenderContext) {
  return (state: StateBlock, startLine: number, endLine: number, silent: boolean): boolean => {
    const start = state.bMarks[startLine]! + state.tShift[startLine]!;
    const first = state.src.slice(start, state.eMarks[startLine]);
    if (!first.startsWith('$$')) return false;
    const lines: string[] = [];
    let line = startLine;
    let rest = first.slice(2);
    let label: string | undefined;
    let closed = false;
    while (line < endLine) {
      const close = /\$\$\s*(?:\{#(eq-[\w-]+)\})?\s*$/.exec(rest);
      if (close) {
        lines.push(rest.slice(0, close.index));
        label = close[1];
        closed = true;
        break;
      }
      lines.push(rest);
      line++;
      if (line >= endLine) break;
      rest = state.src.slice(state.bMarks[line]! + state.tShift[line]!, state.eMarks[line]);
    }
    if (!closed) return false;
    if (silent) return true;
    const tex = lines.join('\n').trim();
    const token = state.push('reprobook_html', '', 0);
    const math = renderMath(ctx, tex, true);
    const target = label ? ctx.numbering.get(label) : undefined;
    token.content = target
      ? `<div class="equation" id="${escapeHtml(label!)}"><div class="equation-body">${math}</div><span class="equation-number">(${target.number})</span></div>\n`
      : `<div class="equation"><div class="equation-body">${math}</div></div>\n`;
    token.map = [startLine, line + 1];
    state.line = line + 1;
    return true;
  };
}

function directiveRule(ctx: RenderContext) {
  return (state: StateBlock, startLine: number, _endLine: number, silent: boolean): boolean => {
    const text = state.src.slice(state.bMarks[startLine]! + state.tShift[startLine]!, state.eMarks[startLine]);
    const m = DIRECTIVE_LINE.exec(text.trim());
    if (!m) return false;
    if (silent) return true;
    const args = m[2]!.trim() ? m[2]!.trim().split(/\s+/) : [];
    const token = state.push('reprobook_html', '', 0);
    if (ctx.directive) {
      // Block rules run before the inline pass: what the directive warns about is on its line.
      ctx.blockLine = startLine;
      token.content = ctx.directive(m[1]!, args, startLine + 1) + '\n';
    } else {
      warn(ctx, 'directive-unavailable', `directive {{${m[1]}}} is not available on this page`);
      token.content = `<p>${notRunMarker(m[1]!)}</p>\n`;
    }
    token.map = [startLine, startLine + 1];
    state.line = startLine + 1;
    return true;
  };
}

/**
 * A local image (`![a](figures/x.png)`: no scheme) is the project's file: ctx.localFile checks
 * and places it, and the page links the copy in the site, never a path outside it.
 */
function localImages(ctx: RenderContext) {
  return (state: StateCore): void => {
    const { localFile, source } = ctx;
    if (!localFile || !source) return;
    for (const block of state.tokens) {
      for (const t of block.children ?? []) {
        if (t.type !== 'image') continue;
        const src = t.attrGet('src') ?? '';
        if (!src || src.startsWith('#') || /^[a-z][a-z\d+.-]*:/i.test(src)) continue;
        const line = source.output ? source.line : source.line + (block.map?.[0] ?? 0);
        t.attrSet('src', ctx.rootPrefix + localFile(src, source, line));
      }
    }
  };
}

/** Heading ids: an explicit trailing `{#id}` wins, otherwise a slug of the heading's text. */
function headingIds(state: StateCore): void {
  const seen = new Set<string>();
  const tokens = state.tokens;
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i]!.type !== 'heading_open') continue;
    const inline = tokens[i + 1];
    if (!inline || inline.type !== 'inline') continue;
    let id: string;
    const m = /\s*\{#([\w-]+)((?:\s+\.[\w-]+)*)\}\s*$/.exec(inline.content);
    if (m) {
      inline.content = inline.content.slice(0, m.index);
      id = m[1]!;
      const classes = m[2]!.trim().split(/\s+/).filter(Boolean).map((c) => c.slice(1));
      if (classes.length) tokens[i]!.attrSet('class', classes.join(' '));
    } else {
      id = inline.content.toLowerCase().replace(/[^\w\s-]/g, '').trim().replace(/\s+/g, '-') || 'section';
    }
    let unique = id;
    for (let n = 2; seen.has(unique); n++) unique = `${id}-${n}`;
    seen.add(unique);
    tokens[i]!.attrSet('id', unique);
  }
}

/**
 * The core 'inline' step, with the line of each block recorded in the context first, so that
 * a warning raised inside a paragraph names its line.
 */
function inlineWithLines(ctx: RenderContext) {
  return (state: StateCore): void => {
    for (const token of state.tokens) {
      if (token.type !== 'inline') continue;
      ctx.blockLine = token.map?.[0] ?? ctx.blockLine;
      state.md.inline.parse(token.content, state.md, state.env, token.children ?? (token.children = []));
    }
  };
}

export function createMarkdown(ctx: RenderContext): MarkdownIt {
  const md = new MarkdownIt({ html: false, linkify: false, typographer: true });
  md.core.ruler.at('inline', inlineWithLines(ctx));
  md.inline.ruler.before('link', 'reprobook_inline', inlineRule(ctx));
  md.block.ruler.before('fence', 'reprobook_math', blockMathRule(ctx), { alt: ['paragraph'] });
  md.block.ruler.before('paragraph', 'reprobook_directive', directiveRule(ctx));
  md.core.ruler.before('inline', 'reprobook_heading_ids', headingIds);
  md.core.ruler.after('inline', 'reprobook_local_images', localImages(ctx));
  // Trusted HTML generated by this module (every input string inside it was escaped).
  md.renderer.rules['reprobook_html'] = (tokens, idx) => tokens[idx]!.content;
  return md;
}

export function renderMarkdown(markdown: string, ctx: RenderContext): string {
  return createMarkdown(ctx).render(markdown);
}

/** The reference list, with ids that citations link to. */
export function renderReferences(refs: ReferenceEntry[], offset = 0): string {
  const items = refs.map((r, j) => {
    const i = j + offset;
    const url = r.url && /^https?:\/\//.test(r.url)
      ? ` <a class="ref-url" href="${escapeHtml(r.url)}">${escapeHtml(r.url)}</a>`
      : '';
    const number = r.cite === undefined ? `<span class="ref-number">[${i + 1}]</span>` : '';
    return `<li id="ref-${escapeHtml(r.key)}" value="${i + 1}">${number}<span class="ref-text">${linkifyReference(r.text)}${url}</span></li>`;
  });
  const authorYear = refs.some((r) => r.cite !== undefined);
  return `<${authorYear ? 'ul class="references author-year"' : 'ol class="references"'}>\n${items.join('\n')}\n</${authorYear ? 'ul' : 'ol'}>`;
}
