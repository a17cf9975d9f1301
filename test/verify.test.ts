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
    assert.match(ok.stdout, /recomputed 01-area in an empty scratch store: 1 artifact\(s\) computed \(a value was published without its chain of keys, so everything was\)/);
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

    // A run built with --param overrides is recomputed with the same parameters.
    assert.equal(cli(root, 'run', '--param', 'w=5').status, 0);
    const overridden = cli(root, 'verify', 'area');
    assert.equal(overridden.status, 0, overridden.stdout + overridden.stderr);
    assert.match(overridden.stdout, /area: published 20, recomputed 20 \(difference 0\)/);
    assert.doesNotMatch(overridden.stdout, /parameters differ/);
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

/**
 * With the chain of keys published beside a value, verify recomputes that chain and nothing
 * else: here `sum` rests on units a and b and their stored sides, not on unit c of the same
 * notebook, which is read from the project's store.
 */
test('verify recomputes just the chain of keys a value was published with', async () => {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-verify-chain-'));
  try {
    await mkdir(join(root, 'notebooks'));
    await mkdir(join(root, 'report'));
    const log = join(root, 'computed.log');
    const grid = join(repoRoot, 'src/engine/grid/index.ts');
    const handler = join(repoRoot, 'test/fixtures/grid/chain-handler.ts');
    await writeFile(join(root, 'notebooks', '01-grid.md'), `---\ntitle: Grid\nparameters:\n  log: ${JSON.stringify(log)}\n---\n\n\`\`\`ts
import { runGrid } from ${JSON.stringify(grid)};
const log = params.log;
const report = await runGrid([
  { id: 'a', kind: 'square', inputs: { x: 3, log } },
  { id: 'b', kind: 'square', inputs: { x: 4, log } },
  { id: 'sum', kind: 'plus', inputs: { k: 1, log }, deps: ['a', 'b'] },
  { id: 'c', kind: 'square', inputs: { x: 5, log } },
], { handler: ${JSON.stringify(handler)}, storeRoot: artifacts.root, workers: 1 });
publish('sum', report.results.sum, { artifacts: report.chains.sum });
publish('c', report.results.c, { artifacts: report.chains.c });
\`\`\`
`);
    await writeFile(join(root, 'report', 'claims.yaml'), 'claims:\n  - { id: total, claim: "the sum is 26", source: "§1", paper: "26", kind: approx, value: 26, tolerance: { reproduced: 0.5, partly: 2 }, results: [sum] }\n');
    const run = cli(root, 'run');
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const computed = async () => (await readFile(log, 'utf8')).split('\n').filter(Boolean).sort();
    assert.deepEqual(await computed(), ['side a', 'side b', 'side c', 'unit a', 'unit b', 'unit c', 'unit sum']);
    const resultsFile = join(root, '.reprobook', 'results', 'default.json');
    const published = JSON.parse(await readFile(resultsFile, 'utf8'));
    assert.equal(published.sources.sum.artifacts.length, 5, 'sum rests on the keys of a, b and sum, and on the sides of a and b');
    const before = await storeDigest(root);

    await writeFile(log, '');
    const ok = cli(root, 'verify', 'total');
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^HOLDS: claim total/m);
    assert.match(ok.stdout, /sum: published 26, recomputed 26 \(difference 0\)/);
    assert.match(ok.stdout, /5 artifact\(s\) computed \(the chain of keys the value\(s\) rest on: 5\); the notebooks' other results read the project's store/);
    assert.deepEqual(await computed(), ['side a', 'side b', 'unit a', 'unit b', 'unit sum'], 'the chain, from scratch, and not unit c');
    assert.equal(await storeDigest(root), before, 'the project store is read, never written');

    // A published chain that misses a link: the recomputed value rests on a borrowed artifact,
    // so it was not recomputed from scratch, and verify says so instead of passing.
    const chain: string[] = published.sources.sum.artifacts;
    published.sources.sum.artifacts = chain.slice(1);
    await writeFile(resultsFile, JSON.stringify(published));
    const partial = cli(root, 'verify', 'sum');
    assert.equal(partial.status, 1, partial.stdout + partial.stderr);
    assert.match(partial.stdout, /not from scratch: the recomputed value rests on [12] artifact\(s\) that were not recomputed but read from the project's store/);

    // A tampered value fails as before.
    published.sources.sum.artifacts = chain;
    published.results.sum = 30;
    await writeFile(resultsFile, JSON.stringify(published));
    const bad = cli(root, 'verify', 'total');
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /sum: published 30, recomputed 26 \(difference -4\)\s+<- outside the tolerance/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
