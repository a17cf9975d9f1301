import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { buildSite, type SiteBuild } from '../src/engine/report/site.ts';
import { launchChrome, printPdf } from '../src/engine/report/pdf.ts';
import { makeFixtureRoot } from './fixtures/report/fixture-root.ts';
import { needs } from './helpers/requirements.ts';

/**
 * The built site in a real Chromium (one launch for the file): pages load cleanly from
 * file://, nothing is fetched from outside, Figure 1 is there, links resolve, injected
 * script never runs, and the PDF has the paper's sections. Skipped on a machine without
 * Chromium (or pdftotext, for the PDF); CI's REPROBOOK_REQUIRE_ALL=1 makes that a failure.
 */

const browserNeeds = await needs('chromium');
const pdfNeeds = await needs('chromium', 'poppler');

let root: string;
let site: SiteBuild;
let browser: Browser;

before(async () => {
  if (browserNeeds.skip) return;
  root = await makeFixtureRoot();
  site = await buildSite({ root, profile: 'smoke', out: join(root, '_site'), linkPdf: true });
  browser = await launchChrome();
});

after(async () => {
  await browser?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

interface PageProblems {
  console: string[];
  failed: string[];
  external: string[];
}

async function open(path: string, viewport = { width: 1100, height: 900 }): Promise<{ page: Page; problems: PageProblems }> {
  const page = await browser.newPage({ viewport });
  const problems: PageProblems = { console: [], failed: [], external: [] };
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.console.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.console.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => problems.failed.push(`${r.url()} (${r.failure()?.errorText})`));
  page.on('request', (r) => { if (!/^(file|data):/.test(r.url())) problems.external.push(r.url()); });
  await page.goto(pathToFileURL(path).href, { waitUntil: 'load' });
  await page.evaluate(async () => { await document.fonts.ready; });
  return { page, problems };
}

test('index and every notebook page load from file:// with no console error, failed or outside request, and no script', browserNeeds, async () => {
  const pages = [site.indexPath, ...site.notebookPages];
  assert.equal(pages.length, 4);
  for (const path of pages) {
    const { page, problems } = await open(path);
    try {
      assert.deepEqual(problems, { console: [], failed: [], external: [] }, path);
      const state = await page.evaluate(() => ({
        pwned: (window as unknown as { __pwned?: unknown }).__pwned,
        scripts: document.scripts.length,
        katexFont: [...document.fonts].some((f) => f.family.includes('KaTeX') && f.status === 'loaded'),
      }));
      assert.equal(state.pwned, undefined, `injected code ran on ${path}`);
      assert.equal(state.scripts, 0);
      if (path === site.indexPath) assert.ok(state.katexFont, 'KaTeX fonts load from the bundled assets');
      // Hovering the hostile SVG's circle must not run its (removed) handler either.
      if (path.endsWith('04-fgsm.html')) {
        await page.hover('#cell-1 svg circle');
        assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned), undefined);
      }
    } finally {
      await page.close();
    }
  }
});

test('Figure 1 is an inline SVG with one mark per temperature', browserNeeds, async () => {
  const { page } = await open(site.indexPath);
  try {
    const fig = await page.evaluate(() => {
      // The cell shows the regenerated figure beside a hostile SVG (sanitised): measure the figure.
      const svg = [...document.querySelectorAll('#fig-fgsm svg')].find((s) => s.querySelector('circle.fig1-point'));
      const marks = [...document.querySelectorAll('#fig-fgsm svg circle.fig1-point')].map((c) => c.getAttribute('data-temperature'));
      const box = svg?.getBoundingClientRect();
      return { isSvg: svg instanceof SVGSVGElement, marks, width: box?.width ?? 0, caption: document.querySelector('#fig-fgsm figcaption')?.textContent ?? '' };
    });
    assert.ok(fig.isSvg);
    assert.deepEqual(fig.marks, ['1', '10', '100']);
    assert.ok(fig.width > 300, `figure is drawn at a readable size (${fig.width}px)`);
    assert.match(fig.caption, /^Figure 1:/);
  } finally {
    await page.close();
  }
});

