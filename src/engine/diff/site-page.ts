import { escapeHtml } from '../report/html.ts';
import type { RunDiff } from './diff.ts';
import { describeLabel, formatDelta, showValue } from './render.ts';

/**
 * `_site/diff.html`: this build against the previous build of the same profile, so that a
 * reader of the site sees what moved without a terminal. Every string is escaped.
 */
export function renderDiffPage(d: RunDiff): string {
  const rows = d.values.filter((v) => v.change !== 'same');
  const c = d.counts;
  const values = rows.length === 0
    ? `<p>Every one of the ${d.values.length} results is the same as in the previous build.</p>`
    : `<div class="table-scroll"><table class="data numbers diff"><thead><tr><th>Result</th><th>Previous</th><th>This build</th><th>Change</th></tr></thead><tbody>\n${rows.map((v) =>
      `<tr class="change-${v.change}"><th scope="row"><code>${escapeHtml(v.name)}</code></th><td class="num">${escapeHtml(showValue(v.a))}</td><td class="num">${escapeHtml(showValue(v.b))}</td><td class="num">${escapeHtml(formatDelta(v))}</td></tr>`).join('\n')}\n</tbody></table></div>`;
  const moved = d.verdicts.filter((v) => v.changed);
  const verdicts = d.verdicts.length === 0 ? '' : moved.length === 0
    ? `<p>All ${d.verdicts.length} claim verdicts are the same.</p>`
    : `<div class="table-scroll"><table class="data claims diff"><thead><tr><th>Claim</th><th>Previous</th><th>This build</th></tr></thead><tbody>\n${moved.map((v) =>
      `<tr id="claim-${escapeHtml(v.id)}"><td>${escapeHtml(v.claim)}</td><td>${escapeHtml(v.a)}${v.aText ? ` (${escapeHtml(v.aText)})` : ''}</td><td>${escapeHtml(v.b)}${v.bText ? ` (${escapeHtml(v.bText)})` : ''}</td></tr>`).join('\n')}\n</tbody></table></div>`;
  return `<article class="diff-page">
<h1>Changes since the previous build</h1>
<p class="run-info">Previous: ${escapeHtml(describeLabel(d.a))}<br>This build: ${escapeHtml(describeLabel(d.b))}</p>
<p>${c.changed} changed, ${c.added} new, ${c.removed} gone, ${c.same} the same; ${c.verdictsChanged} claim verdict${c.verdictsChanged === 1 ? '' : 's'} changed. From the terminal: <code>reprobook diff ${escapeHtml(d.b.profile ?? 'default')}</code>.</p>
<h2>Results</h2>
${values}
${verdicts ? `<h2>Claim verdicts</h2>\n${verdicts}` : ''}
</article>`;
}
