import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { parseNotebook, parseNotebookSource } from '../src/engine/notebook/markdown-format.ts';
import { executeCells } from '../src/engine/notebook/runner.ts';
import type { CellOutput, CellResult, DisplayItem } from '../src/engine/core/records.ts';

const FIX = join(import.meta.dirname, 'fixtures', 'notebooks');

async function fixtureRoot(name: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-runner-'));
  await cp(join(FIX, name), root, { recursive: true });
  return root;
}

function items(cell: CellResult, type: CellOutput['type']): DisplayItem[] {
  return cell.outputs.flatMap((o) => (o.type === type && o.type !== 'stream' ? [o.item] : []));
}

function run(source: string, params = {}, root = tmpdir()) {
  return executeCells(parseNotebookSource(source, 'notebooks/t.md'), { root, profile: null, params, quietArtifacts: true });
}

test('basics fixture: shared scope, top-level await, every output kind, publish', async () => {
  const root = await fixtureRoot('project');
  try {
    const doc = await parseNotebook(join(root, 'notebooks', '01-basics.md'), 'notebooks/01-basics.md');
    const params = { ...doc.frontMatter.parameters };
    const r = await executeCells(doc, { root, profile: null, params, quietArtifacts: true });
    assert.equal(r.status, 'ok', JSON.stringify(r.error));
    const [setup, tla, outputs, counted] = r.cells;

    // stdout and stderr captured per cell, in order.
    assert.deepEqual(setup!.outputs, [
      { type: 'stream', name: 'stdout', text: 'setup 20 0.1\n' },
      { type: 'stream', name: 'stderr', text: 'warn\n' },
    ]);
    // Names from cell 1 (const, destructured let, array rest, function, class) visible in cell 2; await at top level.
    assert.deepEqual(items(tla!, 'result'), [{ kind: 'json', value: 2 * 21 + 1 + 1 }]);

    const shown = items(outputs!, 'display');
    assert.deepEqual(shown.map((i) => i.kind), ['text', 'markdown', 'table', 'image', 'image', 'json', 'svg']);
    assert.deepEqual(shown[0], { kind: 'text', text: 'plain text' });
    assert.deepEqual(shown[1], { kind: 'markdown', markdown: '**bold** 0.1' });
    assert.deepEqual(shown[2], { kind: 'table', columns: ['name', 'value', 'extra'], rows: [{ name: 'a', value: 1 }, { name: 'b', value: 2, extra: true }] });
    const img = shown[3]!;
    assert.ok(img.kind === 'image' && img.width === 2 && img.height === 2);
    const png = PNG.sync.read(Buffer.from(img.base64, 'base64'));
    assert.deepEqual([png.data[0], png.data[4], png.data[8], png.data[12]], [0, 128, 255, 64], 'grey values scaled from [0, 1]');
    const tensorImg = shown[4]!;
    assert.ok(tensorImg.kind === 'image' && tensorImg.width === 3 && tensorImg.height === 2, 'a [h, w] tensor becomes a PNG');
    assert.deepEqual(shown[5], { kind: 'json', value: { nested: { ok: true }, nan: 'NaN' } });
    const svg = shown[6]!;
    assert.ok(svg.kind === 'svg' && svg.svg.startsWith('<svg') && svg.svg.includes('viewBox'));
    assert.equal(svg.label, 'outputs', 'figures take the cell label');
    assert.equal(svg.caption, 'A tiny figure', 'figures take the cell caption');
    assert.deepEqual(items(outputs!, 'result'), [{ kind: 'json', value: { base: 20, eps: 0.1, label: 'run' } }]);

    assert.equal(counted!.outputs.length, 0);
    assert.deepEqual(r.results.map((x) => [x.name, x.value, x.cellIndex, x.cellLabel]), [
      ['metrics.base', 20, 2, 'outputs'], ['metrics.eps', 0.1, 2, 'outputs'], ['flags', [1, 2], 2, 'outputs'], ['counter', 2, 3, 'counted'],
    ]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('imports: a project module with its own relative import, node builtins, npm packages, import.meta.url', async () => {
  const root = await fixtureRoot('project');
  try {
    const doc = await parseNotebook(join(root, 'notebooks', '02-imports.md'), 'notebooks/02-imports.md');
    const r = await executeCells(doc, { root, profile: null, params: { samples: 3 }, quietArtifacts: true });
    assert.equal(r.status, 'ok', JSON.stringify(r.error));
    assert.deepEqual(r.results.map((x) => [x.name, x.value]), [['imports.total', 18], ['imports.dep', 'dep-1']]);
    assert.deepEqual(items(r.cells[1]!, 'result'), [{ kind: 'text', text: 'total: 18' }]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('Plot.plot with the runtime document and display(element) gives an svg item', async () => {
  const r = await run("import * as Plot from '@observablehq/plot';\n```\n\n```ts\nconst fig = Plot.plot({ document, marks: [Plot.dot([{ x: 1, y: 2 }], { x: 'x', y: 'y' })] });\ndisplay(fig);\n".replace(/^/, '```ts\n') + '```\n');
  assert.equal(r.status, 'ok', JSON.stringify(r.error));
  const [svg] = items(r.cells[1]!, 'display');
  assert.ok(svg!.kind === 'svg' && svg.svg.includes('<circle'), 'the dot is rendered');
  const global = await run('```ts\nplot({ marks: [Plot.ruleY([0])] })\n```\n');
  const [fig] = items(global.cells[0]!, 'result');
  assert.ok(fig!.kind === 'svg' && fig.svg.includes('<line'), 'the Plot global and plot() work without an import');
});

test('a failing cell stops the notebook and reports cell and notebook line', async () => {
  const src = [
    '---', 'title: t', '---', '', '```ts', 'const a = 1;', 'function boom(x: number): never {', '  throw new RangeError(`bad ${x}`);', '}', '```', '',
    'Prose.', '', '```ts', '//| label: second', 'const b: number = a + 1;', '', 'boom(b);', '```', '', '```ts', 'console.log("never runs");', '```', '',
  ].join('\n');
  const r = await run(src);
  assert.equal(r.status, 'error');
  assert.equal(r.cells.length, 2, 'the third cell never ran');
  const e = r.error!;
  assert.equal(e.name, 'RangeError');
  assert.equal(e.message, 'bad 2');
  assert.equal(e.cellIndex, 1);
  assert.equal(e.cellLine, 3, 'the call in cell 2');
  assert.equal(e.fileLine, 18);
  assert.match(e.stack!, /at (Object\.)?boom \(notebooks\/t\.md:8 \(cell 1, line 3\)\)/, 'frames in earlier cells are mapped too');
  assert.deepEqual(r.cells[1]!.error, e);
});

test('syntax errors and type-stripped code report the notebook line', async () => {
  const r = await run('```ts\nconst ok = 1;\n```\n\n```ts\ninterface P { x: number }\nconst p: P = { x: 1 };\nconst q = (p.x;\n```\n');
  assert.equal(r.status, 'error');
  assert.equal(r.error!.name, 'SyntaxError');
  assert.equal(r.error!.cellIndex, 1);
  assert.equal(r.error!.cellLine, 3);
  assert.equal(r.error!.fileLine, 8);
});

// (An unhandled rejection inside a cell also fails the cell, but node:test would count it
// against the test itself, so it is not exercised here.)
test('a thrown non-Error and a failed import are cell errors', async () => {
  const thrown = await run('```ts\nthrow "plain";\n```\n');
  assert.equal(thrown.error!.message, 'plain');
  // Issue 12, item 12: a thrown string names its line too (here line 3 of cell 2, file line 10).
  const deep = await run('```ts\nconst ok = 1;\n```\n\n```ts\nfunction f() {\n  if (ok) {\n    throw `plain ${ok}`;\n  }\n}\nf();\n```\n');
  assert.equal(deep.error!.message, 'plain 1');
  assert.deepEqual([deep.error!.cellIndex, deep.error!.cellLine, deep.error!.fileLine], [1, 3, 8]);
  const caught = await run('```ts\nlet got: unknown;\ntry { throw { code: 7 }; } catch (e) { got = e; }\ngot\n```\n');
  assert.equal(caught.status, 'ok', 'a caught throw still gets the very value thrown');
  assert.deepEqual(caught.cells[0]!.outputs.map((o) => o.type === 'result' && o.item.kind === 'json' ? o.item.value : null), [{ code: 7 }]);
  const missing = await run('```ts\n\nimport { x } from "./does-not-exist.ts";\n```\n');
  assert.equal(missing.status, 'error');
  assert.match(missing.error!.message, /cannot import '\.\/does-not-exist\.ts' from/);
  assert.equal(missing.error!.cellLine, 2);
});

test('redeclaration across cells, params are read-only, exports are tolerated, trailing expressions', async () => {
  const r = await run([
    '```ts', 'let n = 1;', 'export const shared = 5;', '```',
    '```ts', 'const n2 = n + shared;', 'let n = 10;', '[n, n2]', '```',
    '```ts', '//| label: ro', '"use nothing"; (() => { try { (params as any).x = 1; return "mutable"; } catch { return "frozen"; } })()', '```',
    '```ts', 'const s = Object.keys(params).length', '```',
  ].join('\n'), { k: 1 });
  assert.equal(r.status, 'ok', JSON.stringify(r.error));
  assert.deepEqual(items(r.cells[1]!, 'result'), [{ kind: 'json', value: [10, 6] }]);
  assert.equal(items(r.cells[3]!, 'result').length, 0, 'a declaration is not a value');
});

test('progress from a cell goes to the terminal, not into the outputs', async () => {
  const lines: string[] = [];
  const { createProgress } = await import('../src/engine/util/terminal-progress.ts');
  const stream = { write: (s: string) => { lines.push(s); return true; } } as unknown as NodeJS.WritableStream;
  const doc = parseNotebookSource('```ts\nconst task = progress.start("steps", 3, "step");\nfor (let i = 1; i <= 3; i++) task.update(i);\ntask.done("all good");\n```\n', 'notebooks/p.md');
  const r = await executeCells(doc, { root: tmpdir(), profile: null, params: {}, progress: createProgress({ stream, live: false, intervalMs: 0 }) });
  assert.equal(r.status, 'ok', JSON.stringify(r.error));
  assert.deepEqual(r.cells[0]!.outputs, []);
  assert.ok(lines.some((l) => l.startsWith('steps: 3/3 step (100.0%)')), lines.join(''));
  assert.ok(lines.some((l) => /^steps: done in [\d.]+s — all good/.test(l)));
});

test('sources() digests a project module and its imports for artifact keys', async () => {
  const root = await fixtureRoot('project');
  try {
    const doc = parseNotebookSource('```ts\nawait sources("../src/lib.ts")\n```\n', 'notebooks/s.md');
    const digest = async () => {
      const r = await executeCells(doc, { root, profile: null, params: {} });
      assert.equal(r.status, 'ok', JSON.stringify(r.error));
      const [item] = items(r.cells[0]!, 'result');
      assert.ok(item!.kind === 'text' && /^[0-9a-f]{64}$/.test(item.text), JSON.stringify(item));
      return item.text;
    };
    const { writeFile } = await import('node:fs/promises');
    const first = await digest();
    // A file outside lib.ts's import graph does not change its digest; an import of it does.
    await writeFile(join(root, 'src', 'unrelated.ts'), 'export const X = 1;\n');
    assert.equal(await digest(), first);
    await writeFile(join(root, 'src', 'dep.ts'), "export const DEP_VERSION: string = 'dep-2';\n");
    assert.notEqual(await digest(), first);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('packages resolve from the project root with ESM conditions', async () => {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-pkg-'));
  try {
    const { mkdir, writeFile } = await import('node:fs/promises');
    const pkg = join(root, 'node_modules', 'dualpkg');
    await mkdir(pkg, { recursive: true });
    await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'dualpkg', version: '1.0.0', exports: { import: './esm.mjs', require: './cjs.cjs' } }));
    await writeFile(join(pkg, 'esm.mjs'), "export const kind = 'esm';\nexport default 'default-esm';\n");
    await writeFile(join(pkg, 'cjs.cjs'), "exports.kind = 'cjs';\n");
    const r = await run("```ts\nimport dflt, { kind } from 'dualpkg';\n[dflt, kind]\n```\n", {}, root);
    assert.equal(r.status, 'ok', JSON.stringify(r.error));
    assert.deepEqual(items(r.cells[0]!, 'result'), [{ kind: 'json', value: ['default-esm', 'esm'] }]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('publish records a rate\'s count (k of n) for its interval, and refuses one that is not a count', async () => {
  const ok = await run('```ts\npublish("r", 0.25, { count: { k: 1, n: 4 } });\npublish("plain", 3);\n```\n');
  assert.equal(ok.status, 'ok', JSON.stringify(ok.error));
  assert.deepEqual(ok.results.map((r) => [r.name, r.count]), [['r', { k: 1, n: 4 }], ['plain', undefined]]);
  for (const bad of ['{ k: 5, n: 4 }', '{ k: 1.5, n: 4 }', '{ k: 1, n: 0 }']) {
    const r = await run(`\`\`\`ts\npublish("r", 0.25, { count: ${bad} });\n\`\`\`\n`);
    assert.equal(r.status, 'error');
    assert.match(r.error?.message ?? '', /count must be \{ k, n \}/);
  }
});

test('a computed import(name) of a .ts module loads as a static import does, from the installed launcher, in a project without package.json (issue 22, item 2)', async () => {
  const { mkdir, writeFile, readFile } = await import('node:fs/promises');
  const { spawnSync } = await import('node:child_process');
  const root = await mkdtemp(join(tmpdir(), 'reprobook-ts-import-'));
  try {
    await mkdir(join(root, 'notebooks'));
    await mkdir(join(root, 'lib'));
    await writeFile(join(root, 'lib', 'm.ts'), 'export const v: number = 41 + 1;\n');
    await writeFile(join(root, 'lib', 'n.ts'), "import { v } from './m.ts';\nexport const w = v * 2;\n");
    await writeFile(join(root, 'notebooks', 'a.md'), "---\ntitle: A\n---\n\n```ts\nimport { v } from '../lib/m.ts';\nconst name = '../lib/n.ts';\nconst n = await import(name);\npublish('sum', v + n.w);\n```\n");
    const bin = join(import.meta.dirname, '..', 'bin', 'reprobook.js');
    const r = spawnSync(process.execPath, [bin, 'run', '--root', root], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(await readFile(join(root, '.reprobook', 'results', 'default.json'), 'utf8')).results.sum, 42 + 84);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