test('cross-references, citations and result links resolve, within the page and across pages', browserNeeds, async () => {
  const { page } = await open(site.indexPath);
  try {
    const links = await page.evaluate(() => [...document.querySelectorAll('a.xref, a.cite, a.result, a.source-link')].map((a) => (a as HTMLAnchorElement).href));
    assert.ok(links.length > 20, `only ${links.length} links`);
    const targets = new Map<string, Set<string>>();
    for (const href of links) {
      const [file, hash] = href.split('#') as [string, string];
      assert.ok(hash, `${href} has no anchor`);
      targets.set(file, (targets.get(file) ?? new Set()).add(decodeURIComponent(hash)));
    }
    for (const [file, ids] of targets) {
      const p = file === page.url().split('#')[0] ? page : await browser.newPage();
      if (p !== page) await p.goto(file);
      const missing = await p.evaluate((list) => list.filter((id) => !document.getElementById(id)), [...ids]);
      assert.deepEqual(missing, [], `missing anchors in ${file}`);
      if (p !== page) await p.close();
    }
    // Clicking "Figure 1" navigates to the figure.
    await page.click('a.xref[href="#fig-fgsm"] >> nth=0');
    assert.ok(page.url().endsWith('#fig-fgsm'));
    assert.ok(await page.evaluate(() => document.querySelector(':target')?.id === 'fig-fgsm'));
  } finally {
    await page.close();
  }
});

test('readable on a phone: no horizontal scrolling of the page at 375 px', browserNeeds, async () => {
  for (const path of [site.indexPath, site.notebookPages[1]!]) {
    const { page } = await open(path, { width: 375, height: 800 });
    try {
      const widths = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, view: window.innerWidth }));
      assert.ok(widths.doc <= widths.view + 1, `${path}: page is ${widths.doc}px wide in a ${widths.view}px viewport`);
    } finally {
      await page.close();
    }
  }
});

test('the PDF has the paper\'s sections, Figure 1 and its caption, and page numbers', pdfNeeds, async () => {
  const pdfPath = join(site.out, 'report.pdf');
  const pdf = await printPdf(site.indexPath, pdfPath, { browser, headerText: 'reproduced by reprobook (profile smoke)' });
  assert.ok(pdf.bytes > 20_000, `report.pdf is only ${pdf.bytes} bytes`);
  const text = execFileSync('pdftotext', ['-layout', pdfPath, '-'], { encoding: 'utf8' });
  const squash = text.replace(/\s+/g, ' ');
  for (const title of ['On the Effectiveness of Defensive Distillation', 'Abstract', '1 Introduction', '2 Defensive Distillation', '3 Robustness of Distilled Networks', '4 Conclusion', 'Beyond the paper', 'Claims and reproduction', 'Provenance', 'References']) {
    assert.ok(squash.toLowerCase().includes(title.toLowerCase()), `PDF lacks "${title}"`);
  }
  assert.match(squash, /Figure 1: FGSM success per temperature, as \[2\] defines the attack\. From notebook 04-fgsm, cell 1\./);
  assert.match(squash, /Distillation temperature T \(log scale\)/, 'Figure 1 is vector: its axis label is text in the PDF');
  assert.match(squash, /paper: < 1\.5% at T = 100/);
  assert.match(squash, /99\.12%/);
  assert.match(squash, /\b1 ?\/ ?[2-9]\b/, 'page numbers in the footer');
  assert.doesNotMatch(squash, /pwned/, 'no notebook output leaks into the paper');
  // The first page as an image, for a human look (kept next to the PDF).
  execFileSync('pdftoppm', ['-png', '-r', '50', '-f', '1', '-l', '1', pdfPath, join(site.out, 'page')]);
  const png = [join(site.out, 'page-1.png'), join(site.out, 'page-01.png')].find((p) => existsSync(p));
  assert.ok(png && (await stat(png)).size > 5_000, 'first page renders to a non-trivial image');
});
