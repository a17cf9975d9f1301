import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { JSDOM } from 'jsdom';
import { buildSite } from '../src/engine/report/site.ts';
import { selfContainedPage } from '../src/engine/report/self-contained.ts';
import { UserError } from '../src/engine/util/errors.ts';
import { makeFixtureRoot } from './fixtures/report/fixture-root.ts';

/**
 * Issue 22, item 3: nothing outside the project root is read into the site, the PDF (printed
 * from the site), the one-file report or the bundle (which zips the site). A local image of
 * the report is copied into the site; `..` and symlinks are resolved before the check.
 */

// A 1x1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

async function setup(): Promise<{ root: string; outside: string; done: () => Promise<void> }> {
  const root = await makeFixtureRoot({ withReport: false });
  const outside = await mkdtemp(join(tmpdir(), 'reprobook-outside-'));
  await writeFile(join(outside, 'secret.png'), PNG);
  await writeFile(join(outside, 'secret.css'), 'body { --secret: 1 }\n');
  await mkdir(join(root, 'report'));
  return { root, outside, done: async () => { await rm(root, { recursive: true, force: true }); await rm(outside, { recursive: true, force: true }); } };
}

const refused = (file: string, line: number | null) => (e: unknown) =>
  e instanceof UserError && e.message.startsWith(`${file}${line === null ? '' : `:${line}`}: `) && /outside the project/.test(e.message);

test('a report image outside the project, by .. or through a symlink, is refused naming the line; one inside is copied into the site and inlined in report.html', async () => {
  const { root, outside, done } = await setup();
  try {
    const out = join(root, '_site');
    const up = relative(join(root, 'report'), join(outside, 'secret.png'));
    await writeFile(join(root, 'report', 'index.md'), `---\ntitle: R\n---\n\n# R\n\n![s](${up})\n`);
    await assert.rejects(buildSite({ root, profile: 'smoke', out }), refused('report/index.md', 7));
    assert.ok(!existsSync(join(out, 'index.html')), 'nothing is written');

    await symlink(join(outside, 'secret.png'), join(root, 'report', 'linked.png'));
    await writeFile(join(root, 'report', 'index.md'), '# R\n\nText.\n\n![s](linked.png)\n');
    await assert.rejects(buildSite({ root, profile: 'smoke', out }), refused('report/index.md', 5));

    await mkdir(join(root, 'report', 'figures'));
    await writeFile(join(root, 'report', 'figures', 'dot.png'), PNG);
    await writeFile(join(root, 'report', 'index.md'), '# R\n\n![a dot](figures/../figures/dot.png)\n');
    const site = await buildSite({ root, profile: 'smoke', out, selfContained: true });
    const img = new JSDOM(await readFile(site.indexPath, 'utf8')).window.document.querySelector('img')!;
    assert.equal(img.getAttribute('src'), 'assets/files/report/figures/dot.png');
    assert.deepEqual(await readFile(join(out, 'assets', 'files', 'report', 'figures', 'dot.png')), PNG, 'the image is in the site');
    const one = new JSDOM(await selfContainedPage(out, site.indexPath)).window.document.querySelector('img')!;
    assert.equal(one.getAttribute('src'), `data:image/png;base64,${PNG.toString('base64')}`, 'and inline in the one-file report');
  } finally {
    await done();
  }
});

test('a report/style.css, bibliography or report file that is a symlink out of the project is refused, naming it', async () => {
  const { root, outside, done } = await setup();
  try {
    const out = join(root, '_site');
    await writeFile(join(root, 'report', 'index.md'), '# R\n\nText.\n');
    await symlink(join(outside, 'secret.css'), join(root, 'report', 'style.css'));
    await assert.rejects(buildSite({ root, profile: 'smoke', out }), refused('report/style.css', null));
    await rm(join(root, 'report', 'style.css'));
    // What a style loads is read into the PDF too: only data: URLs, which carry their content.
    await writeFile(join(root, 'report', 'style.css'), `body { color: #222; }\n.x { background: url("${relative(join(root, '_site', 'assets'), join(outside, 'secret.png'))}"); }\n`);
    await assert.rejects(buildSite({ root, profile: 'smoke', out }), (e: unknown) => e instanceof UserError && /^report\/style\.css:2: .*url\(/.test(e.message));
    await writeFile(join(root, 'report', 'style.css'), '@import "other.css";\n');
    await assert.rejects(buildSite({ root, profile: 'smoke', out }), (e: unknown) => e instanceof UserError && /^report\/style\.css:1: /.test(e.message));
    await writeFile(join(root, 'report', 'style.css'), `.dot { background: url(data:image/png;base64,${PNG.toString('base64')}); }\n`);
    await buildSite({ root, profile: 'smoke', out });
    await rm(join(root, 'report', 'style.css'));
    await rm(out, { recursive: true });

    await writeFile(join(outside, 'refs.bib'), '@book{a, title = {A}, year = {2000}}\n');
    await writeFile(join(root, 'report', 'index.md'), `---\ntitle: R\nbibliography: ${relative(join(root, 'report'), join(outside, 'refs.bib'))}\n---\n\n# R\n`);
    await assert.rejects(buildSite({ root, profile: 'smoke', out }), refused('report/index.md', 3));

    await rm(join(root, 'report', 'index.md'));
    await symlink(join(outside, 'secret.css'), join(root, 'report', 'index.md'));
    await assert.rejects(buildSite({ root, profile: 'smoke', out }), refused('report/index.md', null));
    assert.ok(!existsSync(join(out, 'index.html')), 'nothing is written');
  } finally {
    await done();
  }
});
