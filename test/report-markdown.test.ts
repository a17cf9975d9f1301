import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JSDOM } from 'jsdom';
import { createContext, renderMarkdown, scanNumbering, splitFrontMatter, type RenderContext } from '../src/engine/report/markdown.ts';
import { formatWarning } from '../src/engine/report/warnings.ts';

const refs = [
  { key: 'biggio2013', text: 'B. Biggio. Evasion.' },
  { key: 'goodfellow2015', text: 'I. Goodfellow. FGSM.' },
];

function ctxFor(md: string, extra: Partial<RenderContext> = {}): RenderContext {
  return createContext({
    results: { 'baseline.accuracy': 0.9912, 'fgsm.T100.successRate': 0.011, count: 10000 },
    sources: { 'baseline.accuracy': { notebook: '02-baseline', cellIndex: 2 } },
    references: refs,
    numbering: scanNumbering(md),
    meta: { profile: 'smoke' },
    ...extra,
  });
}

const dom = (html: string) => new JSDOM(`<body>${html}</body>`).window.document;

test('a result placeholder shows the formatted value, linked to the cell that published it', () => {
  const src = 'Accuracy {{result baseline.accuracy percent}}, again {{result baseline.accuracy percent1}}; T100 {{result fgsm.T100.successRate percent}}; n = {{result count int}}.';
  const ctx = ctxFor(src);
  const doc = dom(renderMarkdown(src, ctx));
  const links = doc.querySelectorAll('a.result');
  assert.equal(links.length, 2);
  assert.equal(links[0]!.textContent, '99.12%');
  assert.equal(links[0]!.getAttribute('href'), 'notebooks/02-baseline.html#cell-3', 'cell N is 1-based');
  assert.equal(links[0]!.id, 'use-baseline.accuracy', 'the first use carries the anchor notebook pages link back to');
  assert.equal(links[1]!.textContent, '99.1%');
  assert.equal(links[1]!.id, '', 'only the first use has the id');
  assert.equal(doc.querySelector('span.result')!.textContent, '1.10%', 'a result without a source is shown unlinked');
  assert.match(doc.body.textContent!, /n = 10,000\./);
  assert.deepEqual(ctx.warnings, []);
  assert.deepEqual([...ctx.usedResults].sort(), ['baseline.accuracy', 'count', 'fgsm.T100.successRate']);
});

test('a placeholder naming a missing result shows "not run" and warns', () => {
  const src = 'PGD: {{result pgd.T100.successRate percent}}. Bad: {{result count fancy}}. Odd: {{whatever}}. Profile {{meta profile}}, {{meta nope}}.';
  const ctx = ctxFor(src);
  const doc = dom(renderMarkdown(src, ctx));
  assert.equal(doc.querySelectorAll('.not-run').length, 4);
  assert.match(doc.body.textContent!, /Profile smoke/);
  assert.equal(ctx.warnings.length, 4);
  assert.match(formatWarning(ctx.warnings[0]!), /"pgd\.T100\.successRate" is not in the results file/);
  assert.match(formatWarning(ctx.warnings[1]!), /unknown format "fancy"/);
});

test('cross-references are numbered in document order and may come before their target', () => {
  const src = [
    'See @fig-fgsm, @tbl-claims, @eq-softmax and @sec-method; an email a@fig-x is not a reference.',
    '',
    '## 2 Method {#sec-method}',
    '',
    '$$',
    'f_i(x) = \\frac{e^{z_i/T}}{\\sum_l e^{z_l/T}}',
    '$$ {#eq-softmax}',
    '',
    '{{embed 01-data#fig-other}}',
    '',
    '{{embed 02-run#val-unnumbered}}',
    '',
    '{{embed 02-run#fig-fgsm}}',
    '',
    '{{claims tbl-claims}}',
    '',
    '{{embed 03-again#fig-fgsm}}',
  ].join('\n');
  const ctx = ctxFor(src, { directive: (name, args) => `<div class="d" data-name="${name}" data-arg="${args[0]}"></div>` });
  const doc = dom(renderMarkdown(src, ctx));
  const xrefs = [...doc.querySelectorAll('a.xref')].map((a) => [a.textContent, a.getAttribute('href')]);
  assert.deepEqual(xrefs, [['Figure 2', '#fig-fgsm'], ['Table 1', '#tbl-claims'], ['equation (1)', '#eq-softmax'], ['Section 2', '#sec-method']]);
  assert.ok(doc.getElementById('sec-method'), 'an explicit heading id');
  assert.equal(doc.getElementById('eq-softmax')!.querySelector('.equation-number')!.textContent, '(1)');
  assert.ok(doc.getElementById('eq-softmax')!.querySelector('.katex-display'), 'display math typeset by KaTeX at build time');
  assert.equal(doc.querySelectorAll('div.d').length, 5, 'directives replaced by the generated HTML');
  // Only fig- and tbl- labels are numbered, each once, where it is first placed.
  assert.deepEqual([...ctx.numbering.entries()].filter(([, t]) => t.kind !== 'Equation' && t.kind !== 'Section').map(([id, t]) => [id, t.label]),
    [['fig-other', 'Figure 1'], ['fig-fgsm', 'Figure 2'], ['tbl-claims', 'Table 1']]);
  assert.deepEqual(ctx.warnings, []);
  const missing = ctxFor('See @fig-nowhere.');
  assert.match(renderMarkdown('See @fig-nowhere.', missing), /xref-missing/);
  assert.match(formatWarning(missing.warnings[0]!), /@fig-nowhere has no target/);
});

