import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JSDOM } from 'jsdom';
import { diffRuns } from '../src/engine/diff/diff.ts';
import { renderDiffText } from '../src/engine/diff/render.ts';
import { parseClaims } from '../src/engine/results/claims.ts';
import type { ResultsFile } from '../src/engine/core/records.ts';

/** Issue 14, item 2: `reprobook diff A B` (results files, profiles, saved builds) and the site's diff.html. */

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = (root: string, ...args: string[]) =>
  spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(repoRoot, 'src/engine/cli/main.ts'), ...args, '--root', root], { cwd: root, encoding: 'utf8', timeout: 120_000 });

const CLAIMS = `claims:
  - { id: x-value, claim: "x is four", source: "§1", paper: "4", kind: approx, value: 4, tolerance: { reproduced: 0.5, partly: 1 }, results: [x] }
`;
const file = (results: Record<string, unknown>, profile: string | null = 'p'): ResultsFile =>
  ({ profile, provenance: { generatedAt: '2026-12-01T00:00:00Z', environment: { node: 'v20', platform: 'linux', cpus: 2, packages: {}, backend: 'wasm' }, notebooks: [] }, results, sources: {} });

test('per result: both values, the change (in points for fractions), added and removed; per claim: both verdicts', () => {
  const a = file({ x: 4, rate: 0.892, same: 'text', gone: 1 });
  const b = file({ x: 6, rate: 0.7378, same: 'text', fresh: [1, 2] });
  const d = diffRuns({ label: 'A', file: a }, { label: 'B', file: b }, parseClaims(CLAIMS));
  const by = Object.fromEntries(d.values.map((v) => [v.name, v]));
  assert.equal(by.x!.change, 'changed');
  assert.equal(by.x!.delta, 2);
  assert.equal(by.same!.change, 'same');
  assert.equal(by.gone!.change, 'removed');
  assert.deepEqual(by.fresh!.b, [1, 2]);
  assert.equal(by.fresh!.change, 'added');
  assert.deepEqual(d.counts, { same: 1, changed: 2, added: 1, removed: 1, verdictsChanged: 1 });
  assert.deepEqual(d.verdicts.map((v) => [v.id, v.a, v.b, v.changed]), [['x-value', 'reproduced', 'not reproduced', true]]);
  const text = renderDiffText(d);
  assert.match(text, /rate\s+0\.892\s+0\.7378\s+−15\.42 pp/);
  assert.match(text, /x\s+4\s+6\s+\+2/);
  assert.match(text, /x-value\s+reproduced\s+not reproduced\s+VERDICT CHANGED/);
  assert.doesNotMatch(text, /^same\b/m, 'unchanged results are left out by default');
  assert.match(renderDiffText(d, { all: true }), /^same\s+text\s+text/m);
});

async function project(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-diff-'));
  await mkdir(join(root, 'notebooks'));
  await mkdir(join(root, 'report'));
  await writeFile(join(root, 'notebooks', '01-x.md'), '---\ntitle: X\nparameters:\n  n: 2\n---\n\n```ts\npublish("x", params.n * 2);\npublish("rate", 1 / params.n);\n```\n');
  await writeFile(join(root, 'report', 'index.md'), '---\ntitle: X\n---\n\nx is {{result x int}}.\n\n{{claims tbl-claims}}\n');
  await writeFile(join(root, 'report', 'claims.yaml'), CLAIMS);
  return root;
}

test('two results files, two saved builds, the site\'s diff.html, and clear errors', async () => {
  const root = await project();
  try {
    assert.equal(cli(root, 'build', '--no-pdf').status, 0);
    await writeFile(join(root, 'first.json'), await readFile(join(root, '_site', 'results.json')));
    const b2 = cli(root, 'build', '--no-pdf', '--param', 'n=3');
    assert.equal(b2.status, 0, b2.stderr);

    // Two files; JSON; the CI switch.
    const files = cli(root, 'diff', 'first.json', '_site/results.json');
    assert.equal(files.status, 0, files.stderr);
    assert.match(files.stdout, /^x\s+4\s+6\s+\+2$/m);
    assert.match(files.stdout, /x-value\s+reproduced\s+not reproduced\s+VERDICT CHANGED/);
    const json = JSON.parse(cli(root, 'diff', 'first.json', '_site/results.json', '--json').stdout);
    assert.equal(json.values.find((v: { name: string }) => v.name === 'x').delta, 2);
    assert.equal(cli(root, 'diff', 'first.json', '_site/results.json', '--fail-on-change').status, 1);

    // Saved builds: default~2 is the first build; one argument compares it with the store now.
    const saved = cli(root, 'diff', 'default~2', 'default~1');
    assert.match(saved.stdout, /^x\s+4\s+6\s+\+2$/m, saved.stderr);
    assert.equal(cli(root, 'diff', 'default').stdout, saved.stdout.replace('B: default~1', 'B: default'));

    // The site shows the change since the previous build, linked from every page's footer.
    const page = new JSDOM(await readFile(join(root, '_site', 'diff.html'), 'utf8')).window.document;
    const changed = [...page.querySelectorAll('tr.change-changed')].map((tr) => [...tr.children].map((c) => c.textContent));
    assert.deepEqual(changed, [['rate', '0.5', '0.3333', '−16.67 pp'], ['x', '4', '6', '+2']]);
    assert.match(page.querySelector('#claim-x-value')!.textContent!, /reproduced.*not reproduced/);
    const index = new JSDOM(await readFile(join(root, '_site', 'index.html'), 'utf8')).window.document;
    assert.ok(index.querySelector('footer a[href="diff.html"]'));

    // Bad input: named, with the fix, exit 1.
    const bad = (args: string[], re: RegExp) => {
      const r = cli(root, 'diff', ...args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    };
    bad(['missing.json', 'first.json'], /results file missing\.json does not exist/);
    bad(['nope', 'default'], /no run of profile "nope"[\s\S]*profiles with runs here: default/);
    bad(['default~9', 'default'], /default~9: profile "default" has 2 saved builds[\s\S]*default~1 \(the last build\) to default~2/);
    await writeFile(join(root, 'broken.json'), '{"results": ');
    bad(['broken.json', 'first.json'], /broken\.json is not valid JSON/);
    await writeFile(join(root, 'other.json'), '{"values": {}}');
    bad(['other.json', 'first.json'], /other\.json is not a results file/);

    // A saved build cut short costs the next build its comparison, said so, not the build.
    const history = join(root, '.reprobook', 'history', 'default');
    const newest = (await readdir(history)).sort().at(-1)!;
    await writeFile(join(history, newest), '{"results": ');
    const after = cli(root, 'build', '--no-pdf', '--no-run');
    assert.equal(after.status, 0, after.stderr);
    assert.match(after.stderr, /saved build default~1 is not valid JSON[^\n]*diff\.html shows no comparison this time/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
