import type { ExecutedNotebook } from '../core/records.ts';
import { UserError } from '../util/errors.ts';
import { escapeHtml } from './html.ts';
import { cellAnchor, labelKind, notRunMarker, parseEmbedTarget, placeEmbed, staleOrigin, type Placements, type RenderContext } from './markdown.ts';
import { renderCellOutputs } from './notebook-page.ts';

/**
 * `{{embed NOTEBOOK#LABEL}}`: the outputs of a notebook's labelled cell, placed in the
 * report (as Quarto's `{{< embed >}}` and MyST's `![](#label)`): exactly what the cell's
 * notebook page shows under it (its displays, its streams and its last expression's value,
 * the usual home of a `plot(...)`), and an error when that is nothing. The cell's options give the
 * caption (`caption`) and the label its kind: `fig-` is a numbered figure, `tbl-` a numbered
 * table, anything else is placed as it is (a value, a Markdown paragraph). A mistake in the
 * report (an unknown notebook or label) stops the build; a notebook that did not run shows
 * "not run" with a warning, as a missing result does.
 */

export interface EmbedSite {
  /** The report file and the 1-based line of the directive, for messages. */
  file: string;
  line: number;
  /** The executed notebooks of this build, and the names of all the project's notebooks. */
  executed: ExecutedNotebook[];
  notebooks: string[];
  /** The executed notebooks of the other runs the report cites (`{{embed PROFILE:NOTEBOOK#LABEL}}`), by profile. */
  cited?: Map<string, ExecutedNotebook[]>;
  ctx: RenderContext;
  /** Report Markdown rendered inline (captions may cite and cross-reference). */
  inline: (markdown: string) => string;
  /** Labels already placed on this page, by run (see placeEmbed: ids are unique). */
  placed: Placements;
  /**
   * The embeds being rendered now, outermost first: a cell's Markdown output may itself embed,
   * and one that leads back to a cell being placed would recurse until the stack overflows.
   */
  embedding: Array<{ target: string; where: string; arg: string }>;
}

