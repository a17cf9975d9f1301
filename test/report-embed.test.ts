import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JSDOM } from 'jsdom';
import { needs } from './helpers/requirements.ts';
import { createContext, createMarkdown, scanNumbering, type Placements, type RenderContext } from '../src/engine/report/markdown.ts';
import { renderEmbed, type EmbedSite } from '../src/engine/report/embed.ts';
import { renderCellOutputs } from '../src/engine/report/notebook-page.ts';
import { codeCells, parseNotebook, parseNotebookSource } from '../src/engine/notebook/markdown-format.ts';
import { toDisplayItem } from '../src/engine/notebook/display.ts';
import type { CellOutput, DisplayItem, ExecutedNotebook, NotebookDocument } from '../src/engine/core/records.ts';
import { UserError } from '../src/engine/util/errors.ts';

/**
 * Issue 13: a project of someone else's, with two notebooks and a report/index.md that places
 * a figure and a table from them by reference, builds to HTML and PDF with numbered captions
 * and working cross-references, and nothing in the output comes from this repository's paper.
 */

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = (root: string, ...args: string[]) =>
  spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(repoRoot, 'src/engine/cli/main.ts'), ...args, '--root', root], { encoding: 'utf8', timeout: 240_000 });
const pdfNeeds = await needs('chromium', 'poppler');
const FLAGSHIP_WORDS = /distill|mnist|fgsm|papernot|mcdaniel|temperature|jsma|saliency/i;

const GROWTH = `---
title: Growth
parameters:
  terms: 10000
  bases: [2, 3]
---

A geometric series, drawn.

\`\`\`ts
//| label: fig-growth
//| caption: "Powers of two, by exponent (cites [@knuth1997art])."
const ys = [1, 2, 4, 8, 16];
publish('growth.last', ys.at(-1)!);
display.svg(\`<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100" viewBox="0 0 200 100">\${ys.map((y, i) => \`<circle class="pt" cx="\${20 + 40 * i}" cy="\${100 - 5 * y}" r="3"/>\`).join('')}</svg>\`);
\`\`\`
`;

const SIZES = `---
title: Sizes
---

\`\`\`ts
//| label: tbl-sizes
//| caption: Sizes of the three boxes.
display.table([{ box: 'small', side: 1 }, { box: 'medium', side: 2 }, { box: 'large', side: 3 }]);
\`\`\`

\`\`\`ts
//| label: summary
display.markdown('The largest box has side **3**.');
\`\`\`
`;

const INDEX = `---
title: Boxes and Powers
authors: A. Author
---

## Results {#sec-results}

@fig-growth shows the series, whose last term is {{result growth.last int}}; @tbl-sizes lists the boxes. The run used {{meta param.terms}} terms of bases {{meta param.bases}}.

{{embed 02-sizes#tbl-sizes}}

{{embed 01-growth#fig-growth}}

{{embed 02-sizes#summary}}

## References

{{references}}
`;

async function project(index = INDEX): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-embed-'));
  await mkdir(join(root, 'notebooks'));
  await mkdir(join(root, 'report'));
  await writeFile(join(root, 'notebooks', '01-growth.md'), GROWTH);
  await writeFile(join(root, 'notebooks', '02-sizes.md'), SIZES);
  await writeFile(join(root, 'report', 'index.md'), index);
  await writeFile(join(root, 'report', 'references.bib'), '@book{knuth1997art,\n  author = {Knuth, Donald E.},\n  title = {The Art of Computer Programming, Volume 1},\n  publisher = {Addison-Wesley},\n  year = {1997}\n}\n');
  return root;
}

