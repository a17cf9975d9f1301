import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import type { Browser, Page } from 'playwright-core';
import { Runtime } from '../src/engine/notebook/runtime.ts';
import { parseNotebookSource } from '../src/engine/notebook/markdown-format.ts';
import { toDisplayItem } from '../src/engine/notebook/display.ts';
import { renderDisplayItem } from '../src/engine/report/notebook-page.ts';
import type { RenderContext } from '../src/engine/report/markdown.ts';
import { launchChrome } from '../src/engine/report/pdf.ts';
import { needs } from './helpers/requirements.ts';

/**
 * Issue 12, item 7: a gallery of Observable Plot figures, each rendered the way a notebook
 * page shows it (plot() in a cell on the server's jsdom document, stored as a display item,
 * sanitised into the page) and compared in Chromium with the same figure rendered by Plot
 * itself in that browser: the same parts (title, subtitle, legends, plot, caption), the same
 * texts and marks, and the same pixels, part by part. GALLERY_DUMP=DIR writes both
 * renderings of every part (HTML and PNG) there, to see what differs.
 */

// The packages' own browser builds, of the same versions the server renders with.
const PLOT_UMD = join(dirname(fileURLToPath(import.meta.resolve('@observablehq/plot'))), '..', 'dist', 'plot.umd.min.js');
const D3_UMD = join(dirname(fileURLToPath(import.meta.resolve('d3'))), 'd3.min.js');

const data = Array.from({ length: 24 }, (_, i) => ({ x: i, y: (i * 7) % 11, c: ['alpha', 'beta', 'gamma'][i % 3]!, v: i / 23 }));

/** Each figure as code that runs both in Node and in the browser: `Plot`, `data` and `document` are given. */
const GALLERY: Record<string, string> = {
  'color legend (swatches)':
    `Plot.plot({ document, color: { legend: true }, marks: [Plot.dot(data, { x: 'x', y: 'y', fill: 'c' })] })`,
  'title, subtitle and caption':
    `Plot.plot({ document, title: 'A title', subtitle: 'A subtitle', caption: 'A caption', marks: [Plot.lineY(data, { x: 'x', y: 'y' })] })`,
  'continuous color legend (ramp on a canvas)':
    `Plot.plot({ document, color: { legend: true, type: 'linear', scheme: 'viridis' }, marks: [Plot.dot(data, { x: 'x', y: 'y', fill: 'v', r: 5 })] })`,
  'everything at once, with a symbol legend':
    `Plot.plot({ document, title: 'Title', subtitle: 'Subtitle', caption: 'Caption', color: { legend: true }, symbol: { legend: true }, marks: [Plot.dot(data, { x: 'x', y: 'y', stroke: 'c', symbol: 'c' })] })`,
  'raster mark (image data on a canvas)':
    `Plot.plot({ document, color: { scheme: 'magma' }, marks: [Plot.raster({ fill: (x, y) => x * y, x1: 0, y1: 0, x2: 1, y2: 1, width: 16, height: 16, imageRendering: 'pixelated' })] })`,
  'a legend on its own (swatches)':
    `Plot.legend({ document, color: { domain: ['alpha', 'beta', 'gamma'] } })`,
  'a legend on its own (ramp)':
    `Plot.legend({ document, color: { type: 'linear', domain: [0, 1], scheme: 'turbo' }, label: 'value' })`,
};

let browser: Browser;
let runtime: Runtime;
const browserNeeds = await needs('chromium');

before(async () => {
  if (browserNeeds.skip) return;
  browser = await launchChrome();
  runtime = new Runtime(process.cwd(), parseNotebookSource('```ts\nplot({})\n```\n', 'notebooks/gallery.md'), null, {});
  await runtime.prepare();
});

after(async () => {
  await browser?.close();
});

/** The HTML a notebook page shows for the figure drawn on the server. */
function ourFigure(code: string): string {
  const Plot = runtime.globals.Plot;
  const document = runtime.globals.document;
  const el = new Function('Plot', 'data', 'document', `return ${code};`)(Plot, data, document);
  const item = toDisplayItem(el);
  assert.ok(item && item.kind === 'svg', 'a Plot figure becomes an svg item');
  return renderDisplayItem(item, {} as RenderContext);
}

interface Parts { tags: string[]; texts: string[]; marks: Record<string, number> }

/** The visible parts of a figure, in order; Plot's <figcaption> is the page's caption in ours. */
async function describe(page: Page, selector: string): Promise<Parts> {
  return page.evaluate((sel) => {
    const root = document.querySelector(sel)!;
    const parts = root.matches('.plot-figure') ? [...root.children] : root.tagName === 'FIGURE' ? [...root.children].filter((c) => c.tagName !== 'FIGCAPTION') : [root];
    const marks: Record<string, number> = {};
    for (const tag of ['circle', 'path', 'line', 'rect', 'text', 'image', 'g']) marks[tag] = root.querySelectorAll(tag).length;
    return {
      tags: parts.map((p) => p.tagName.toLowerCase()),
      texts: parts.map((p) => {
        const copy = p.cloneNode(true) as Element;
        for (const s of copy.querySelectorAll('style')) s.remove();
        return (copy.textContent ?? '').replace(/\s+/g, ' ').trim();
      }),
      marks,
    };
  }, selector);
}

