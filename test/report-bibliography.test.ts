import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JSDOM } from 'jsdom';
import { checkBibtex, loadBibliography } from '../src/engine/report/bibliography.ts';
import { linkifyReference } from '../src/engine/report/markdown.ts';
import { UserError } from '../src/engine/util/errors.ts';

/** Issue 14, item 4: BibTeX or CSL-JSON, formatted by citation-js in a numbered or an author-year CSL style. */

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIB = `% two works, the second cited only by a reproduction
@article{zed2020,
  author = {Zed, Anna and Young, Bo},
  title = {Later Work},
  journal = {Journal of Tests},
  year = {2020},
  doi = {10.1000/jt.2020.7}
}
@misc{abel2016,
  author = {Abel, Carl},
  title = {Earlier Preprint},
  year = {2016},
  note = {arXiv:1607.04311},
  keywords = {reproduction}
}
`;

async function bibFile(text: string, name = 'refs.bib'): Promise<{ dir: string; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'reprobook-bib-'));
  await writeFile(join(dir, name), text);
  return { dir, path: join(dir, name) };
}

test('numbered: the file\'s order, reproduction-only works last; author-year: sorted, cited by name and year', async () => {
  const { dir, path } = await bibFile(BIB);
  try {
    const num = await loadBibliography(path, 'numbered');
    assert.deepEqual(num.entries.map((e) => e.key), ['zed2020', 'abel2016']);
    assert.equal(num.extraFrom, 1);
    assert.match(num.entries[0]!.text, /^Zed A, Young B\. Later Work\. Journal of Tests\. 2020/);
    assert.equal(num.entries[0]!.cite, undefined);
    const ay = await loadBibliography(path, 'author-year');
    assert.match(ay.entries[0]!.text, /^Zed, A\., & Young, B\. \(2020\)\. Later Work\./);
    assert.equal(ay.entries[0]!.cite, 'Zed & Young, 2020');
    assert.equal(ay.entries[1]!.cite, 'Abel, 2016');
    // CSL-JSON reads the same.
    const json = await bibFile(JSON.stringify([{ id: 'c1', type: 'book', title: 'A Book', author: [{ family: 'Cole', given: 'Dee' }], issued: { 'date-parts': [[2001]] } }]), 'refs.json');
    assert.match((await loadBibliography(json.path, 'numbered')).entries[0]!.text, /^Cole D\. A Book/);
    await rm(json.dir, { recursive: true, force: true });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('DOIs, arXiv ids and addresses become links; the text stays escaped', () => {
  const html = linkifyReference('A <b>. doi:10.1000/x.1. arXiv:1607.04311. See https://example.org/p.');
  const doc = new JSDOM(html).window.document;
  assert.deepEqual([...doc.querySelectorAll('a')].map((a) => a.getAttribute('href')), ['https://doi.org/10.1000/x.1', 'https://arxiv.org/abs/1607.04311', 'https://example.org/p']);
  assert.match(html, /A &lt;b&gt;\./);
});

test('a malformed .bib names the file, the line and the entry', () => {
  const fails = (text: string, re: RegExp) => assert.throws(() => checkBibtex(text, 'report/references.bib'), (e: unknown) => e instanceof UserError && re.test(e.message));
  fails('@article{ok, title = {A}}\n\n@article{broken,\n  title = {B\n}\n', /report\/references\.bib:3: the entry @article\{broken is not closed/);
  fails('@article{title = {A}}\n', /report\/references\.bib:1: the @article entry has no citation key/);
  fails('@article{a, title = {A}}}\n', /a closing brace with no opening one/);
  checkBibtex(BIB, 'ok.bib');
});

test('the report: numbered by default, author-year from the front matter; an unknown key names its line; an unknown style is refused', async () => {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-bib-site-'));
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(repoRoot, 'src/engine/cli/main.ts'), ...args, '--root', root], { encoding: 'utf8', timeout: 120_000 });
  try {
    await mkdir(join(root, 'notebooks'));
    await mkdir(join(root, 'report'));
    await writeFile(join(root, 'notebooks', 'a.md'), '```ts\npublish("x", 1);\n```\n');
    await writeFile(join(root, 'report', 'references.bib'), BIB);
    const report = (front: string, body = 'As shown [@zed2020; @abel2016].') => writeFile(join(root, 'report', 'index.md'), `---\ntitle: T\n${front}---\n\n${body}\n\n## References\n\n{{references}}\n`);
    await report('');
    assert.equal(cli('build', '--no-pdf').status, 0);
    let doc = new JSDOM(await readFile(join(root, '_site', 'index.html'), 'utf8')).window.document;
    assert.equal(doc.querySelector('.paper-section p, article.paper > p')!.textContent, 'As shown [1, 2].');
    assert.equal(doc.querySelector('#ref-zed2020 a.ref-url')!.getAttribute('href'), 'https://doi.org/10.1000/jt.2020.7');
    assert.equal(doc.querySelector('#ref-abel2016 a.ref-url')!.getAttribute('href'), 'https://arxiv.org/abs/1607.04311');

    await report('citation-style: author-year\n');
    assert.equal(cli('build', '--no-pdf', '--no-run').status, 0);
    doc = new JSDOM(await readFile(join(root, '_site', 'index.html'), 'utf8')).window.document;
    assert.equal(doc.querySelector('.paper-section p, article.paper > p')!.textContent, 'As shown (Zed & Young, 2020; Abel, 2016).');
    assert.equal(doc.querySelector('ul.references #ref-zed2020 .ref-number'), null, 'no numbers in an author-year list');

    await report('', 'Text.\n\nAs shown [@nobody2000].');
    const strict = cli('build', '--no-pdf', '--no-run', '--strict');
    assert.equal(strict.status, 1);
    assert.match(strict.stderr, /report\/index\.md:7: citation \[@nobody2000\] is not in the bibliography/);
    await report('citation-style: chicago\n');
    const style = cli('build', '--no-pdf', '--no-run');
    assert.equal(style.status, 1);
    assert.match(style.stderr, /unknown citation-style "chicago"[\s\S]*numbered, author-year/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a large bibliography is formatted in time linear in its size: citation-js sees each entry a bounded number of times (issue 22, item 6)', async () => {
  const { plugins } = await import('@citation-js/core');
  const entries = (n: number) => Array.from({ length: n }, (_, i) => `@article{k${i},\n  author = {Author${i}, Ann and Other, Bo},\n  title = {Work ${i}},\n  journal = {J},\n  year = {${1950 + (i % 70)}}${i % 10 === 0 ? ',\n  keywords = {reproduction}' : ''}\n}\n`).join('');
  const dir = await mkdtemp(join(tmpdir(), 'reprobook-bib-'));
  const seen: Record<string, number> = {};
  const originals = new Map<string, (data: unknown[], ...rest: unknown[]) => unknown>();
  for (const name of ['bibliography', 'citation']) {
    const original = plugins.output.register.get(name) as (data: unknown[], ...rest: unknown[]) => unknown;
    originals.set(name, original);
    plugins.output.add(name, (data: unknown[], ...rest: unknown[]) => {
      seen[name] = (seen[name] ?? 0) + data.length;
      return original(data, ...rest);
    });
  }
  try {
    // Author-year formats a citation per entry too, which APA makes slow: fewer entries suffice to count.
    for (const [style, n] of [['numbered', 2000], ['author-year', 200]] as const) {
      for (const k of Object.keys(seen)) delete seen[k];
      const path = join(dir, `${style}.bib`);
      await writeFile(path, entries(n));
      const bib = await loadBibliography(path, style);
      assert.equal(bib.entries.length, n);
      assert.equal(bib.extraFrom, n - n / 10);
      const total = Object.values(seen).reduce((a, b) => a + b, 0);
      assert.ok(total <= 3 * n, `${style}: citation-js was handed ${total} entries for ${n} (each a bounded number of times, not all of them per entry)`);
    }
  } finally {
    for (const [name, original] of originals) plugins.output.add(name, original);
    await rm(dir, { recursive: true, force: true });
  }
});
