import { own } from '../util/own.ts';
import type { ExecutedNotebook } from '../core/records.ts';
import { escapeHtml } from './html.ts';
import { formatValue } from '../results/values.ts';
import { resultAnchor, sourceHref, type RenderContext } from './markdown.ts';
import { renderProvenance, type Provenance } from './provenance.ts';

/**
 * The index page of a project that has no report/paper.md of its own: its notebooks, every
 * result they published (each linked to its cell) and the provenance. A user's project must
 * not be presented as another project's paper.
 */

export interface ProjectIndexInput {
  title: string;
  profile: string | null;
  builtAt: string;
  executed: ExecutedNotebook[];
  provenance: Provenance;
  /** Results and sources of the build; result ids are recorded in ctx.usedResults. */
  ctx: RenderContext;
}

/** The body of index.html (inside <main>). */
export function renderProjectIndex(o: ProjectIndexInput): string {
  const { ctx } = o;
  const notebooks = o.executed.map((nb) => {
    const fm = nb.notebook.frontMatter;
    const status = nb.status === 'ok' ? '' : ' <strong class="dirty">(failed in this run: its page shows the error)</strong>';
    return `<li><a href="notebooks/${encodeURIComponent(nb.notebook.name)}.html">${escapeHtml(fm.title || nb.notebook.name)}</a>`
      + ` <code>${escapeHtml(nb.notebook.path)}</code>${fm.summary ? `: ${escapeHtml(fm.summary)}` : ''}${status}</li>`;
  });
  const names = Object.keys(ctx.results).sort();
  const rows = names.map((name) => {
    const src = own(ctx.sources, name);
    const first = !ctx.usedResults.has(name);
    ctx.usedResults.add(name);
    const id = first ? ` id="${resultAnchor(name)}"` : '';
    const text = escapeHtml(formatValue(own(ctx.results, name), 'number'));
    const value = src ? `<a class="result"${id} href="${escapeHtml(sourceHref(src, ''))}">${text}</a>` : `<span class="result"${id}>${text}</span>`;
    const where = src ? `${escapeHtml(src.notebook)}, cell ${src.cellIndex + 1}` : '';
    return `<tr><th scope="row"><code>${escapeHtml(name)}</code></th><td class="num">${value}</td><td>${where}</td></tr>`;
  });
  const results = rows.length
    ? `<div class="table-scroll"><table class="data numbers">\n<thead><tr><th>Result</th><th>Value</th><th>Published by</th></tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table></div>`
    : '<p>No notebook published a result (<code>publish(name, value)</code> in a cell) in this build.</p>';
  return `<article class="paper project-index">
<header class="title-block">
<h1>${escapeHtml(o.title)}</h1>
<p class="reproduced">Notebooks built by <strong>reprobook</strong> · profile <strong class="profile-name">${escapeHtml(o.profile ?? 'default')}</strong> · built ${escapeHtml(o.builtAt.slice(0, 10))}</p>
</header>
<section class="paper-section">
<h2 id="sec-notebooks">Notebooks</h2>
${notebooks.length ? `<ul class="notebook-list">\n${notebooks.join('\n')}\n</ul>` : '<p>No executed notebooks.</p>'}
<p class="note">Write <code>report/paper.md</code> in the project to make this page a report of your own (see reprobook's <code>report/README.md</code>).</p>
</section>
<section class="paper-section">
<h2 id="sec-results">Results</h2>
${results}
</section>
<section class="paper-section">
<h2 id="sec-provenance">Provenance</h2>
<div class="provenance">${renderProvenance(o.provenance, '')}</div>
</section>
</article>`;
}
