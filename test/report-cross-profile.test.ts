import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JSDOM } from 'jsdom';
import { buildSite } from '../src/engine/report/site.ts';
import { freezeProfile } from '../src/engine/freeze/freeze.ts';
import { formatWarning } from '../src/engine/report/warnings.ts';
import { UserError } from '../src/engine/util/errors.ts';

/**
 * Issue 21, items 1, 2 and 5: a report cites another profile's values and cells, from the
 * frozen record where this machine has not run it, says so on every page that does, marks
 * what went stale, and shows the claims of both runs side by side with their intervals.
 */

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = (root: string, ...args: string[]) =>
  spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(repoRoot, 'src/engine/cli/main.ts'), ...args, '--root', root], { cwd: root, encoding: 'utf8', timeout: 120_000 });

const REPORT = `---
title: Two runs
---

## Results {#sec-results}

The quick run finds {{result rate percent ci}}; the long run {{result long:rate percent ci}} and {{result long:total}}.

{{embed long:01-count#tbl-count}}

{{claims tbl-claims}}
`;

const CLAIMS = `profiles: [long]
claims:
  - { id: rate, claim: "the rate is a quarter", source: "§1", paper: "25%", kind: approx, value: 0.25, tolerance: { reproduced: 0.02, partly: 0.1 }, results: [rate], profile: long }
`;

async function project(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-xprofile-'));
  await mkdir(join(root, 'notebooks'));
  await mkdir(join(root, 'lib'));
  await mkdir(join(root, 'report'));
  await writeFile(join(root, 'package.json'), JSON.stringify({ name: 'xprofile', private: true, type: 'module' }));
  await writeFile(join(root, 'reprobook.config.yaml'), 'defaultProfile: quick\nparameters:\n  n: 100\nprofiles:\n  quick: { n: 100 }\n  long: { n: 10000 }\n');
  await writeFile(join(root, 'lib', 'count.ts'), 'export const hits = (n: number) => Math.floor(n / 4) + (n === 100 ? 1 : 0);\n');
  await writeFile(join(root, 'notebooks', '01-count.md'), '---\ntitle: Count\n---\n\n```ts\n//| label: tbl-count\n//| caption: The count.\nimport { hits } from "../lib/count.ts";\nconst k = hits(params.n);\npublish("rate", k / params.n, { count: { k, n: params.n } });\npublish("total", params.n);\n[{ n: params.n, hits: k }]\n```\n');
  await writeFile(join(root, 'report', 'index.md'), REPORT);
  await writeFile(join(root, 'report', 'claims.yaml'), CLAIMS);
  return root;
}

const text = (html: string) => new JSDOM(html).window.document.body.textContent!.replace(/\s+/g, ' ');

