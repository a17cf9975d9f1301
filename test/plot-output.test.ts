import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JSDOM } from 'jsdom';
import { parseNotebookSource } from '../src/engine/notebook/markdown-format.ts';
import { executeCells } from '../src/engine/notebook/runner.ts';
import type { DisplayItem } from '../src/engine/core/records.ts';
import { renderDisplayItem } from '../src/engine/report/notebook-page.ts';
import { sanitizeSvg } from '../src/engine/report/sanitize.ts';
import type { RenderContext } from '../src/engine/report/markdown.ts';

/**
 * Issue 12, item 7, without a browser (the pixel comparison is test/plot-gallery.test.ts):
 * what plot() returns in a cell reaches the notebook page whole, and the page stays safe.
 */

async function figure(code: string): Promise<{ item: DisplayItem; page: Document }> {
  const doc = parseNotebookSource(`\`\`\`ts\nconst data = Array.from({ length: 12 }, (_, i) => ({ x: i, y: i % 5, c: 'abc'[i % 3], v: i / 11 }));\n${code}\n\`\`\`\n`, 'notebooks/t.md');
  const r = await executeCells(doc, { root: process.cwd(), profile: null, params: {}, quietArtifacts: true });
  assert.equal(r.status, 'ok', JSON.stringify(r.error));
  const out = r.cells[0]!.outputs.find((o) => o.type === 'result');
  assert.ok(out && out.type === 'result');
  const html = renderDisplayItem(out.item, {} as RenderContext);
  return { item: out.item, page: new JSDOM(`<!doctype html><body>${html}</body>`).window.document };
}

test('a plot with a color legend keeps its dots, not only a legend swatch', async () => {
  const { page } = await figure(`plot({ color: { legend: true }, marks: [Plot.dot(data, { x: 'x', y: 'y', fill: 'c' })] })`);
  assert.equal(page.querySelectorAll('figure.output circle').length, 12, 'every dot');
  assert.deepEqual([...page.querySelectorAll('.plot-figure [class$="-swatch"]')].map((s) => s.textContent), ['a', 'b', 'c'], 'the legend');
});

test("a plot's title, subtitle and caption are shown", async () => {
  const { item, page } = await figure(`plot({ title: 'The title', subtitle: 'The subtitle', caption: 'The caption', marks: [Plot.lineY(data, { x: 'x', y: 'y' })] })`);
  assert.equal(item.kind === 'svg' && item.caption, 'The caption');
  assert.equal(page.querySelector('.plot-figure h2')?.textContent, 'The title');
  assert.equal(page.querySelector('.plot-figure h3')?.textContent, 'The subtitle');
  assert.equal(page.querySelector('figure.output > figcaption')?.textContent, 'The caption');
  assert.equal(page.querySelectorAll('figcaption').length, 1, 'the caption once');
  assert.ok(page.querySelector('.plot-figure g[aria-label="line"] path'), 'the line');
});

test('a continuous legend renders its color ramp (a PNG drawn on a server-side canvas) instead of throwing', async () => {
  const { page } = await figure(`plot({ color: { legend: true, type: 'linear', scheme: 'viridis' }, marks: [Plot.dot(data, { x: 'x', y: 'y', fill: 'v' })] })`);
  const ramp = page.querySelector('.plot-figure svg image');
  assert.match(ramp?.getAttribute('href') ?? '', /^data:image\/png;base64,/);
  assert.equal(page.querySelectorAll('figure.output circle').length, 12);
});

test('figure HTML is still sanitised: no script, handler, foreign element or outside image survives', () => {
  const hostile = `<figure><h2 onclick="alert(1)">T</h2><script>alert(1)</script><iframe src="https://x"></iframe>
    <div style="background: url(https://x/y.png)"><span>s</span></div>
    <svg><image href="https://example.com/track.png"></image><image href="data:image/png;base64,iVBORw0KGgo="></image><image href="data:image/svg+xml;base64,PHN2Zz4="></image>
    <foreignObject><div>x</div></foreignObject></svg><figcaption>c</figcaption></figure>`;
  const out = sanitizeSvg(hostile);
  assert.match(out, /^<div class="plot-figure"><h2>T<\/h2>/);
  assert.doesNotMatch(out, /script|onclick|iframe|foreignObject|https:|svg\+xml|url\(/i);
  assert.equal((out.match(/<image/g) ?? []).length, 1, 'only the image of a PNG data URL stays');
  assert.match(out, /<image href="data:image\/png;base64,iVBORw0KGgo="><\/image>/);
  assert.doesNotMatch(out, /figcaption/, 'the page prints the caption');
});

test('ipynb export: a Plot figure is text/html (HTML around its SVGs), a bare plot image/svg+xml', async () => {
  const { itemToMimeBundle } = await import('../src/engine/notebook/ipynb.ts');
  const { item: fig } = await figure(`plot({ title: 'T', marks: [Plot.dot(data, { x: 'x', y: 'y' })] })`);
  const { item: bare } = await figure(`plot({ marks: [Plot.dot(data, { x: 'x', y: 'y' })] })`);
  assert.deepEqual(Object.keys(itemToMimeBundle(fig)).sort(), ['text/html', 'text/plain']);
  assert.deepEqual(Object.keys(itemToMimeBundle(bare)).sort(), ['image/svg+xml', 'text/plain']);
});
