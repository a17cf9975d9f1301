import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { JSDOM } from 'jsdom';
import { buildSite, sectionize } from '../src/engine/report/site.ts';
import { findChrome, launchChrome } from '../src/engine/report/pdf.ts';
import { UserError } from '../src/engine/util/errors.ts';
import { FIXTURE_DIR, makeFixtureRoot } from './fixtures/report/fixture-root.ts';
import { formatWarning } from '../src/engine/report/warnings.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const parse = (html: string) => new JSDOM(html).window.document;

/** Every href/src in a page: relative, and (for local ones) pointing at a file and an id that exist. */
async function checkLinks(site: string, page: string): Promise<string[]> {
  const problems: string[] = [];
  const doc = parse(await readFile(join(site, page), 'utf8'));
  const refs = [...doc.querySelectorAll('[href], [src]')].map((el) => el.getAttribute('href') ?? el.getAttribute('src')!);
  for (const ref of refs) {
    if (/^https?:\/\//.test(ref)) {
      // Outgoing links are allowed only as plain <a> links (the references, the original paper).
      const el = doc.querySelector(`a[href="${ref}"]`);
      if (!el) problems.push(`${page}: ${ref} is loaded from outside the site`);
      continue;
    }
    if (ref.startsWith('data:image/png;base64,')) continue;
    if (/^[a-z]+:/i.test(ref) || ref.startsWith('/')) {
      problems.push(`${page}: ${ref} is not a relative link`);
      continue;
    }
    const [path, hash] = ref.split('#') as [string, string | undefined];
    const target = path ? join(dirname(join(site, page)), decodeURIComponent(path)) : join(site, page);
    if (!existsSync(target)) {
      if (!path.endsWith('report.pdf')) problems.push(`${page}: ${ref} points to a missing file`);
      continue;
    }
    if (hash && target.endsWith('.html')) {
      const tdoc = target === join(site, page) ? doc : parse(await readFile(target, 'utf8'));
      if (!tdoc.getElementById(decodeURIComponent(hash))) problems.push(`${page}: ${ref} points to a missing anchor`);
    }
  }
  return problems;
}

function assertInert(html: string, page: string): void {
  const doc = parse(html);
  assert.equal(doc.querySelectorAll('script').length, 0, `${page} has a <script> element`);
  for (const el of doc.querySelectorAll('*')) {
    for (const a of el.attributes) {
      assert.ok(!a.name.toLowerCase().startsWith('on'), `${page}: <${el.tagName.toLowerCase()} ${a.name}> survived`);
      assert.ok(!/^\s*javascript:/i.test(a.value), `${page}: ${a.name}="${a.value}" survived`);
    }
  }
  assert.equal(doc.querySelectorAll('foreignObject, foreignobject, iframe, object, embed').length, 0);
}

