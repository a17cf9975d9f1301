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
import { buildSite } from '../src/engine/report/site.ts';
import { buildBundle, checkBundleOut } from '../src/engine/report/bundle.ts';
import { UserError } from '../src/engine/util/errors.ts';
import { makeFixtureRoot } from './fixtures/report/fixture-root.ts';

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

// ---- Issue 22, item 4: bundle writes only its own zip, of the build's own files, with safe names ----

test('bundle zips the files the build listed in its manifest, not strays or earlier zips, and refuses an executed record whose name would leave the zip\'s folder', async () => {
  const root = await makeFixtureRoot();
  try {
    const site = join(root, '_site');
    await buildSite({ root, profile: 'smoke', out: site });
    await writeFile(join(site, 'stray.txt'), 'a user\'s note');
    const first = await buildBundle(root, site);
    await writeFile(join(site, 'old-bundle.zip'), first.zip);
    const { files } = await buildBundle(root, site);
    assert.ok(files.includes('site/index.html') && files.includes('site/assets/report.css'), files.join(', '));
    assert.ok(!files.includes('site/stray.txt') && !files.includes('site/old-bundle.zip'), 'only what the build wrote');
    assert.deepEqual(files, first.files, 'a second bundle holds the same files');

    const record = join(root, '.reprobook', 'executed', 'smoke', '02-baseline.json');
    const tampered = JSON.parse(await readFile(record, 'utf8'));
    tampered.notebook.name = '../../../x';
    await writeFile(record, JSON.stringify(tampered));
    await assert.rejects(buildBundle(root, site), (e: unknown) => e instanceof UserError && /"notebooks\/\.\.\/\.\.\/\.\.\/x\.ipynb"/.test(e.message));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('bundle --out never replaces a source or a file it did not write', async () => {
  const root = await makeFixtureRoot();
  try {
    await buildSite({ root, profile: 'smoke', out: join(root, '_site') });
    const notebook = join(root, 'notebooks', '02-baseline.md');
    const before = await readFile(notebook, 'utf8');
    const bundle = (...args: string[]) => spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(repoRoot, 'src/engine/cli/main.ts'), 'bundle', '--root', root, ...args], { encoding: 'utf8', timeout: 60_000 });
    const r = bundle('--out', notebook);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /--out .*02-baseline\.md: .*notebooks\/ folder/);
    assert.equal(await readFile(notebook, 'utf8'), before, 'the notebook is untouched');
    const refuses = (out: string, re: RegExp) => assert.rejects(checkBundleOut(root, out, out), (e: unknown) => e instanceof UserError && re.test(e.message));
    await refuses(join(root, 'report', 'new.zip'), /report\/ folder/);
    await refuses(join(root, '.reprobook', 'b.zip'), /\.reprobook\/ folder/);
    await writeFile(join(root, 'package.json'), '{}');
    await refuses(join(root, 'package.json'), /already exists and was not written by reprobook bundle/);
    await writeFile(join(root, 'theirs.zip'), await new JSZip().file('a', 'b').generateAsync({ type: 'nodebuffer' }));
    await refuses(join(root, 'theirs.zip'), /already exists and was not written by reprobook bundle/);
    await refuses(root, /is a folder/);
    // Its own zip, from an earlier bundle, it replaces.
    const ok = bundle();
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(bundle().status, 0, 'a second bundle replaces the first');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
