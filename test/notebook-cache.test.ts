import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProject, type ProjectRunRequest } from '../src/engine/notebook/project.ts';
import { executedPath, loadExecuted, loadResults, resultsPath } from '../src/engine/store/executed.ts';
import { importedSources, globToRegExp } from '../src/engine/notebook/cache.ts';
import { parseNotebook } from '../src/engine/notebook/markdown-format.ts';
import { toIpynb } from '../src/engine/notebook/ipynb.ts';
import { UserError } from '../src/engine/util/errors.ts';
import type { ExecutedNotebook } from '../src/engine/core/records.ts';

const FIX = join(import.meta.dirname, 'fixtures', 'notebooks');

async function fixtureRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-cache-'));
  await cp(join(FIX, 'project'), root, { recursive: true });
  return root;
}

async function run(root: string, req: Partial<ProjectRunRequest> = {}) {
  const lines: string[] = [];
  const r = await runProject({ root, quietArtifacts: true, log: (l) => lines.push(l), ...req });
  return { ...r, lines, status: Object.fromEntries(r.outcomes.map((o) => [o.name, o.status])) };
}

async function edit(root: string, rel: string, from: string | RegExp, to: string): Promise<void> {
  const p = join(root, rel);
  const text = await readFile(p, 'utf8');
  const next = text.replace(from, to);
  assert.notEqual(next, text, `edit of ${rel} changed nothing`);
  await writeFile(p, next);
}