test('the site from the fixture: pages, results.json, assets, inert outputs, resolving links', async () => {
  const root = await makeFixtureRoot();
  const out = join(root, '_site');
  try {
    const site = await buildSite({ root, profile: 'smoke', out, builtAt: '2026-11-25T10:00:00.000Z' });
    assert.deepEqual((await readdir(join(out, 'notebooks'))).sort(), ['02-baseline.html', '04-fgsm.html', '06-beyond.html']);
    assert.ok(existsSync(join(out, 'assets', 'katex', 'katex.min.css')));
    assert.ok((await readdir(join(out, 'assets', 'katex', 'fonts'))).some((f) => f.endsWith('.woff2')), 'KaTeX fonts are bundled');
    assert.ok(existsSync(join(out, 'assets', 'report.css')) && existsSync(join(out, 'assets', 'hljs.css')));
    const fixtureResults = JSON.parse(await readFile(join(FIXTURE_DIR, 'results', 'smoke.json'), 'utf8'));
    assert.deepEqual(JSON.parse(await readFile(join(out, 'results.json'), 'utf8')), fixtureResults);

    const index = await readFile(join(out, 'index.html'), 'utf8');
    assertInert(index, 'index.html');
    const doc = parse(index);
    assert.equal(doc.querySelector('h1')!.textContent, 'On the Effectiveness of Defensive Distillation');
    assert.match(doc.querySelector('.title-block')!.textContent!, /Nicolas Papernot and Patrick McDaniel[\s\S]*Reproduced by reprobook · profile smoke/);
    const h2 = [...doc.querySelectorAll('h2')].map((h) => h.textContent);
    assert.deepEqual(h2, ['Abstract', '1 Introduction', '2 Defensive Distillation', '3 Robustness of Distilled Networks to the Fast Gradient Sign Method', '4 Conclusion', 'Beyond the paper', 'Claims and reproduction', 'Provenance', 'References']);
    assert.ok(doc.querySelector('section.beyond #sec-beyond'), 'Beyond the paper is its own marked section');
    assert.ok(doc.querySelector('#eq-softmax .katex-display'), 'equation (1) typeset at build time');
    assert.equal(doc.querySelector('#eq-softmax .equation-number')!.textContent, '(1)');
    // {{embed 04-fgsm#fig-fgsm}}: the cell's (sanitised) SVG, numbered, captioned by the cell's
    // option (its citation resolved), linked to the cell; its own label id is not repeated.
    assert.equal(doc.querySelectorAll('#fig-fgsm svg circle.pt').length, 1);
    assert.equal(doc.querySelectorAll('#fig-fgsm script, #fig-fgsm foreignObject, #fig-fgsm image').length, 0);
    assert.match(doc.querySelector('#fig-fgsm figcaption')!.textContent!, /^Figure 1: FGSM success per temperature, as \[2\] defines the attack\. From notebook 04-fgsm, cell 1\.$/);
    assert.equal(doc.querySelector('#fig-fgsm figcaption a.source-link')!.getAttribute('href'), 'notebooks/04-fgsm.html#cell-1');
    assert.equal(doc.querySelectorAll('[id="fig-fgsm-nb"]').length, 0);
    assert.equal(doc.querySelector('a.xref[href="#fig-fgsm"]')!.textContent, 'Figure 1');
    // 06-beyond failed before its figure and table cells finished: placed as "not run", with a warning.
    assert.match(doc.querySelector('#fig-beyond')!.textContent!, /^\s*not run\s*Figure 2: Attacks per temperature\./);
    assert.match(doc.querySelector('#tbl-beyond figcaption')!.textContent!, /^Table 1: Per-temperature results\./);
    assert.ok(site.warnings.map(formatWarning).some((w) => /report\/paper\.md:\d+: \{\{embed 06-beyond#tbl-beyond\}\}: cell 3 of 06-beyond did not run/.test(w)), site.warnings.map(formatWarning).join('\n'));
    assert.equal(doc.querySelectorAll('ol.references')[0]!.querySelectorAll('li').length, 9, "the paper's list [1]–[9]");
    const cites = [...doc.querySelectorAll('a.cite')];
    assert.ok(cites.some((a) => Number(a.textContent) > 9), 'works beyond the paper\'s list are cited too');
    for (const a of cites) {
      const li = doc.getElementById(a.getAttribute('href')!.slice(1))!;
      assert.equal(li.querySelector('.ref-number')!.textContent, `[${a.textContent}]`, `citation ${a.textContent} points at the entry with that number`);
    }
    // Values come from the results file, linked to the cell that published them.
    const acc = doc.getElementById('use-baseline.accuracy')!;
    assert.equal(acc.textContent, '99.12%');
    assert.equal(acc.getAttribute('href'), 'notebooks/02-baseline.html#cell-1');
    assert.ok(doc.querySelectorAll('.paper-section .not-run').length >= 4, 'missing results are visibly not run');
    assert.ok(site.warnings.map(formatWarning).some((w) => w.includes('pgd.T100.successRate')));
    assert.ok(site.warnings.map(formatWarning).some((w) => w.includes('06-beyond failed')));
    // Claims table: verdicts and the profile in the caption.
    const claims = doc.getElementById('tbl-claims')!;
    assert.match(claims.querySelector('figcaption')!.textContent!, /profile smoke/);
    const verdict = (id: string) => claims.querySelector(`#claim-${id} .verdict`)!.textContent;
    assert.equal(verdict('baseline-accuracy'), 'reproduced');
    assert.equal(verdict('fgsm-t100'), 'reproduced');
    assert.equal(verdict('temperatures'), 'partly');
    assert.equal(verdict('fgsm-samples'), 'not reproduced');
    assert.equal(verdict('jsma-baseline'), 'not run');
    assert.match(claims.querySelector('#claim-jsma-baseline')!.textContent!, /\[7\]/);
    // Provenance.
    const prov = doc.querySelector('.provenance')!.textContent!;
    for (const s of ['3157b58aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'uncommitted changes', 'v20.19.0', 'wasm', 'seed', '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7', '9f2c1e7b5a4d3c2b', '2.3 s', '@tensorflow/tfjs-backend-wasm']) {
      assert.ok(prov.includes(s), `provenance lacks ${s}`);
    }

    for (const name of ['02-baseline', '04-fgsm', '06-beyond']) {
      const html = await readFile(join(out, 'notebooks', `${name}.html`), 'utf8');
      assertInert(html, name);
      assert.deepEqual(await checkLinks(out, `notebooks/${name}.html`), []);
    }
    assert.deepEqual(await checkLinks(out, 'index.html'), []);

    const nb = parse(await readFile(join(out, 'notebooks', '04-fgsm.html'), 'utf8'));
    assert.match(nb.body.textContent!, /<img src=x onerror="window.__pwned='stdout'">/, 'stdout shown as text');
    assert.match(nb.body.textContent!, /<script>window.__pwned=.md.<\/script>/, 'markdown output with raw HTML shown as text');
    assert.ok(nb.querySelector('#cell-1 figure svg rect'), 'the sanitised SVG output is shown');
    assert.equal(nb.querySelector('#cell-2 img.output')!.getAttribute('alt'), `a pixel" onerror="window.__pwned='alt'`);
    assert.equal(nb.querySelector('#cell-1 a.used-in-report')!.getAttribute('href'), '../index.html#use-fgsm.baseline.successRate', 'notebook → report link');
    const base = parse(await readFile(join(out, 'notebooks', '02-baseline.html'), 'utf8'));
    assert.equal(base.querySelector('#cell-2 pre.code'), null, 'echo: false hides the code');
    assert.ok(base.querySelector('#cell-2 table'), '…but not the output');
    assert.ok(base.querySelector('#cell-1 pre.code .hljs-keyword'), 'code is highlighted');
    assert.equal(base.querySelector('a.xref')!.getAttribute('href'), '../index.html#fig-fgsm', 'prose cross-refs point into the report');
    const broken = parse(await readFile(join(out, 'notebooks', '06-beyond.html'), 'utf8'));
    assert.equal(broken.querySelector('h1')!.textContent, 'Beyond the paper (a failing run)', 'a later failed run (executed/<profile>/failed/) wins over the last good one');
    assert.match(broken.querySelector('#cell-2 .cell-error')!.textContent!, /ReferenceError in cell 2 \(notebook line 10, line 1 of the cell\): undefinedThing is not defined/);
    assert.match(broken.querySelector('#cell-3')!.textContent!, /Not run/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('--strict turns warnings into an error and writes nothing', async () => {
  const root = await makeFixtureRoot();
  try {
    await assert.rejects(buildSite({ root, profile: 'smoke', out: join(root, 'strict'), strict: true }), (e: unknown) =>
      e instanceof UserError && /--strict/.test(e.message) && e.message.includes('pgd.T100.successRate'));
    assert.equal(existsSync(join(root, 'strict', 'index.html')), false);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('without a results file the results are assembled from the executed notebooks', async () => {
  const root = await makeFixtureRoot({ withResultsFile: false });
  try {
    const site = await buildSite({ root, profile: 'smoke', out: join(root, 'o') });
    const written = JSON.parse(await readFile(site.resultsPath, 'utf8'));
    assert.equal(written.results['fgsm.T10.successRate'], 0.12);
    assert.deepEqual(written.sources['baseline.accuracy'], { notebook: '02-baseline', cellIndex: 0, cellLabel: 'train' });
    assert.ok(site.warnings.map(formatWarning).some((w) => w.includes('assembled from the executed notebooks')));
    await assert.rejects(buildSite({ root, profile: 'paper', out: join(root, 'p') }), /nothing to build.*executed\/paper/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a build replaces only its own outputs in the out folder', async () => {
  const root = await makeFixtureRoot();
  const out = join(root, 'site');
  try {
    await buildSite({ root, profile: 'smoke', out });
    await writeFile(join(out, 'keep.txt'), 'mine');
    await writeFile(join(out, 'notebooks', 'mine.html'), 'mine too');
    await buildSite({ root, profile: 'smoke', out });
    assert.equal(await readFile(join(out, 'keep.txt'), 'utf8'), 'mine');
    assert.equal(await readFile(join(out, 'notebooks', 'mine.html'), 'utf8'), 'mine too');
    assert.ok(existsSync(join(root, '.reprobook', 'executed', 'smoke', '04-fgsm.json')));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('the pages\' Content-Security-Policy allows images only from the site and data: URLs (issue 12, item 12)', async () => {
  const root = await makeFixtureRoot();
  try {
    const site = await buildSite({ root, profile: 'smoke', out: join(root, '_site') });
    for (const page of [site.indexPath, ...site.notebookPages]) {
      const csp = parse(await readFile(page, 'utf8')).querySelector('meta[http-equiv="Content-Security-Policy"]')!.getAttribute('content')!;
      const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v.join(' ')]));
      assert.equal(directives['img-src'], "'self' data:", page);
      assert.equal(directives['script-src'], "'none'", page);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a project without report/paper.md gets an index of its own notebooks, not this repository\'s paper (issue 12, item 12)', async () => {
  const root = await makeFixtureRoot({ withReport: false });
  try {
    const site = await buildSite({ root, profile: 'smoke', out: join(root, '_site') });
    const index = await readFile(site.indexPath, 'utf8');
    assert.doesNotMatch(index, /Defensive Distillation|Papernot|claims/i);
    const doc = parse(index);
    assert.equal(doc.querySelector('h1')!.textContent, site.title);
    assert.match(site.title, /^reprobook-report-/, 'the folder names a project without package.json');
    assert.match(site.pdfHeader, /^reprobook-report-.*: notebooks built by reprobook \(profile smoke\)$/);
    const listed = [...doc.querySelectorAll('.notebook-list a')].map((a) => a.getAttribute('href'));
    assert.deepEqual(listed, ['notebooks/02-baseline.html', 'notebooks/04-fgsm.html', 'notebooks/06-beyond.html']);
    const accuracy = doc.getElementById('use-baseline.accuracy')!;
    assert.equal(accuracy.getAttribute('href'), 'notebooks/02-baseline.html#cell-1');
    assert.deepEqual(await checkLinks(site.out, 'index.html'), []);
    assert.equal(site.claims.length, 0);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('sectionize wraps each h2 and its content', () => {
  assert.equal(sectionize('<p>a</p><h2 id="x" class="beyond">B</h2><p>b</p><h2>C</h2>'),
    '<p>a</p><section class="paper-section beyond">\n<h2 id="x" class="beyond">B</h2><p>b</p></section>\n<section class="paper-section">\n<h2>C</h2></section>\n');
});

test('findChrome: CHROME_PATH wins, a wrong one is an error, none found is undefined', async () => {
  assert.deepEqual(await findChrome({ CHROME_PATH: process.execPath }), { path: process.execPath, source: 'CHROME_PATH' });
  await assert.rejects(findChrome({ CHROME_PATH: '/nonexistent/chrome' }), /CHROME_PATH points to \/nonexistent\/chrome/);
  assert.equal(await findChrome({}, { systemPaths: [], playwright: false }), undefined);
});

test('CHROME_PATH pointing at a program that is not Chromium gives a hint, not Playwright\'s command line (issue 12, item 12)', async () => {
  await assert.rejects(launchChrome({ CHROME_PATH: '/bin/true' }), (e: unknown) =>
    e instanceof UserError && e.message.startsWith('could not start Chromium at /bin/true (from CHROME_PATH) to print report.pdf')
    && !/--no-sandbox|--disable-|<launching>/.test(e.message) && /set CHROME_PATH to a Chrome\/Chromium binary .* --no-pdf/.test(e.hint ?? ''));
});

test('reprobook build --no-run: HTML always; without a browser it says how to get one and fails unless --no-pdf', async () => {
  const root = await makeFixtureRoot();
  const cli = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/engine/cli/main.ts'), 'build', '--root', root, '--profile', 'smoke', '--no-run', ...args], {
    cwd: repoRoot, encoding: 'utf8', env: { ...process.env, ...env },
  });
  try {
    const ok = cli(['--no-pdf', '--out', join(root, 'a')]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /site: .*index\.html \(profile smoke, 3 notebook pages/);
    assert.match(ok.stderr, /warning: report\/paper\.md:\d+: result "pgd\.T100\.successRate"/);
    const noBrowser = cli(['--out', join(root, 'b')], { CHROME_PATH: join(root, 'no-such-chrome') });
    assert.equal(noBrowser.status, 1);
    assert.match(noBrowser.stderr, /CHROME_PATH points to/);
    assert.match(noBrowser.stderr, /fix: /);
    assert.ok(existsSync(join(root, 'b', 'index.html')), 'the HTML is built before the PDF step');
    const strict = cli(['--no-pdf', '--strict', '--out', join(root, 'c')]);
    assert.equal(strict.status, 1);
    assert.match(strict.stderr, /--strict is set/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
