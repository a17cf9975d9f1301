import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freezeProfile, frozenStaleness } from '../src/engine/freeze/freeze.ts';
import { loadFrozenRun } from '../src/engine/freeze/record.ts';
import { UserError } from '../src/engine/util/errors.ts';

/**
 * Issue 21, item 1: a frozen run is committed into the repository, cited anywhere, and goes
 * stale visibly when the code or data behind its values change.
 */

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = (root: string, ...args: string[]) =>
  spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(repoRoot, 'src/engine/cli/main.ts'), ...args, '--root', root], { cwd: root, encoding: 'utf8', timeout: 120_000 });

async function project(name = 'frozen-test'): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-freeze-'));
  await mkdir(join(root, 'notebooks'));
  await mkdir(join(root, 'lib'));
  await writeFile(join(root, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  await writeFile(join(root, 'reprobook.config.yaml'), 'parameters:\n  n: 10\nprofiles:\n  small: { n: 10 }\n  long: { n: 1000 }\n');
  await writeFile(join(root, 'lib', 'sum.ts'), 'export const sum = (n: number) => (n * (n + 1)) / 2;\n');
  await writeFile(join(root, 'notebooks', '01-sum.md'), '---\ntitle: Sum\n---\n\n```ts\n//| label: tbl-sum\nimport { sum } from "../lib/sum.ts";\npublish("sum", sum(params.n), { count: { k: 1, n: 4 } });\n[{ n: params.n, sum: sum(params.n) }]\n```\n');
  await writeFile(join(root, 'notebooks', '02-const.md'), '---\ntitle: Constant\n---\n\n```ts\npublish("answer", 42);\n```\n');
  return root;
}

test('freeze writes a profile\'s run (values, counts, provenance, cell outputs) and refuses what it cannot stand behind', async () => {
  const root = await project();
  try {
    // Nothing run yet: nothing to freeze, nothing written.
    await assert.rejects(freezeProfile(root, 'long'), (e: unknown) => e instanceof UserError && /01-sum: no good run of profile long/.test(e.message) && /reprobook build --profile long/.test(e.hint ?? ''));
    await assert.rejects(freezeProfile(root, 'nope'), (e: unknown) => e instanceof UserError && /unknown profile 'nope'/.test(e.message));
    assert.equal(await loadFrozenRun(root, 'long'), null);
    assert.equal(cli(root, 'run', '--profile', 'long').status, 0);
    const out = cli(root, 'freeze', '--profile', 'long');
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /froze profile long: 2 values from 2 notebooks/);
    const run = (await loadFrozenRun(root, 'long'))!;
    assert.equal(run.record.project, 'frozen-test');
    assert.equal(run.record.results.results.sum, 500500);
    assert.deepEqual(run.record.results.counts?.sum, { k: 1, n: 4 });
    assert.equal(run.record.results.sources.sum!.notebook, '01-sum');
    assert.deepEqual(run.executed.map((e) => e.notebook.name), ['01-sum', '02-const']);
    assert.ok(run.executed[0]!.cells[0]!.outputs.length > 0, 'the labelled cell\'s outputs travel with the record');
    assert.deepEqual([...(await frozenStaleness(root, run))], [], 'fresh: nothing stale');
    // No artifacts, no trained weights: only JSON.
    const files = spawnSync('find', [join(root, 'report', 'frozen'), '-type', 'f'], { encoding: 'utf8' }).stdout.trim().split('\n').map((f) => f.slice(root.length + 1)).sort();
    assert.deepEqual(files, ['report/frozen/long/notebooks/01-sum.json', 'report/frozen/long/notebooks/02-const.json', 'report/frozen/long/record.json']);

    // The code behind 01-sum changes: its values go stale, 02-const's do not; freezing again is refused until it re-runs.
    await writeFile(join(root, 'lib', 'sum.ts'), 'export const sum = (n: number) => n * (n + 1) / 2 + 0;\n');
    assert.deepEqual([...(await frozenStaleness(root, run))], ['01-sum']);
    await assert.rejects(freezeProfile(root, 'long'), /01-sum: its last run .* is of older code/);
    assert.equal((await loadFrozenRun(root, 'long'))!.record.frozenAt, run.record.frozenAt, 'a refused freeze leaves the old record as it was');
    // Parameters count too: the profile's n changes.
    await writeFile(join(root, 'lib', 'sum.ts'), 'export const sum = (n: number) => (n * (n + 1)) / 2;\n');
    assert.deepEqual([...(await frozenStaleness(root, run))], []);
    await writeFile(join(root, 'reprobook.config.yaml'), 'parameters:\n  n: 10\nprofiles:\n  small: { n: 10 }\n  long: { n: 999 }\n');
    assert.deepEqual([...(await frozenStaleness(root, run))].sort(), ['01-sum', '02-const'], 'every notebook declares n');
    // The profile is gone from the config: everything it froze is stale.
    await writeFile(join(root, 'reprobook.config.yaml'), 'parameters:\n  n: 10\nprofiles:\n  small: { n: 10 }\n');
    assert.equal((await frozenStaleness(root, run)).size, 2);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a frozen record that does not parse, belongs to another project or lacks a notebook is an error naming the file', async () => {
  const root = await project('mine');
  try {
    assert.equal(cli(root, 'run', '--profile', 'small').status, 0);
    await freezeProfile(root, 'small');
    const file = join(root, 'report', 'frozen', 'small', 'record.json');
    const good = await readFile(file, 'utf8');
    await writeFile(file, good.slice(0, 100));
    await assert.rejects(loadFrozenRun(root, 'small'), (e: unknown) => e instanceof UserError && /frozen record report\/frozen\/small\/record\.json: does not parse/.test(e.message) && /freeze the profile again/.test(e.hint ?? ''));
    await writeFile(file, good.replace('"project": "mine"', '"project": "theirs"'));
    await assert.rejects(loadFrozenRun(root, 'small'), /belongs to project "theirs", not to this one \("mine"\)/);
    await writeFile(file, good.replace('"format": "reprobook.frozen/1"', '"format": "reprobook.frozen/0"'));
    await assert.rejects(loadFrozenRun(root, 'small'), /format "reprobook.frozen\/0" is not reprobook.frozen\/1/);
    await writeFile(file, good);
    await rm(join(root, 'report', 'frozen', 'small', 'notebooks', '02-const.json'));
    await assert.rejects(loadFrozenRun(root, 'small'), /notebooks\/02-const\.json: the executed record of notebook 02-const is missing/);
    // The commands say so too, with a non-zero exit.
    const diff = cli(root, 'diff', 'frozen:small', 'small');
    assert.notEqual(diff.status, 0);
    assert.match(diff.stderr, /02-const/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('diff compares a frozen run with a fresh one, and verify recomputes a frozen value from scratch', async () => {
  const root = await project();
  try {
    assert.equal(cli(root, 'run', '--profile', 'long').status, 0);
    await freezeProfile(root, 'long');
    // The code changes after the freeze and the profile is run again: diff shows what moved.
    await writeFile(join(root, 'lib', 'sum.ts'), 'export const sum = (n: number) => (n * (n + 1)) / 2 + 1;\n');
    assert.equal(cli(root, 'run', '--profile', 'long').status, 0);
    const d = cli(root, 'diff', 'frozen:long', 'long', '--json');
    assert.equal(d.status, 0, d.stderr);
    const rows = JSON.parse(d.stdout) as { values: Array<{ name: string; a?: unknown; b?: unknown }> };
    const sum = rows.values.find((r) => r.name === 'sum')!;
    assert.deepEqual([sum.a, sum.b], [500500, 500501]);
    assert.match(cli(root, 'diff', 'frozen:none', 'long').stderr, /no frozen run of profile "none".*\n.*frozen runs here: long/);
    // verify --frozen recomputes the frozen value with today's code: it no longer holds.
    const v = cli(root, 'verify', 'sum', '--profile', 'long', '--frozen');
    assert.equal(v.status, 1, v.stdout + v.stderr);
    assert.match(v.stderr, /checking the frozen run of long/);
    assert.match(v.stdout, /sum: published 500,500, recomputed 500,501/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