test('a report cites a frozen run of another profile: values, cells, claims side by side, pages of its own', async () => {
  const root = await project();
  try {
    assert.equal(cli(root, 'run', '--profile', 'long').status, 0);
    await freezeProfile(root, 'long');
    // This machine forgets its run of `long` (a fresh clone has only the frozen record).
    await rm(join(root, '.reprobook'), { recursive: true, force: true });
    assert.equal(cli(root, 'run', '--profile', 'quick').status, 0);
    const out = join(root, '_site');
    const site = await buildSite({ root, profile: 'quick', out, builtAt: '2026-12-04T00:00:00.000Z' });
    assert.deepEqual(site.warnings.map(formatWarning), []);
    const index = await readFile(join(out, 'index.html'), 'utf8');
    const t = text(index);
    assert.match(t, /The quick run finds 26\.00% \[18\.\d\d%–35\.\d\d%\]; the long run 25\.00% \[24\.\d\d%–25\.\d\d%\]❄ and 10,000❄/);
    assert.match(t, /Values marked ❄ are from the frozen run of profile long \(report\/frozen\/long\/, frozen \d{4}-\d\d-\d\d at/);
    // The value links to the cell of the long run's own page, which the site holds.
    const doc = new JSDOM(index).window.document;
    const link = doc.querySelector('a.result[data-result="long:rate"]')!;
    assert.equal(link.getAttribute('href'), 'profiles/long/notebooks/01-count.html#cell-1');
    assert.ok(existsSync(join(out, 'profiles', 'long', 'notebooks', '01-count.html')));
    assert.match(text(await readFile(join(out, 'profiles', 'long', 'notebooks', '01-count.html'), 'utf8')), /This page is from the frozen run of profile long/);
    // The embedded cell is the long run's (n = 10000), from its frozen outputs.
    assert.match(doc.querySelector('#tbl-count')!.textContent!, /10,000.*2,500/s);
    // The claims table: both runs, the verdict judged on long.
    const row = doc.querySelector('#claim-rate')!;
    const cells = [...row.querySelectorAll('td')].map((c) => c.textContent!.replace(/\s+/g, ' '));
    assert.match(cells[2]!, /26\.00%.*95% interval 18\.\d\d% to 35\.\d\d%.*not reproduced; the value alone: reproduced/, 'quick: 26 of 100 is within ±2 pp, but its interval reaches past ±10 pp');
    assert.match(cells[3]!, /25\.00%.*95% interval 24\.\d\d% to 25\.\d\d%.*reproduced/);
    assert.match(cells[5]!, /reproduced.*judged on long/);
    assert.ok(doc.querySelector('#tbl-claims thead')!.textContent!.includes('Ours: long'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a frozen value whose code changed is marked stale on the page and fails --strict; a profile with no run is "not run"', async () => {
  const root = await project();
  try {
    assert.equal(cli(root, 'run', '--profile', 'long').status, 0);
    await freezeProfile(root, 'long');
    await writeFile(join(root, 'lib', 'count.ts'), 'export const hits = (n: number) => Math.floor(n / 4) + (n === 100 ? 2 : 0);\n');
    assert.equal(cli(root, 'run', '--profile', 'quick').status, 0);
    const out = join(root, '_site');
    const site = await buildSite({ root, profile: 'quick', out });
    const warned = site.warnings.map(formatWarning);
    assert.ok(warned.some((w) => /^report\/index\.md:7: result "long:rate" is from the run frozen at ([0-9a-f]{12}|no commit), and the code/.test(w)), warned.join('\n'));
    const t = text(await readFile(join(out, 'index.html'), 'utf8'));
    assert.match(t, /25\.00% \[24\.\d\d%–25\.\d\d%\]❄ \(frozen at [^,]+, code changed since\)/);
    await assert.rejects(buildSite({ root, profile: 'quick', out: join(root, 'strict'), strict: true }), (e: unknown) => e instanceof UserError && /code, parameters or data of notebook 01-count have changed since/.test(e.message));
    // Without the frozen record (and without a run of long here): "not run", with a warning.
    await rm(join(root, 'report', 'frozen'), { recursive: true, force: true });
    const staleLocal = await buildSite({ root, profile: 'quick', out: join(root, 'local') });
    assert.ok(staleLocal.warnings.map(formatWarning).some((w) => /result "long:rate" is from the run of profile long, and the code/.test(w)), 'this machine\'s own stale run of long is cited, marked as such');
    await rm(join(root, '.reprobook', 'results', 'long.json'));
    await rm(join(root, '.reprobook', 'executed', 'long'), { recursive: true });
    const bare = await buildSite({ root, profile: 'quick', out: join(root, 'bare') });
    assert.ok(bare.warnings.map(formatWarning).some((w) => /profile long has no run here and no frozen record/.test(w)));
    assert.match(text(await readFile(join(root, 'bare', 'index.html'), 'utf8')), /the long run not run/);
    // A profile that does not exist is an error naming the report line.
    await writeFile(join(root, 'report', 'index.md'), REPORT.replace('{{result long:total}}', '{{result longer:total}}'));
    await assert.rejects(buildSite({ root, profile: 'quick', out: join(root, 'x') }), (e: unknown) => e instanceof UserError && /^report\/index\.md:7: profile longer is cited but does not exist/.test(e.message));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('one label embedded from this build and from another profile is two placements, each with its id and number; the same one twice is reported', async () => {
  const root = await project();
  try {
    assert.equal(cli(root, 'run', '--profile', 'long').status, 0);
    assert.equal(cli(root, 'run', '--profile', 'quick').status, 0);
    await writeFile(join(root, 'report', 'index.md'), '---\ntitle: Both\n---\n\nSee @tbl-count.\n\n{{embed 01-count#tbl-count}}\n\n{{embed long:01-count#tbl-count}}\n\n{{embed quick:01-count#tbl-count}}\n');
    const out = join(root, '_site');
    const site = await buildSite({ root, profile: 'quick', out });
    // The third names this build's own profile: the same run's label again, so a duplicate.
    assert.deepEqual(site.warnings.map(formatWarning), ['report/index.md:11: {{embed quick:01-count#tbl-count}}: tbl-count is placed twice; the second has no id, so references go to the first']);
    const doc = new JSDOM(await readFile(join(out, 'index.html'), 'utf8')).window.document;
    const rowOf = (id: string) => [...doc.querySelectorAll(`#${id} td`)].map((c) => c.textContent);
    assert.match(doc.querySelector('#tbl-count figcaption')!.textContent!, /^Table 1:/);
    assert.deepEqual(rowOf('tbl-count'), ['100', '26']);
    assert.match(doc.querySelector('#long-tbl-count figcaption')!.textContent!, /^Table 2:.*profile long/);
    assert.deepEqual(rowOf('long-tbl-count'), ['10,000', '2,500']);
    assert.equal(doc.querySelectorAll('figure.table-figure').length, 3);
    assert.equal(doc.querySelector('a[href="#tbl-count"]')?.textContent, 'Table 1');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
