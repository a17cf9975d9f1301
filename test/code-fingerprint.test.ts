import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { codeFingerprint, codeHash } from '../src/engine/store/code-fingerprint.ts';
import { ArtifactStore } from '../src/engine/store/artifacts.ts';
import { getOrTrainModel, trainedModelKey, trainingCodeHash } from '../src/flagship/ml/persist.ts';
import type { TrainedNetwork } from '../src/flagship/ml/training.ts';

const REPO = join(import.meta.dirname, '..');

/** A copy of the flagship's sources and the native kernels' sources, to edit. */
async function checkoutCopy(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-fingerprint-'));
  await cp(join(REPO, 'src'), join(root, 'src'), { recursive: true });
  await mkdir(join(root, 'native'));
  for (const f of ['src', 'binding.gyp', 'build.mjs']) await cp(join(REPO, 'native', f), join(root, 'native', f), { recursive: true });
  await symlink(join(REPO, 'node_modules'), join(root, 'node_modules'));
  return root;
}

const trainingEntries = (root: string) => ['training.ts', 'distillation.ts'].map((f) => join(root, 'src/flagship/ml', f));

/** A stand-in network: what matters here is whether the store trains or reuses, not the weights. */
async function tinyNetwork(): Promise<TrainedNetwork> {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
  return { model, result: { history: [] } } as unknown as TrainedNetwork;
}

test('a stored model is not reused after an edit to a wasm training kernel or the native C sources; an attack edit keeps it', async () => {
  const root = await checkoutCopy();
  try {
    const store = new ArtifactStore(join(root, 'store'));
    const keyFor = async () => trainedModelKey('baseline', { seed: 1 }, { data: 'x' }, { backend: 'wasm+test', code: await codeHash(trainingEntries(root), { base: root }) });
    let trainings = 0;
    const train = () => { trainings++; return tinyNetwork(); };
    const use = async () => { const n = await getOrTrainModel(store, await keyFor(), train); n.model.dispose(); return n.hit; };

    assert.equal(await use(), false);
    assert.equal(await use(), true, 'same code: the stored model is reused');

    // The kernel files the hand-kept list once missed: reached through the import graph now.
    await appendFile(join(root, 'src/flagship/ml/backends/wasm-training-kernels.ts'), '\n// edited\n');
    assert.equal(await use(), false, 'an edited training kernel retrains');
    await appendFile(join(root, 'src/flagship/ml/backends/wasm-registry.ts'), '\n// edited\n');
    assert.equal(await use(), false, 'an edited kernel registry retrains');
    await appendFile(join(root, 'native/src/kernels.c'), '\n/* edited */\n');
    assert.equal(await use(), false, 'an edited native kernel (named with @fingerprint) retrains');
    await appendFile(join(root, 'src/flagship/ml/attacks/fgsm.ts'), '\n// edited\n');
    assert.equal(await use(), true, 'attack code is not training code');
    assert.equal(trainings, 4);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('the training fingerprint is the import graph: kernels, backends and native sources in, attacks out', async () => {
  const fp = await codeFingerprint(trainingEntries(REPO), { base: REPO });
  const files = Object.keys(fp.files);
  for (const f of ['src/flagship/ml/backends/wasm-training-kernels.ts', 'src/flagship/ml/backends/wasm-registry.ts', 'src/flagship/ml/backends/native-kernels.ts', 'src/flagship/ml/model.ts', 'native/src/kernels.c', 'native/binding.gyp']) {
    assert.ok(files.includes(f), `${f} is in the training fingerprint`);
  }
  // Every native source, present and future: a C file the addon compiles but @fingerprint
  // forgets would let a kernel change reuse models its predecessor trained.
  for (const f of await readdir(join(REPO, 'native', 'src'))) {
    assert.ok(files.includes(`native/src/${f}`), `native/src/${f} is in the training fingerprint (name it with @fingerprint in native-kernels.ts)`);
  }
  assert.ok(!files.some((f) => f.includes('/attacks/')), 'no attack module');
  assert.ok(!Object.values(fp.files).includes('missing'), 'every file resolves');
  assert.ok(fp.packages['@tensorflow/tfjs'], 'npm packages by version');
  assert.equal(await trainingCodeHash(), await codeHash(trainingEntries(REPO), { base: REPO }), 'persist.ts keys models by the same fingerprint');
});

test('a missing import is a value of the key, not an error; creating it changes the key', async () => {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-fingerprint-'));
  try {
    await writeFile(join(root, 'a.ts'), "import { b } from './b.ts';\nexport const a = b + 1;\n");
    const before = await codeFingerprint(['./a.ts'], { base: root });
    assert.equal(before.files['b.ts'], 'missing');
    await writeFile(join(root, 'b.ts'), 'export const b = 1;\n');
    const after = await codeFingerprint(['./a.ts'], { base: root });
    assert.match(after.files['b.ts']!, /^[0-9a-f]{64}$/);
    await writeFile(join(root, 'b.ts'), 'export const b = 1 +;\n');
    const broken = await codeFingerprint(['./a.ts'], { base: root });
    assert.ok(broken.files['<error>'], 'a module that does not parse keys on its entries and the error');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('turning the fast wasm training kernels off is part of the backend identity', async () => {
  const identity = async (env: NodeJS.ProcessEnv) => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
      "const s = await import('./src/flagship/ml/backends/select.ts'); await s.initBackend('wasm'); console.log(s.backendIdentity());"], {
      cwd: REPO, env: { ...process.env, REPROBOOK_BACKEND: '', ...env },
    });
    return stdout.trim();
  };
  const on = await identity({});
  const off = await identity({ REPROBOOK_WASM_FAST_KERNELS: '0' });
  assert.match(on, /^wasm/);
  assert.doesNotMatch(on, /tfjs-training-kernels/);
  assert.equal(off, `${on}+tfjs-training-kernels`);
});
