import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import JSZip from 'jszip';
import { launchChrome } from '../src/engine/report/pdf.ts';
import { needs } from './helpers/requirements.ts';

/** Issue 14, item 5: `build --self-contained` (one HTML file, no outside request) and `reprobook bundle` (one zip). */

const browserNeeds = await needs('chromium');
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

test('report.html makes no request of its own; the bundle holds the site, PDF, results, provenance and the notebooks as .ipynb', { timeout: 180_000, ...browserNeeds }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-onefile-'));
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(repoRoot, 'src/engine/cli/main.ts'), ...args, '--root', root], { encoding: 'utf8', timeout: 120_000 });
  try {
    await mkdir(join(root, 'notebooks'));
    await mkdir(join(root, 'report'));
    await writeFile(join(root, 'notebooks', '01-fig.md'), '---\ntitle: Fig\n---\n\n```ts\n//| label: fig-dots\n//| caption: Dots.\npublish("n", 3);\ndisplay.svg(\'<svg xmlns="http://www.w3.org/2000/svg" width="60" height="20"><circle cx="10" cy="10" r="5"/></svg>\');\n```\n');
    await writeFile(join(root, 'report', 'index.md'), '---\ntitle: One File\n---\n\n## Result\n\nThe energy is $E = mc^2$ and n = {{result n int}} (@fig-dots).\n\n{{embed 01-fig#fig-dots}}\n');

    const bundleFirst = cli('bundle');
    assert.equal(bundleFirst.status, 1);
    assert.match(bundleFirst.stderr, /no built site in .*_site[\s\S]*run `reprobook build` first/);

    const built = cli('build', '--self-contained');
    assert.equal(built.status, 0, built.stderr);
    assert.match(built.stdout, /one-file report: .*report\.html \(\d+ KiB\)/);
    const html = await readFile(join(root, '_site', 'report.html'), 'utf8');
    assert.doesNotMatch(html, /<link rel="stylesheet"/);
    assert.match(html, /@font-face\{[^}]*src:url\(data:font\/woff2;base64,/);
    assert.doesNotMatch(html, /url\((?!data:|#)/, 'every url() is inlined');

    // Opened alone, from another folder: the only request is the file itself, and math has its fonts.
    const alone = join(root, 'elsewhere');
    await mkdir(alone);
    await writeFile(join(alone, 'report.html'), html);
    const browser = await launchChrome();
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(join(alone, 'report.html')).href, { waitUntil: 'load' });
      const fonts = await page.evaluate(async () => { await document.fonts.ready; return document.fonts.check('16px KaTeX_Main'); });
      assert.deepEqual(requests, [pathToFileURL(join(alone, 'report.html')).href]);
      assert.ok(fonts, 'KaTeX\'s font is available from the file itself');
      assert.match(await page.textContent('#fig-dots figcaption') ?? '', /^Figure 1: Dots\./);
    } finally {
      await browser.close();
    }

    const bundled = cli('bundle', '--out', join(root, 'review.zip'));
    assert.equal(bundled.status, 0, bundled.stderr);
    const zip = await JSZip.loadAsync(await readFile(join(root, 'review.zip')));
    const names = Object.keys(zip.files);
    for (const f of ['site/index.html', 'site/notebooks/01-fig.html', 'site/report.pdf', 'report.pdf', 'report.html', 'results.json', 'provenance.json', 'notebooks/01-fig.ipynb']) assert.ok(names.includes(f), `${f} in ${names.join(', ')}`);
    const ipynb = JSON.parse(await zip.file('notebooks/01-fig.ipynb')!.async('string'));
    assert.equal(ipynb.nbformat, 4);
    const prov = JSON.parse(await zip.file('provenance.json')!.async('string'));
    assert.equal(prov.notebooks[0].name, '01-fig');
    assert.match(prov.notebooks[0].cacheKey, /^[0-9a-f]{64}$/);
    assert.equal(JSON.parse(await zip.file('results.json')!.async('string')).results.n, 3);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
