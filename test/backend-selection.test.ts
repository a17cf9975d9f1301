import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendIdentity, initBackend } from '../src/flagship/ml/backends/select.ts';
import { gridEnvironment, runExperimentGrid } from '../src/flagship/reproduction/run.ts';
import { planUnits } from '../src/flagship/reproduction/plan.ts';
import { experimentParams } from '../src/flagship/reproduction/params.ts';
import { UserError } from '../src/engine/util/errors.ts';

/**
 * Issue 12, item 10: every way of naming a backend goes through one validation with one
 * message, and the backend that actually computes is the one in the keys.
 */

const REPO = join(import.meta.dirname, '..');
const unknownBackend = (name: string, source: RegExp) => (e: unknown) =>
  e instanceof UserError && e.message.includes(`unknown backend '${name}'`) && source.test(e.message) && /auto, tensorflow-gpu, webgpu, tensorflow, wasm, cpu/.test(e.hint ?? '');

test("--param backend=bogus is the same UserError as any other bad backend name, not 'attempts[name] is not a function'", async () => {
  await assert.rejects(initBackend('bogus'), unknownBackend('bogus', /'backend' parameter/));
  const store = await mkdtemp(join(tmpdir(), 'reprobook-backend-'));
  try {
    await assert.rejects(runExperimentGrid(experimentParams({ backend: 'bogus' }), { storeRoot: store }), unknownBackend('bogus', /'backend' parameter/));
  } finally {
    await rm(store, { recursive: true, force: true });
  }
});

test("$REPROBOOK_BACKEND chooses the backend when the 'backend' parameter is auto, so its results get its own keys", async () => {
  const before = process.env.REPROBOOK_BACKEND;
  process.env.REPROBOOK_BACKEND = 'cpu';
  try {
    const report = await initBackend('auto');
    assert.equal(report.chosen, 'cpu');
    assert.equal(backendIdentity(), 'cpu');
    // What `reprobook experiment` keys every unit (and so every trained network) by: cpu runs never find wasm results.
    const params = experimentParams({ backend: 'auto', temperatures: [1] });
    const env = await gridEnvironment(params);
    assert.equal(env.backend, 'cpu');
    const units = planUnits(params, env, {});
    assert.ok(units.length > 0 && units.every((u) => (u.inputs as { env: { backend: string } }).env.backend === 'cpu'));
    process.env.REPROBOOK_BACKEND = 'bogus';
    await assert.rejects(initBackend('cpu'), unknownBackend('bogus', /\$REPROBOOK_BACKEND/), 'a bad variable is an error even when a parameter names a backend');
  } finally {
    if (before === undefined) delete process.env.REPROBOOK_BACKEND;
    else process.env.REPROBOOK_BACKEND = before;
  }
});

test('REPROBOOK_BACKEND=bogus stops every command with a non-zero exit, even when nothing would load a backend', async () => {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-backend-'));
  try {
    await mkdir(join(root, 'notebooks'));
    await writeFile(join(root, 'notebooks', 'a.md'), '---\ntitle: A\n---\n\n```ts\n1 + 1\n```\n');
    // The check is the flagship's (its plugin's hook): a project built on it gets it too.
    await writeFile(join(root, 'reprobook.config.yaml'), `plugin: ${join(REPO, 'src/flagship/plugin.ts')}\n`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/engine/cli/main.ts'), 'run', '--root', root], {
      cwd: REPO, encoding: 'utf8', env: { ...process.env, REPROBOOK_BACKEND: 'bogus' },
    });
    assert.notEqual(r.status, 0, r.stderr);
    assert.match(r.stderr, /unknown backend 'bogus' \(from \$REPROBOOK_BACKEND\)/);
    assert.match(r.stderr, /fix: use one of: auto, /);
    assert.doesNotMatch(r.stderr, /a: running/, 'rejected before any notebook runs');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