test('a temp project embeds a figure and a table from its notebooks: numbered, captioned, cross-referenced, in HTML and PDF, with no word of the flagship', pdfNeeds, async () => {
  const root = await project();
  try {
    const r = cli(root, 'build');
    assert.equal(r.status, 0, r.stderr);
    const doc = new JSDOM(await readFile(join(root, '_site', 'index.html'), 'utf8')).window.document;
    assert.equal(doc.querySelector('h1')!.textContent, 'Boxes and Powers');
    assert.match(doc.body.textContent!, /The run used 10,000 terms of bases 2, 3\./, 'parameters in prose are formatted as numbers are');

    const fig = doc.getElementById('fig-growth')!;
    assert.equal(fig.tagName, 'FIGURE');
    assert.equal(fig.querySelectorAll('svg circle.pt').length, 5, 'the cell\'s SVG output is placed');
    assert.match(fig.querySelector('figcaption')!.textContent!, /^Figure 1: Powers of two, by exponent \(cites \[1\]\)\. From notebook 01-growth, cell 1\.$/);
    const tbl = doc.getElementById('tbl-sizes')!;
    assert.equal(tbl.firstElementChild!.tagName, 'FIGCAPTION', 'a table\'s caption is above it');
    assert.match(tbl.querySelector('figcaption')!.textContent!, /^Table 1: Sizes of the three boxes\./);
    assert.deepEqual([...tbl.querySelectorAll('tbody tr td:first-child')].map((td) => td.textContent), ['small', 'medium', 'large']);
    assert.match(doc.getElementById('summary')!.textContent!, /The largest box has side 3\./, 'an unnumbered label places its output as it is');

    const xrefs = [...doc.querySelectorAll('a.xref')].map((a) => [a.textContent, a.getAttribute('href')]);
    assert.deepEqual(xrefs, [['Figure 1', '#fig-growth'], ['Table 1', '#tbl-sizes']]);
    for (const [, href] of xrefs) assert.ok(doc.getElementById(href!.slice(1)), `${href} resolves`);
    const source = fig.querySelector('a.source-link')!.getAttribute('href')!;
    assert.equal(source, 'notebooks/01-growth.html#cell-1');
    const nb = new JSDOM(await readFile(join(root, '_site', source.split('#')[0]!), 'utf8')).window.document;
    assert.ok(nb.getElementById('cell-1'), 'the caption links to the cell that drew the figure');
    assert.equal(doc.querySelectorAll('[id]').length, new Set([...doc.querySelectorAll('[id]')].map((e) => e.id)).size, 'ids are unique');

    const pdf = execFileSync('pdftotext', ['-layout', join(root, '_site', 'report.pdf'), '-'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
    assert.match(pdf, /Figure 1: Powers of two, by exponent \(cites \[1\]\)/);
    assert.match(pdf, /Table 1: Sizes of the three boxes/);
    assert.match(pdf, /Figure 1 shows the series, whose last term is 16; Table 1 lists the boxes/);
    assert.match(pdf, /Boxes and Powers/);

    const files = (await readdir(join(root, '_site'), { recursive: true })).filter((f) => /\.(html|json|css)$/.test(f));
    for (const f of files) assert.doesNotMatch(await readFile(join(root, '_site', f), 'utf8'), FLAGSHIP_WORDS, `_site/${f} names the flagship`);
    assert.doesNotMatch(pdf, FLAGSHIP_WORDS, 'report.pdf names the flagship');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('an embed naming an unknown notebook or label stops the build with the report line and what exists', async () => {
  const root = await project(INDEX.replace('{{embed 02-sizes#tbl-sizes}}', '{{embed 02-sizes#tbl-nope}}'));
  try {
    assert.equal(cli(root, 'run').status, 0);
    const r = cli(root, 'build', '--no-run', '--no-pdf');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /report\/index\.md:10: \{\{embed 02-sizes#tbl-nope\}\}: notebook 02-sizes has no cell labelled "tbl-nope"/);
    assert.match(r.stderr, /tbl-sizes, summary/);
    await writeFile(join(root, 'report', 'index.md'), INDEX.replace('{{embed 01-growth#fig-growth}}', '{{embed 03-missing#fig-growth}}'));
    const r2 = cli(root, 'build', '--no-run', '--no-pdf');
    assert.equal(r2.status, 1);
    assert.match(r2.stderr, /report\/index\.md:12: .*there is no notebook "03-missing"[\s\S]*01-growth, 02-sizes/);
    await writeFile(join(root, 'report', 'index.md'), INDEX.replace('{{embed 01-growth#fig-growth}}', '{{figure fig-growth}}'));
    const r3 = cli(root, 'build', '--no-run', '--no-pdf');
    assert.equal(r3.status, 1);
    assert.match(r3.stderr, /is no longer a directive[\s\S]*\{\{embed NOTEBOOK#fig-growth\}\}/);
    assert.ok(!existsSync(join(root, '_site', 'index.html')), 'nothing is written');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a project without report/ gets a report made of its notebooks, under its own name', async () => {
  const root = await project();
  try {
    await rm(join(root, 'report'), { recursive: true });
    const r = cli(root, 'build', '--no-pdf');
    assert.equal(r.status, 0, r.stderr);
    const html = await readFile(join(root, '_site', 'index.html'), 'utf8');
    const doc = new JSDOM(html).window.document;
    assert.ok(doc.querySelector('a[href="notebooks/01-growth.html"]') && doc.querySelector('a[href="notebooks/02-sizes.html"]'));
    assert.doesNotMatch(html, FLAGSHIP_WORDS);
    assert.ok(!existsSync(join(root, '_site', 'assets', 'project.css')), 'no project style: only reprobook\'s');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

// ---- Issue 22, item 1: an embed shows what the notebook page shows for its cell ----

/** An executed notebook with the given cells' outputs (no run needed). */
function executedFixture(doc: NotebookDocument, outputs: Record<string, CellOutput[]>): ExecutedNotebook {
  const cells = codeCells(doc).map((c) => ({ index: c.index, outputs: outputs[c.options.label ?? ''] ?? [], durationMs: 1 }));
  return {
    format: 'reprobook.executed/1', notebook: doc, profile: null, params: {}, cacheKey: 'k', cacheKeyInputs: {}, status: 'ok', cells, results: [],
    startedAt: '2020-01-01T00:00:00Z', wallTimeMs: 1, environment: { node: 'v20', platform: 'linux', cpus: 1, packages: {} },
  };
}

/** The report Markdown rendered with `{{embed}}` as the site renders it. */
function renderReport(markdown: string, executed: ExecutedNotebook[]): { doc: Document; ctx: RenderContext } {
  const ctx = createContext({ numbering: scanNumbering(markdown) });
  const placed: Placements = new Map();
  const embedding: EmbedSite['embedding'] = [];
  const md = createMarkdown(ctx);
  ctx.directive = (name, args, line) => renderEmbed(args[0], {
    file: 'report/index.md', line, executed, notebooks: executed.map((e) => e.notebook.name), ctx, inline: (s) => md.renderInline(s), placed, embedding,
  });
  return { doc: new JSDOM(`<body>${md.render(markdown)}</body>`).window.document, ctx };
}

async function plotSvg(): Promise<DisplayItem> {
  const Plot = await import('@observablehq/plot');
  const { window } = new JSDOM('<!doctype html><body></body>');
  const svg = Plot.plot({ document: window.document, marks: [Plot.line([{ a: 1, b: 2 }, { a: 2, b: 3 }], { x: 'a', y: 'b' })] });
  return toDisplayItem(svg)!;
}

test('an embed places the cell\'s last-expression value, as its notebook page shows it: the flagship\'s Figure 2 (06-beyond#fig-beyond) is a plot(...) value', async () => {
  const doc = await parseNotebook(join(repoRoot, 'notebooks', '06-beyond.md'), 'notebooks/06-beyond.md');
  const figure = await plotSvg();
  const executed = executedFixture(doc, { 'fig-beyond': [{ type: 'result', item: figure }] });
  const { doc: page, ctx } = renderReport('@fig-beyond shows it.\n\n{{embed 06-beyond#fig-beyond}}\n', [executed]);
  const fig = page.getElementById('fig-beyond')!;
  assert.equal(fig.tagName, 'FIGURE');
  assert.ok(fig.querySelector('svg path'), 'the plot\'s line is in the figure');
  assert.match(fig.querySelector('figcaption')!.textContent!, /^Figure 1: Beyond the paper: success of FGSM/);
  assert.deepEqual(ctx.warnings, []);
  // What the notebook page shows under that cell is what the embed places.
  const block = codeCells(doc).find((c) => c.options.label === 'fig-beyond')!;
  const onPage = renderCellOutputs(doc, block, executed.cells[block.index]!, createContext(), { embedded: true });
  assert.ok(fig.innerHTML.includes(onPage), 'the same outputs');
});

test('an embed of a cell that shows nothing is an error naming the report line', async () => {
  const doc = parseNotebookSource('---\ntitle: N\n---\n\n```ts\n//| label: fig-empty\nconst x = 1;\n```\n\n```ts\n//| label: fig-hidden\n//| output: false\n42\n```\n', 'notebooks/n.md');
  const executed = executedFixture(doc, { 'fig-hidden': [{ type: 'result', item: { kind: 'text', text: '42' } }] });
  for (const [label, line] of [['fig-empty', 3], ['fig-hidden', 5]] as const) {
    assert.throws(() => renderReport(`# R\n\n${line === 5 ? 'Text.\n\n' : ''}{{embed n#${label}}}\n`, [executed]), (e: unknown) =>
      e instanceof UserError && new RegExp(`^report/index\\.md:${line}: \\{\\{embed n#${label}\\}\\}: cell ${label === 'fig-empty' ? 1 : 2} of n shows nothing`).test(e.message));
  }
});

test('a cell whose Markdown output embeds itself, directly or through another, is an error naming the report line and the loop (issue 22, item 6)', () => {
  const doc = parseNotebookSource('---\ntitle: N\n---\n\n```ts\n//| label: self\nmd`x`\n```\n\n```ts\n//| label: ping\nmd`x`\n```\n\n```ts\n//| label: pong\nmd`x`\n```\n', 'notebooks/n.md');
  const out = (markdown: string): CellOutput[] => [{ type: 'result', item: { kind: 'markdown', markdown } }];
  const executed = executedFixture(doc, { self: out('Me:\n\n{{embed n#self}}\n'), ping: out('{{embed n#pong}}\n'), pong: out('{{embed n#ping}}\n') });
  assert.throws(() => renderReport('# R\n\n{{embed n#self}}\n', [executed]), (e: unknown) =>
    e instanceof UserError && /^report\/index\.md:3: \{\{embed n#self\}\}: the output of n#self embeds itself \(n#self → n#self\)/.test(e.message));
  assert.throws(() => renderReport('# R\n\nText.\n\n{{embed n#ping}}\n', [executed]), (e: unknown) =>
    e instanceof UserError && /^report\/index\.md:5: .*n#ping → n#pong → n#ping/.test(e.message));
});