test('citations link to the reference list by number; unknown keys warn', () => {
  const ctx = ctxFor('');
  const doc = dom(renderMarkdown('As shown [@goodfellow2015] and [@biggio2013; @goodfellow2015]; [@nobody]. A [normal link](https://example.org).', ctx));
  const cites = [...doc.querySelectorAll('a.cite')].map((a) => [a.textContent, a.getAttribute('href')]);
  assert.deepEqual(cites, [['2', '#ref-goodfellow2015'], ['1', '#ref-biggio2013'], ['2', '#ref-goodfellow2015']]);
  assert.match(doc.body.textContent!, /As shown \[2\] and \[1, 2\]/);
  assert.match(formatWarning(ctx.warnings[0]!), /\[@nobody\] is not in the bibliography/);
  assert.equal(doc.querySelector('a[href="https://example.org"]')!.textContent, 'normal link', 'ordinary links still work');
});

test('inline math is typeset; dollar amounts are left alone', () => {
  const ctx = ctxFor('');
  const html = renderMarkdown('Temperature $T = 100$ costs $5 and $6 here.', ctx);
  const doc = dom(html);
  assert.equal(doc.querySelectorAll('.katex').length, 1);
  assert.match(doc.body.textContent!, /costs \$5 and \$6 here/);
  const bad = ctxFor('');
  renderMarkdown('Broken $\\frac{1}$ math.', bad);
  assert.match(formatWarning(bad.warnings[0]!), /does not typeset/);
});

test('raw HTML in prose is shown as text, never as markup', () => {
  const ctx = ctxFor('');
  const html = renderMarkdown('Hi <script>window.__pwned=1</script> <img src=x onerror="alert(1)">\n\n<div onclick="x()">block</div>\n\n[click](javascript:alert(1))', ctx);
  const doc = dom(html);
  assert.equal(doc.querySelectorAll('script, img, div[onclick]').length, 0);
  assert.match(doc.body.textContent!, /<script>window\.__pwned=1<\/script>/);
  assert.equal(doc.querySelectorAll('a').length, 0, 'a javascript: link is not made a link');
});

test('front matter is split from the body', () => {
  const { data, body } = splitFrontMatter('---\ntitle: On X\nauthors: A and B\n---\n# Body\n');
  assert.deepEqual(data, { title: 'On X', authors: 'A and B' });
  assert.equal(body, '# Body\n');
  assert.deepEqual(splitFrontMatter('no front matter').data, {});
});

test('a directive, equation or heading inside a code block is text: it takes no number, and a reference to it has no target (issue 22, item 6)', () => {
  const src = [
    'See @fig-real and @fig-fake.',
    '',
    '```markdown',
    '{{embed a#fig-fake}}',
    '$$ x $$ {#eq-fake}',
    '```',
    '',
    '~~~~',
    '{{embed a#fig-fake2}}',
    '~~~~',
    '',
    '    {{embed a#fig-fake3}}',
    '',
    '{{embed b#fig-real}}',
  ].join('\n');
  const numbering = scanNumbering(src);
  assert.deepEqual([...numbering.keys()], ['fig-real']);
  assert.equal(numbering.get('fig-real')!.label, 'Figure 1');
  const ctx = ctxFor(src, { directive: () => '<div id="fig-real"></div>' });
  const doc = dom(renderMarkdown(src, ctx));
  assert.match(doc.querySelector('pre')!.textContent!, /\{\{embed a#fig-fake\}\}/, 'the fenced directive stays literal');
  assert.deepEqual(ctx.warnings.map((w) => /@fig-\w+/.exec(formatWarning(w))?.[0]), ['@fig-fake'], 'the dangling reference warns (so --strict fails)');
});