/** Share of pixels that differ visibly between two screenshots of the same size. */
function pixelDifference(a: Buffer, b: Buffer): number {
  const pa = PNG.sync.read(a), pb = PNG.sync.read(b);
  assert.deepEqual([pa.width, pa.height], [pb.width, pb.height], 'same size');
  let differ = 0;
  for (let i = 0; i < pa.data.length; i += 4) {
    if (Math.max(...[0, 1, 2, 3].map((k) => Math.abs(pa.data[i + k]! - pb.data[i + k]!))) > 48) differ++;
  }
  return differ / (pa.width * pa.height);
}

for (const [name, code] of Object.entries(GALLERY)) {
  test(`Plot figure gallery: ${name} renders as Plot renders it in Chromium`, browserNeeds, async () => {
    const ours = ourFigure(code);
    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    try {
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      // Two columns side by side, of the same width and at the same height (a fractional
      // vertical offset would change text antialiasing), no page CSS but this.
      await page.setContent(`<!doctype html><html><head><style>
        body { margin: 0; font: 16px sans-serif; display: flex; align-items: flex-start; } figure { margin: 0; }
        .col { width: 700px; margin-right: 40px; }
      </style></head><body><div class="col" id="ours">${ours}</div><div class="col" id="own"></div></body></html>`);
      // Plot and d3-axis nudge lines by half a pixel for crisp edges, depending on
      // window.devicePixelRatio, and each decides differently where there is no window (on
      // the server): Plot reads it once when it loads and does not nudge; d3-axis reads it
      // when it draws and does. Give Plot's own rendering the same nudges: a ratio of 2
      // while Plot loads, 1 while it draws. Everything else is Plot as a browser runs it.
      await page.addScriptTag({ path: D3_UMD });
      await page.evaluate(() => Object.defineProperty(window, 'devicePixelRatio', { value: 2, configurable: true }));
      await page.addScriptTag({ path: PLOT_UMD });
      await page.evaluate(() => Object.defineProperty(window, 'devicePixelRatio', { value: 1, configurable: true }));
      await page.evaluate(({ src, rows }) => {
        const el = new Function('Plot', 'data', 'document', `return ${src};`)((window as unknown as { Plot: unknown }).Plot, rows, document);
        document.getElementById('own')!.append(el as Node);
      }, { src: code, rows: data });
      assert.deepEqual(errors, []);

      const own = await page.$eval('#own > *', (el) => el.tagName.toLowerCase());
      const ourRoot = (await page.$('#ours .plot-figure')) ? '#ours .plot-figure' : '#ours figure > svg';
      const ownParts = await describe(page, '#own > *');
      const ourParts = await describe(page, ourRoot);
      assert.deepEqual(ourParts, ownParts, 'the same parts, texts and marks');
      if (process.env.GALLERY_DUMP) {
        const { writeFileSync } = await import('node:fs');
        writeFileSync(`${process.env.GALLERY_DUMP}/${name.replace(/\W+/g, '_')}-ours.html`, await page.$eval(ourRoot, (e) => e.outerHTML));
        writeFileSync(`${process.env.GALLERY_DUMP}/${name.replace(/\W+/g, '_')}-own.html`, await page.$eval('#own > *', (e) => e.outerHTML));
      }
      if (own === 'figure') {
        const ownCaption = await page.$eval('#own figcaption', (e) => e.textContent).catch(() => null);
        const ourCaption = await page.$eval('#ours figure.output > figcaption', (e) => e.textContent).catch(() => null);
        assert.equal(ourCaption, ownCaption, 'the caption');
      }

      // Part by part, the pixels.
      const ourEls = ourRoot.endsWith('.plot-figure') ? await page.$$(`${ourRoot} > *`) : [(await page.$(ourRoot))!];
      const ownEls = own === 'figure' ? await page.$$('#own > figure > :not(figcaption)') : [(await page.$('#own > *'))!];
      assert.equal(ourEls.length, ownEls.length);
      for (const [i, el] of ourEls.entries()) {
        const tag = await el.evaluate((e) => e.tagName.toLowerCase());
        if (tag === 'style') continue;
        const [a, b] = [await el.screenshot(), await ownEls[i]!.screenshot()];
        if (process.env.GALLERY_DUMP) { const { writeFileSync } = await import('node:fs'); writeFileSync(`${process.env.GALLERY_DUMP}/${name.replace(/\W+/g, '_')}-${i}-ours.png`, a); writeFileSync(`${process.env.GALLERY_DUMP}/${name.replace(/\W+/g, '_')}-${i}-own.png`, b); }
        const diff = pixelDifference(a, b);
        assert.ok(diff < 0.002, `part ${i + 1} (<${tag}>) differs in ${(diff * 100).toFixed(2)}% of its pixels`);
      }
    } finally {
      await page.close();
    }
  });
}
