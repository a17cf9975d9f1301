import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import {
  BACKEND_NAMES, describeBackend, initBackend, parseBackendName, preferenceFromEnv,
} from '../src/flagship/ml/backends/select.ts';
import { formatBackendReport, systemInfo } from '../src/flagship/ml/backends/info.ts';
import { measureInputGradient, measureTraining } from '../src/flagship/bench/training.ts';
import { UserError } from '../src/engine/util/errors.ts';
import { needs } from './helpers/requirements.ts';

// Asked before any test is registered: with REPROBOOK_REQUIRE_ALL=1 a missing one fails the file here.
const openblas = await needs('openblas');
const onednn = await needs('onednn');

const require = createRequire(import.meta.url);
const installed = (pkg: string) => {
  try {
    require.resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
};

test('backend names: valid ones parse, unknown ones are a UserError naming the value and the choices', () => {
  for (const n of [...BACKEND_NAMES, 'auto']) assert.equal(parseBackendName(n), n);
  assert.throws(() => parseBackendName('metal'), (e: unknown) => e instanceof UserError && /metal/.test(e.message) && /webgpu, tensorflow, wasm/.test(e.hint ?? ''));
  assert.equal(preferenceFromEnv({}), 'auto');
  assert.equal(preferenceFromEnv({ REPROBOOK_BACKEND: 'cpu' }), 'cpu');
  assert.throws(() => preferenceFromEnv({ REPROBOOK_BACKEND: 'gpu' }), (e: unknown) => e instanceof UserError && /REPROBOOK_BACKEND/.test(e.message));
});

test('auto picks the first available backend in order and says why each better one was skipped', async () => {
  const report = await initBackend('auto');
  const order = report.attempts.map((a) => a.name);
  assert.deepEqual(order, BACKEND_NAMES.slice(0, order.length), 'tried in the documented order');
  assert.equal(report.attempts.at(-1)!.name, report.chosen);
  assert.ok(report.attempts.at(-1)!.available);
  for (const a of report.attempts.slice(0, -1)) {
    assert.equal(a.available, false);
    assert.ok(a.reason && a.reason.length > 10, `${a.name} has a reason`);
  }
  if (!installed('@tensorflow/tfjs-node') && !installed('@tensorflow/tfjs-node-gpu')) {
    assert.equal(report.chosen, 'wasm', 'without the native packages auto lands on wasm');
    assert.match(report.attempts.find((a) => a.name === 'tensorflow')!.reason!, /@tensorflow\/tfjs-node not installed/);
    assert.equal(report.simd, true);
    assert.equal(report.threads, 1, 'tfjs-backend-wasm runs single-threaded in Node');
  }
  assert.equal(tf.getBackend(), report.tfjsBackend);
  assert.match(formatBackendReport(report), new RegExp(`backend: ${report.chosen}`));
});

test('webgpu: what is missing is named in order: Dawn, a GPU adapter, a hardware one, tfjs\'s backend', async () => {
  const { registerWebGpu } = await import('../src/flagship/ml/backends/webgpu.ts');
  const notFound = () => Promise.reject(Object.assign(new Error('Cannot find package'), { code: 'ERR_MODULE_NOT_FOUND' }));
  const installed = (dawnModule: unknown, backend: () => Promise<unknown> = notFound) => ({ dawn: async () => dawnModule, backend });
  const dawn = (adapter: unknown) => ({ create: () => ({ requestAdapter: async () => adapter }), globals: { GPUBufferUsage: { STORAGE: 128 } } });
  const h200 = { isFallbackAdapter: false, info: { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' } };
  const reasonOf = async (modules: Parameters<typeof registerWebGpu>[0]) => {
    const r = await registerWebGpu(modules);
    return r.ok ? '' : r.reason;
  };
  const hadNavigator = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  try {
    assert.match(await reasonOf({ dawn: notFound, backend: notFound }), /package webgpu \(Dawn for Node\) not installed; where there is a GPU: npm install --no-save webgpu@/);
    assert.match(await reasonOf(installed(dawn(null))), /Dawn found no GPU adapter \(no Vulkan loader libvulkan\.so\.1/);
    const swiftshader = { isFallbackAdapter: false, info: { vendor: 'google', description: 'SwiftShader Device (Subzero)' } };
    assert.match(await reasonOf(installed(dawn(swiftshader))), /only a software adapter \(SwiftShader Device \(Subzero\)\), slower than the wasm backend/);
    assert.match(await reasonOf(installed(dawn(h200))), /package @tensorflow\/tfjs-backend-webgpu \(tfjs's WebGPU backend\) not installed/);
    // tfjs's package registers its backend from navigator.gpu when imported: a stand-in does the same.
    const r = await registerWebGpu(installed(dawn(h200), async () => {
      assert.ok((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu, 'navigator.gpu is set before tfjs\'s backend is imported');
      tf.registerBackend('webgpu', () => new (tf.findBackend('cpu')!.constructor as new () => tf.KernelBackend)());
      return {};
    }));
    assert.deepEqual(r, { ok: true, adapter: { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' } });
    assert.equal((globalThis as { GPUBufferUsage?: unknown }).GPUBufferUsage !== undefined, true, "Dawn's globals, which tfjs's kernels name");
  } finally {
    tf.removeBackend('webgpu');
    delete (globalThis as { GPUBufferUsage?: unknown }).GPUBufferUsage;
    if (hadNavigator) Object.defineProperty(globalThis, 'navigator', hadNavigator);
    else delete (globalThis as { navigator?: unknown }).navigator;
  }
});

test('the subnormal probe: cpu and wasm keep subnormals; a GPU is named in the identity', async () => {
  const { keepsSubnormals, adapterSlug } = await import('../src/flagship/ml/backends/webgpu.ts');
  for (const name of ['cpu', 'wasm'] as const) {
    await initBackend(name);
    assert.equal(keepsSubnormals(), true, name);
  }
  assert.equal(adapterSlug({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' }), 'nvidia-hopper');
  assert.equal(adapterSlug({ vendor: '', architecture: '', description: 'Some GPU (rev 2)' }), 'some-gpu-rev-2');
});

test('initBackend is idempotent and switching back re-activates the backend', async () => {
  const a = await initBackend('wasm');
  const b = await initBackend('wasm');
  assert.equal(a, b, 'same report object');
  await initBackend('cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.equal(describeBackend().backend, 'cpu');
  await initBackend('wasm');
  assert.equal(tf.getBackend(), 'wasm');
  const kernels = a.nativeKernels?.available ? { kernels: a.nativeKernels.id } : {};
  assert.deepEqual(describeBackend(), { backend: 'wasm', tfjsBackend: 'wasm', versions: a.versions, threads: a.threads, simd: a.simd, ...kernels });
});

test('forcing a backend that cannot load is a UserError naming it and the fix', { skip: installed('@tensorflow/tfjs-node') && 'tfjs-node is installed here' }, async () => {
  await assert.rejects(initBackend('tensorflow'), (e: unknown) =>
    e instanceof UserError && /'tensorflow' is not available/.test(e.message) && /tfjs-node/.test(e.hint ?? ''));
  // A failed attempt leaves the previous backend active.
  assert.notEqual(tf.getBackend(), 'tensorflow');
});

test('system info describes the machine', () => {
  const s = systemInfo();
  assert.ok(s.cores >= 1);
  assert.ok(s.memoryGiB > 0);
  assert.equal(s.node, process.versions.node);
});

test('throughput measurement trains and differentiates on wasm without leaking tensors', async () => {
  await initBackend('wasm');
  const before = tf.memory().numTensors;
  const o = { batch: 4, maxSteps: 2, seconds: 60, warmup: 1 };
  const t = await measureTraining(o);
  const g = await measureInputGradient(o);
  assert.equal(tf.memory().numTensors, before);
  for (const r of [t, g]) {
    assert.equal(r.steps, 2);
    assert.ok(r.imagesPerSecond > 0 && Number.isFinite(r.imagesPerSecond));
    assert.ok(r.imagesPerCpuSecond > 0);
  }
});

test('grid throughput: every worker thread measures the same step together, and the figure is their sum', async () => {
  const { measureGrid } = await import('../src/flagship/bench/grid.ts');
  const options = { batch: 4, maxSteps: 2, seconds: 60, warmup: 1 };
  const g = await measureGrid({ target: 'wasm', phase: 'training', options }, 2);
  assert.equal(g.workers, 2);
  assert.equal(g.perWorker.length, 2);
  for (const w of g.perWorker) assert.equal(w.steps, 2);
  assert.equal(g.imagesPerSecond, g.perWorker[0]!.imagesPerSecond + g.perWorker[1]!.imagesPerSecond);
  await assert.rejects(measureGrid({ target: 'no-such-backend', phase: 'input-gradient', options }, 1), /unknown backend 'no-such-backend'/);
});

test('kernel profile: a training step computes filter gradients, an input gradient does not; shares add up', async () => {
  const { profileKernels } = await import('../src/flagship/bench/kernels.ts');
  await initBackend('wasm');
  const before = tf.memory().numTensors;
  const [train, grad] = await profileKernels(4, 1);
  assert.equal(tf.memory().numTensors, before, 'no leaked tensors');
  assert.deepEqual([train!.phase, grad!.phase], ['training', 'input-gradient']);
  const names = (p: typeof train) => new Set(p!.kernels.map((k) => k.kernel));
  assert.ok(names(train).has('Conv2DBackpropFilter') && names(train).has('Conv2DBackpropInput'));
  assert.ok(!names(grad).has('Conv2DBackpropFilter'), 'no weight gradients for an input gradient');
  assert.ok(names(grad).has('Conv2DBackpropInput'));
  for (const p of [train!, grad!]) {
    assert.ok(Math.abs(p.kernels.reduce((s, k) => s + k.share, 0) - 1) < 1e-9);
    assert.ok(p.kernels.every((k, i) => i === 0 || p.kernels[i - 1]!.ms >= k.ms), 'sorted by time');
    const convs = p.kernels.filter((k) => k.kernel.startsWith('Conv2D'));
    assert.equal(convs.find((k) => k.kernel === 'Conv2D')?.calls, 4, 'the four convolutions of the forward pass');
  }
});

test('reprobook doctor --json reports the backend, the machine and the data check', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/engine/cli/main.ts', 'doctor', '--json', '--backend', 'wasm'], {
    cwd: new URL('..', import.meta.url),
    env: { ...process.env, REPROBOOK_BACKEND: '' },
  });
  const report = JSON.parse(stdout) as { backend: { chosen: string }; system: { cores: number }; data: { ok?: boolean; unavailable?: string } };
  assert.equal(report.backend.chosen, 'wasm');
  assert.ok(report.system.cores >= 1);
  assert.ok(report.data.ok === true || typeof report.data.unavailable === 'string');
});

const doctor = (env: NodeJS.ProcessEnv) => promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/engine/cli/main.ts', 'doctor', '--backend', 'wasm'], {
  cwd: new URL('..', import.meta.url), env: { ...process.env, REPROBOOK_BACKEND: '', ...env },
});

test('doctor says which kernels compute the convolutions; switched off, it names XNNPACK and why', async () => {
  const off = await doctor({ REPROBOOK_NATIVE_KERNELS: '0' });
  assert.match(off.stdout, /convolutions and their gradients: XNNPACK \(OpenBLAS kernels unavailable: disabled by REPROBOOK_NATIVE_KERNELS=0\)/);
});

test('doctor names the OpenBLAS kernels when they are built', openblas, async () => {
  const on = await doctor({ REPROBOOK_NATIVE_KERNELS: 'openblas' });
  assert.match(on.stdout, /convolutions and their gradients: OpenBLAS through native\/ \(native\d+\+openblas-[\d.]+-\w+; OpenBLAS /);
  assert.match(on.stdout, /oneDNN not used: disabled by REPROBOOK_NATIVE_KERNELS=openblas\n/);
});

test("doctor names oneDNN's convolutions, version and instruction set, when they are built", onednn, async () => {
  const on = await doctor({});
  assert.match(on.stdout, /convolutions and their gradients: oneDNN through native\/ \(native\d+\+onednn-[\d.]+-\w+\+openblas-[\d.]+-\w+\); dense layers, pooling gradient, sums: OpenBLAS /);
});

test('reprobook doctor exits non-zero when a forced backend is unavailable', { skip: installed('@tensorflow/tfjs-node') && 'tfjs-node is installed here' }, async () => {
  await assert.rejects(
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/engine/cli/main.ts', 'doctor', '--backend', 'tensorflow'], { cwd: new URL('..', import.meta.url) }),
    (e: { code?: number; stderr?: string }) => e.code === 1 && /not available/.test(e.stderr ?? '') && /fix:/.test(e.stderr ?? ''),
  );
});
