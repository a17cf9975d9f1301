import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Issue 14, item 3: `reprobook verify` recomputes what a published claim rests on from
 * scratch, in a store of its own, and fails when the published value does not hold (here: a
 * value tampered with in the stored results).
 */

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = (root: string, ...args: string[]) =>
  spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(repoRoot, 'src/engine/cli/main.ts'), ...args, '--root', root], { cwd: root, encoding: 'utf8', timeout: 120_000 });

const CLAIMS = `claims:
  - { id: area, claim: "the area is twelve", source: "§1", paper: "12", kind: approx, value: 12, tolerance: { reproduced: 0.5, partly: 2 }, results: [area] }
  - { id: ratio, claim: "the ratio is below one", source: "§2", paper: "< 1", kind: below, value: 1, tolerance: { partly: 0.1 }, results: [ratio] }
`;

async function project(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-verify-test-'));
  await mkdir(join(root, 'notebooks'));
  await mkdir(join(root, 'report'));
  // The area is computed through the artifact store, as an expensive step would be.
  await writeFile(join(root, 'notebooks', '01-area.md'), '---\ntitle: Area\nparameters:\n  w: 3\n  h: 4\n---\n\n```ts\nconst a = await artifacts.memoJson({ kind: "area", inputs: { w: params.w, h: params.h } }, async () => params.w * params.h);\npublish("area", a);\n```\n');
  await writeFile(join(root, 'notebooks', '02-ratio.md'), '---\ntitle: Ratio\n---\n\n```ts\npublish("ratio", 0.75);\npublish("label", "three quarters");\n```\n');
  await writeFile(join(root, 'report', 'claims.yaml'), CLAIMS);
  return root;
}

async function storeDigest(root: string): Promise<string> {
  const h = createHash('sha256');
  const dir = join(root, '.reprobook');
  for (const f of (await readdir(dir, { recursive: true })).sort()) {
    h.update(f);
    try { h.update(await readFile(join(dir, f))); } catch { /* a directory */ }
  }
  return h.digest('hex');
}

test('verify recomputes a claim from scratch in its own store, and a tampered value fails', async () => {
  const root = await project();
  try {
    assert.equal(cli(root, 'run').status, 0);
    const before = await storeDigest(root);

    const ok = cli(root, 'verify', 'area');
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^HOLDS: claim area \(the area is twelve\); tolerance ±0\.5/m);
    assert.match(ok.stdout, /area: published 12, recomputed 12 \(difference 0\)/);
    assert.match(ok.stdout, /recomputed 01-area in a scratch store: 1 artifact\(s\) computed, 0 reused/);
    assert.match(ok.stdout, /^published: {2}backend unknown; commit unknown; node v20/m);
    assert.doesNotMatch(ok.stderr, /02-ratio/, 'only the notebook that published the value runs');
    assert.equal(await storeDigest(root), before, 'the project\'s own store is neither read into nor written');

    // Tamper with the published value: the recomputation no longer agrees.
    const resultsFile = join(root, '.reprobook', 'results', 'default.json');
    const published = JSON.parse(await readFile(resultsFile, 'utf8'));
    published.results.area = 13;
    await writeFile(resultsFile, JSON.stringify(published));
    const bad = cli(root, 'verify', 'area');
    assert.equal(bad.status, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /^DOES NOT HOLD: claim area/m);
    assert.match(bad.stdout, /area: published 13, recomputed 12 \(difference -1\)\s+<- outside the tolerance/);
    assert.match(bad.stdout, /verdict: published "partly", recomputed "reproduced"\s+<- differs/);

    // --all checks every claim; a bare result is compared exactly unless --tolerance is given.
    const all = cli(root, 'verify', '--all', '--json');
    assert.equal(all.status, 1);
    const json = JSON.parse(all.stdout) as { outcomes: Array<{ target: { id: string }; holds: boolean }>; notebooks: string[] };
    assert.deepEqual(json.outcomes.map((o) => [o.target.id, o.holds]), [['area', false], ['ratio', true]]);
    assert.deepEqual(json.notebooks, ['01-area', '02-ratio']);
    assert.equal(cli(root, 'verify', 'label').status, 0);
    assert.equal(cli(root, 'verify', 'area', '--tolerance', '2').status, 1, 'a claim keeps its own tolerance');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('verify names unknown claims, missing runs and bad flags', async () => {
  const root = await project();
  try {
    const none = cli(root, 'verify', 'area');
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no published run of profile default[\s\S]*reprobook build/);
    assert.equal(cli(root, 'run').status, 0);
    const unknown = cli(root, 'verify', 'volume');
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /"volume" is neither a claim nor a published result[\s\S]*claims: area, ratio/);
    assert.match(cli(root, 'verify', 'label', '--tolerance', '-1').stderr, /--tolerance -1 is not a non-negative number/);
    assert.match(cli(root, 'verify').stderr, /needs a claim id or a result name/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