export function renderEmbed(arg: string | undefined, site: EmbedSite): string {
  const where = `${site.file}:${site.line}`;
  const target = parseEmbedTarget(arg);
  if (!target) {
    throw new UserError(`${where}: {{embed ${arg ?? ''}}} must name a notebook and a cell label, as {{embed NOTEBOOK#LABEL}}`, 'e.g. {{embed 02-results#fig-curve}}, where the cell has the option //| label: fig-curve');
  }
  const { notebook, label } = target;
  const warnHere = (rule: string, message: string) => site.ctx.warnings.push({ file: site.file, line: site.line, rule, message: `{{embed ${arg}}}: ${message}` });
  // Another profile's run (its frozen record when this machine has not run it), or this build's.
  const other = target.profile !== undefined && target.profile !== site.ctx.profile ? target.profile : undefined;
  const run = other ? site.ctx.runs.get(other) : undefined;
  const executed = other ? site.cited?.get(other) : site.executed;
  if (other && (!run || !executed)) {
    warnHere('missing-profile', `profile ${other} has no run here and no frozen record`);
    return `<p>${notRunMarker(`${arg}: profile ${other} has not run`)}</p>`;
  }
  const nb = executed!.find((e) => e.notebook.name === notebook);
  if (!nb) {
    if (!site.notebooks.includes(notebook)) {
      throw new UserError(`${where}: {{embed ${arg}}}: there is no notebook "${notebook}"`, `name one of: ${site.notebooks.join(', ') || '(the project has no notebooks)'}`);
    }
    warnHere('notebook-not-run', `notebook ${notebook} has not run in ${other ? `the run of profile ${other}` : 'this build'}`);
    return `<p>${notRunMarker(`${notebook}#${label}: the notebook has not run`)}</p>`;
  }
  const block = nb.notebook.blocks.find((b) => b.kind === 'code' && b.options.label === label);
  if (!block || block.kind !== 'code') {
    const labels = nb.notebook.blocks.flatMap((b) => (b.kind === 'code' && b.options.label ? [b.options.label] : []));
    throw new UserError(`${where}: {{embed ${arg}}}: notebook ${notebook} has no cell labelled "${label}"`, `label the cell with //| label: ${label}, or name one of its labels: ${labels.join(', ') || '(none)'}`);
  }
  const placing = `${notebook}#${label}`;
  const loop = site.embedding.findIndex((e) => e.target === placing);
  if (loop >= 0) {
    const outer = site.embedding[0]!;
    throw new UserError(
      `${outer.where}: {{embed ${outer.arg}}}: the output of ${placing} embeds itself (${[...site.embedding.slice(loop).map((e) => e.target), placing].join(' → ')})`,
      `remove the {{embed}} line from the Markdown that cell ${block.index + 1} of ${notebook} displays`,
    );
  }
  const cell = nb.cells.find((c) => c.index === block.index);
  const href = `${site.ctx.rootPrefix}${run ? run.pagesAt : site.ctx.pagesAt}notebooks/${encodeURIComponent(notebook)}.html#${cellAnchor(block.index)}`;
  let source = `<a class="source-link" href="${escapeHtml(href)}">${run ? `profile ${escapeHtml(run.profile)}, ` : ''}notebook ${escapeHtml(notebook)}, cell ${block.index + 1}</a>`;
  if (run) {
    site.ctx.usedRuns.add(run.profile);
    if (run.frozen) source += ` <span class="run-mark frozen" title="frozen ${escapeHtml(run.frozen.frozenAt.slice(0, 10))}">❄</span>`;
    if (run.stale.has(notebook)) {
      const { mark: at, origin } = staleOrigin(run);
      warnHere('stale-value', `its outputs are from ${origin}, and notebook ${notebook}'s code, parameters or data have changed since`);
      source += ` <span class="stale-value">(${escapeHtml(at)}, code changed since)</span>`;
    }
  }
  let body: string;
  if (!cell || cell.error) {
    warnHere('cell-not-run', `cell ${block.index + 1} of ${notebook} ${cell ? 'failed' : 'did not run'} in ${other ? `the run of profile ${other}` : 'this build'}`);
    body = `<p>${notRunMarker(`${notebook}#${label}: the cell ${cell ? 'failed' : 'did not run'}`)}</p>`;
  } else {
    site.embedding.push({ target: placing, where, arg: arg ?? '' });
    try {
      // The cell's Markdown outputs cite its own run's values.
      const cellCtx = run ? { ...site.ctx, results: run.results, sources: run.sources, counts: run.counts, profile: run.profile, pagesAt: run.pagesAt } : site.ctx;
      body = renderCellOutputs(nb.notebook, block, cell, cellCtx, { embedded: true });
    } finally {
      site.embedding.pop();
    }
    if (!body.trim()) {
      throw new UserError(
        `${where}: {{embed ${arg}}}: cell ${block.index + 1} of ${notebook} shows nothing${block.options.output === false ? ' (it has the option output: false)' : ' (no output and no value)'}, so the report would place an empty ${labelKind(label)?.toLowerCase() ?? 'block'}`,
        'end the cell with the value to show (e.g. a plot(...) or an array of rows), or call display(...) in it; drop //| output: false if it is set',
      );
    }
  }
  const placement = placeEmbed(site.placed, other ?? '', label);
  if (!placement.id) warnHere('placed-twice', `${label} is placed twice${other ? ` from profile ${other}` : ''}; the second has no id, so references go to the first`);
  const id = placement.id ? ` id="${escapeHtml(placement.id)}"` : '';
  const kind = labelKind(label);
  const numbered = kind ? site.ctx.numbering.get(placement.id ?? label) : undefined;
  const caption = block.options.caption ? site.inline(block.options.caption) : '';
  if (!numbered) return `<div class="embed"${id}>\n${body}\n${caption ? `<p class="embed-caption">${caption} (${source})</p>` : ''}</div>`;
  const figcaption = `<figcaption><span class="figure-label">${escapeHtml(numbered.label)}:</span> ${caption}<span class="figure-note"> From ${source}.</span></figcaption>`;
  return kind === 'Table'
    ? `<figure class="table-figure embed"${id}>\n${figcaption}\n${body}\n</figure>`
    : `<figure class="figure embed"${id}>\n${body}\n${figcaption}\n</figure>`;
}