test('cache: hit when unchanged or prose-only; miss on code, parameter, imported source, lockfile and data edits', async () => {
  const root = await fixtureRoot();
  try {
    const first = await run(root);
    assert.deepEqual(first.status, { '01-basics': 'ran', '02-imports': 'ran' });
    assert.ok(first.ok);
    assert.match(first.lines[0]!, /^profile: default/);
    assert.ok(first.lines.some((l) => /01-basics: ran in [\d.]+s \(key [0-9a-f]{12}\)/.test(l)), first.lines.join('\n'));
    const key1 = first.outcomes[0]!.cacheKey;

    const again = await run(root);
    assert.deepEqual(again.status, { '01-basics': 'cached', '02-imports': 'cached' });
    assert.equal(again.outcomes[0]!.cacheKey, key1);
    assert.ok(again.lines.some((l) => l.startsWith('01-basics: cached (key ')));

    // Prose-only edit: reused, and the stored prose follows the file.
    await edit(root, 'notebooks/01-basics.md', 'Some prose that can change', 'Edited prose that can change');
    const prose = await run(root);
    assert.equal(prose.status['01-basics'], 'cached');
    const stored = JSON.parse(await readFile(executedPath(root, null, '01-basics'), 'utf8')) as ExecutedNotebook;
    assert.ok(stored.notebook.blocks.some((b) => b.kind === 'prose' && b.markdown.includes('Edited prose')));
    assert.equal(stored.cacheKey, key1);

    // Render-only options do not matter; code does.
    await edit(root, 'notebooks/01-basics.md', '//| label: tla', '//| label: tla\n//| echo: false');
    assert.equal((await run(root)).status['01-basics'], 'cached');
    await edit(root, 'notebooks/01-basics.md', "counter.inc();\npublish('counter'", "counter.inc(); counter.inc();\npublish('counter'");
    const code = await run(root);
    assert.deepEqual(code.status, { '01-basics': 'ran', '02-imports': 'cached' });
    assert.equal(code.results.results.counter, 3);

    // Parameter change.
    const param = await run(root, { overrides: { samples: '5' } });
    assert.deepEqual(param.status, { '01-basics': 'ran', '02-imports': 'ran' });
    assert.equal(param.results.results['metrics.base'], 10);
    assert.deepEqual(param.outcomes[1]!.params, { samples: 5 });
    assert.deepEqual((await run(root, { overrides: { samples: '5' } })).status, { '01-basics': 'cached', '02-imports': 'cached' });

    // Transitive imported source (src/lib.ts imports src/dep.ts), lockfile and data files.
    await edit(root, 'src/dep.ts', "'dep-1'", "'dep-2'");
    assert.deepEqual((await run(root, { overrides: { samples: '5' } })).status, { '01-basics': 'cached', '02-imports': 'ran' });
    await appendFile(join(root, 'package-lock.json'), '\n');
    assert.deepEqual((await run(root, { overrides: { samples: '5' } })).status, { '01-basics': 'ran', '02-imports': 'ran' });
    await writeFile(join(root, 'data', 'numbers.txt'), '1 2 4\n');
    const data = await run(root, { overrides: { samples: '5' } });
    assert.deepEqual(data.status, { '01-basics': 'ran', '02-imports': 'ran' });
    assert.equal(data.results.provenance.data?.['data/numbers.txt']?.length, 64);

    // Configured dependencies beyond data: built files (in the key, not listed as data) and
    // environment variables (unset counts as a value; setting it, then changing it, re-runs).
    await appendFile(join(root, 'reprobook.config.yaml'), '\ndependsOn:\n  - build/*.node\nenvironment:\n  - REPROBOOK_TEST_KERNELS\n');
    await run(root, { overrides: { samples: '5' } });
    assert.deepEqual((await run(root, { overrides: { samples: '5' } })).status, { '01-basics': 'cached', '02-imports': 'cached' });
    await mkdir(join(root, 'build'), { recursive: true });
    await writeFile(join(root, 'build', 'kernels.node'), 'v1');
    const built = await run(root, { overrides: { samples: '5' } });
    assert.deepEqual(built.status, { '01-basics': 'ran', '02-imports': 'ran' }, 'a built file appearing re-runs');
    assert.equal(built.results.provenance.data?.['build/kernels.node'], undefined, 'dependsOn files are not data');
    // The environment is an argument of the run (the CLI passes its process's), not read deep inside.
    const withKernels = (v: string) => ({ overrides: { samples: '5' }, env: { ...process.env, REPROBOOK_TEST_KERNELS: v } });
    assert.deepEqual((await run(root, withKernels('0'))).status, { '01-basics': 'ran', '02-imports': 'ran' });
    assert.deepEqual((await run(root, withKernels('0'))).status, { '01-basics': 'cached', '02-imports': 'cached' });
    assert.deepEqual((await run(root, withKernels('1'))).status, { '01-basics': 'ran', '02-imports': 'ran' });
    assert.equal(process.env.REPROBOOK_TEST_KERNELS, undefined, 'the test process itself was not changed');

    // --force re-runs; a cell with cache: false always re-runs.
    assert.deepEqual((await run(root, { overrides: { samples: '5' }, force: true })).status, { '01-basics': 'ran', '02-imports': 'ran' });
    await edit(root, 'notebooks/02-imports.md', "```ts\nconst total", "```ts\n//| cache: false\nconst total");
    await run(root, { overrides: { samples: '5' } });
    assert.deepEqual((await run(root, { overrides: { samples: '5' } })).status, { '01-basics': 'cached', '02-imports': 'ran' });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('profiles: project and front-matter values are used and recorded per profile; unknown names are errors', async () => {
  const root = await fixtureRoot();
  try {
    const paper = await run(root, { profile: 'paper' });
    assert.equal(paper.profile, 'paper');
    assert.match(paper.lines[0]!, /^profile: paper/);
    assert.deepEqual(paper.outcomes[0]!.params, { samples: 100, eps: 0.3, label: 'paper-run', flags: [1, 2], verbose: false });
    assert.deepEqual(paper.outcomes[1]!.params, { samples: 100 });
    const results = await loadResults(root, 'paper');
    assert.equal(results!.profile, 'paper');
    assert.equal(results!.results['metrics.eps'], 0.3);
    assert.ok(existsSync(executedPath(root, 'paper', '01-basics')));
    assert.ok(!existsSync(executedPath(root, null, '01-basics')), 'profiles are stored apart');

    const quick = await run(root, { profile: 'quick', notebooks: ['02-imports'] });
    assert.deepEqual(quick.status, { '02-imports': 'ran' });
    assert.deepEqual(quick.outcomes[0]!.params, { samples: 4 }, 'undeclared project-profile values are ignored');

    await assert.rejects(run(root, { profile: 'full' }), (e: unknown) => e instanceof UserError && /unknown profile 'full'/.test(e.message) && /paper, quick/.test(e.hint!));
    await assert.rejects(run(root, { overrides: { epochs: '3' } }), (e: unknown) => e instanceof UserError && /unknown parameter 'epochs'/.test(e.message) && /eps, flags, label, samples, verbose/.test(e.hint!));
    await assert.rejects(run(root, { notebooks: ['02-imports'], overrides: { eps: '1' } }), /unknown parameter 'eps'/, 'only the selected notebooks count');
    await assert.rejects(run(root, { notebooks: ['99-none'] }), (e: unknown) => e instanceof UserError && /01-basics, 02-imports/.test(e.hint!));
    await assert.rejects(run(root, { overrides: { samples: 'many' } }), /expected a number/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a failing run is stored apart and does not overwrite the last good outputs; results keep the good values', async () => {
  const root = await fixtureRoot();
  try {
    await run(root, { notebooks: ['01-basics'] });
    const good = await readFile(executedPath(root, null, '01-basics'), 'utf8');
    await edit(root, 'notebooks/01-basics.md', "counter.inc();\npublish('counter'", "counter.inc();\nthrow new Error('broken on purpose');\npublish('counter'");
    const bad = await run(root, { notebooks: ['01-basics'] });
    assert.equal(bad.ok, false);
    assert.equal(bad.status['01-basics'], 'failed');
    assert.equal(bad.outcomes[0]!.error!.cellIndex, 3);
    assert.equal(bad.outcomes[0]!.error!.fileLine, 60);
    assert.ok(bad.lines.some((l) => l.includes('FAILED') && l.includes('notebooks/01-basics.md:60 (cell 4, line 2): Error: broken on purpose')), bad.lines.join('\n'));
    assert.ok(bad.lines.some((l) => l.includes('outputs of the last good run') ));
    assert.equal(await readFile(executedPath(root, null, '01-basics'), 'utf8'), good, 'good outputs untouched');
    const failed = JSON.parse(await readFile(executedPath(root, null, '01-basics', true), 'utf8')) as ExecutedNotebook;
    assert.equal(failed.status, 'error');
    assert.equal(bad.results.results.counter, 2, 'results still come from the good run');
    const latest = await loadExecuted(root, null);
    assert.equal(latest[0]!.status, 'error', 'the report sees the failure');

    // Fixing the notebook (back to the good code) is a cache hit and clears the failure.
    await edit(root, 'notebooks/01-basics.md', "throw new Error('broken on purpose');\n", '');
    const fixed = await run(root, { notebooks: ['01-basics'] });
    assert.equal(fixed.status['01-basics'], 'cached');
    assert.ok(!existsSync(executedPath(root, null, '01-basics', true)));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('results file: values, sources and provenance; ipynb export', async () => {
  const root = await fixtureRoot();
  try {
    const r = await run(root);
    const file = JSON.parse(await readFile(resultsPath(root, null), 'utf8'));
    assert.deepEqual(file, r.results);
    assert.equal(file.profile, null);
    assert.deepEqual(file.results, { 'metrics.base': 20, 'metrics.eps': 0.1, flags: [1, 2], counter: 2, 'imports.total': 18, 'imports.dep': 'dep-1' });
    assert.deepEqual(file.sources.counter, { notebook: '01-basics', cellIndex: 3, cellLabel: 'counted' });
    assert.deepEqual(file.provenance.notebooks.map((n: { name: string }) => n.name), ['01-basics', '02-imports']);
    assert.equal(file.provenance.notebooks[0].cacheKey, r.outcomes[0]!.cacheKey);
    assert.equal(file.provenance.environment.node, process.version);

    const nb = toIpynb(r.outcomes[0]!.executed) as any;
    assert.equal(nb.nbformat, 4);
    assert.equal(nb.metadata.language_info.name, 'typescript');
    const code = nb.cells.filter((c: any) => c.cell_type === 'code');
    assert.equal(code.length, 4);
    const outputs = code[2].outputs;
    const mimes = outputs.flatMap((o: any) => Object.keys(o.data ?? {}));
    for (const m of ['text/plain', 'text/markdown', 'text/html', 'image/png', 'application/json', 'image/svg+xml']) assert.ok(mimes.includes(m), m);
    assert.equal(outputs.at(-1).output_type, 'execute_result');
    assert.deepEqual(code[0].outputs.map((o: any) => [o.output_type, o.name]), [['stream', 'stdout'], ['stream', 'stderr']]);
    assert.ok(nb.cells.some((c: any) => c.cell_type === 'markdown' && c.source.join('').includes('```bash')));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('import scan follows relative imports transitively; globs', async () => {
  const doc = await parseNotebook(join(FIX, 'project', 'notebooks', '02-imports.md'), 'notebooks/02-imports.md');
  const sources = await importedSources(join(FIX, 'project'), doc);
  assert.deepEqual(Object.keys(sources.files), ['src/dep.ts', 'src/lib.ts']);
  assert.ok(globToRegExp('data/**/*.bin').test('data/a/b/x.bin'));
  assert.ok(globToRegExp('data/**/*.bin').test('data/x.bin'));
  assert.ok(!globToRegExp('data/*.bin').test('data/a/x.bin'));
});

// ---- Issue 22, item 2: one parsed import list feeds the key ----

test('require() of a literal path is in the key; a computed import or require warns naming the cell until //| depends: declares it', async () => {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-require-'));
  try {
    await mkdir(join(root, 'notebooks'));
    await mkdir(join(root, 'lib'));
    await writeFile(join(root, 'lib', 'm.cjs'), 'module.exports = { v: 1 };\n');
    await writeFile(join(root, 'lib', 'k.cjs'), 'module.exports = { v: 10 };\n');
    await writeFile(join(root, 'notebooks', 'a.md'), "---\ntitle: A\n---\n\n```ts\n// require('../lib/not-this.cjs') in a comment is no import\nconst m = require('../lib/m.cjs');\npublish('v', m.v);\n```\n");
    await writeFile(join(root, 'notebooks', 'b.md'), "---\ntitle: B\n---\n\nProse.\n\n```ts\nconst name = '../lib/k.cjs';\nconst k = require(name);\nconst again = await import(name);\npublish('k', k.v + again.default.v);\n```\n");
    const first = await run(root);
    assert.deepEqual(first.status, { a: 'ran', b: 'ran' });
    assert.deepEqual(Object.keys((first.outcomes[0]!.executed.cacheKeyInputs.imports as { files: object }).files), ['lib/m.cjs'], 'the literal require, not the comment');
    const warnings = first.lines.filter((l) => /computed/.test(l));
    assert.equal(warnings.length, 2, first.lines.join('\n'));
    assert.match(warnings[0]!, /^b: notebooks\/b\.md:9 \(cell 1\): require\(name\) loads a module the cache key cannot see[\s\S]*\/\/\| depends: /);
    assert.match(warnings[1]!, /^b: notebooks\/b\.md:10 \(cell 1\): import\(name\)/);

    // Editing what require() loads re-runs, with the new value.
    await writeFile(join(root, 'lib', 'm.cjs'), 'module.exports = { v: 2 };\n');
    const edited = await run(root);
    assert.equal(edited.status.a, 'ran');
    assert.equal(edited.results.results.v, 2);

    // Declared, the computed one is in the key too: no warning, and an edit re-runs.
    await edit(root, 'notebooks/b.md', '```ts\nconst name', '```ts\n//| depends: ../lib/k.cjs\nconst name');
    const declared = await run(root);
    assert.equal(declared.lines.filter((l) => /computed/.test(l)).length, 0, declared.lines.join('\n'));
    assert.equal((await run(root)).status.b, 'cached');
    await writeFile(join(root, 'lib', 'k.cjs'), 'module.exports = { v: 20 };\n');
    const after = await run(root);
    assert.equal(after.status.b, 'ran');
    assert.equal(after.results.results.k, 40);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
