import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { backendIdentity, initBackend } from '../src/flagship/ml/backends/select.ts';
import { createRequire } from 'node:module';
import { ADDON_PATH, NATIVE_KERNEL_SET, setNativeKernelsEnabled, setOneDnnEnabled } from '../src/flagship/ml/backends/native-kernels.ts';
import { needs } from './helpers/requirements.ts';

/**
 * The wasm convolution kernels against the reference implementation of the cpu backend:
 * convolutions and the gradients of a conv2d loss with respect to the input and the filter,
 * on shapes that exercise every padding/stride path, for both kernel sets the wasm backend
 * can run: XNNPACK (src/flagship/ml/backends/wasm-kernels.ts), OpenBLAS and oneDNN (native/,
 * through src/flagship/ml/backends/native-kernels.ts).
 */

/** The kernel sets, switched in one process; native ones are skipped where not built (./helpers/requirements.ts). */
const openblas = await needs('openblas');
const onednn = await needs('onednn');
const KERNEL_SETS = [
  { name: 'xnnpack', native: false, oneDnn: false, options: {} },
  { name: 'openblas', native: true, oneDnn: false, options: openblas },
  { name: 'onednn', native: true, oneDnn: true, options: onednn },
];

/** Each test leaves the default set (native, oneDNN where built) behind it. */
async function useKernels(set: { native: boolean; oneDnn: boolean }): Promise<void> {
  await initBackend('wasm');
  setNativeKernelsEnabled(set.native);
  setOneDnnEnabled(set.oneDnn);
}

function defaultKernels(): void {
  setNativeKernelsEnabled(true);
  setOneDnnEnabled(true);
}


type Pad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  name: string;
  x: [number, number, number, number];
  f: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
}

const cases: Case[] = [
  { name: 'paper conv2 (stride 1, valid)', x: [3, 12, 12, 8], f: [3, 3, 8, 16], strides: 1, pad: 'valid' },
  { name: 'single input channel', x: [2, 9, 9, 1], f: [3, 3, 1, 4], strides: 1, pad: 'valid' },
  { name: 'stride 1 same, odd size', x: [2, 7, 7, 3], f: [3, 3, 3, 5], strides: 1, pad: 'same' },
  { name: 'stride 2 valid, odd size', x: [2, 7, 7, 3], f: [3, 3, 3, 4], strides: 2, pad: 'valid' },
  { name: 'stride 2 same, odd size', x: [2, 9, 9, 2], f: [3, 3, 2, 3], strides: 2, pad: 'same' },
  { name: 'stride 2 same, even size', x: [1, 8, 8, 2], f: [3, 3, 2, 3], strides: 2, pad: 'same' },
  { name: 'unequal strides, rectangular', x: [2, 9, 11, 2], f: [2, 4, 2, 3], strides: [2, 3], pad: 'same' },
  { name: 'stride 3 valid, leftover rows', x: [1, 10, 10, 2], f: [3, 3, 2, 2], strides: 3, pad: 'valid' },
  { name: 'even filter same', x: [2, 6, 6, 2], f: [2, 2, 2, 3], strides: 1, pad: 'same' },
  { name: '5x5 filter, numeric pad 2', x: [2, 8, 8, 3], f: [5, 5, 3, 4], strides: 1, pad: 2 },
  { name: 'explicit asymmetric pad', x: [2, 7, 6, 2], f: [3, 3, 2, 3], strides: 1, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { name: 'explicit pad larger than filter', x: [1, 5, 5, 2], f: [3, 3, 2, 2], strides: 2, pad: [[0, 0], [4, 3], [3, 4], [0, 0]] },
  { name: '1x1 filter stride 2', x: [2, 5, 5, 4], f: [1, 1, 4, 3], strides: 2, pad: 'valid' },
];

/** A seeded stream of integers in [lo, hi]: random shapes that are the same on every run. */
function integers(seed: number): (lo: number, hi: number) => number {
  let s = seed >>> 0;
  return (lo, hi) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((s >>> 8) % (hi - lo + 1));
  };
}

/**
 * Random geometries besides the chosen ones above: sizes, channel counts (1 to 40 outputs,
 * oneDNN's blocked layouts pad to 16), filters, strides and paddings nobody thought of.
 */
function randomCases(count: number, seed: number): Case[] {
  const int = integers(seed);
  return Array.from({ length: count }, (_, i) => {
    const fH = int(1, 5), fW = int(1, 5), strides = int(1, 3);
    const pad = (['valid', 'same', int(0, 2)] as const)[int(0, 2)]!;
    const x: Case['x'] = [int(1, 4), int(fH, 14), int(fW, 14), int(1, 12)];
    const f: Case['f'] = [fH, fW, x[3], int(1, 40)];
    return { name: `random #${i}: x ${x.join('x')}, filter ${f.join('x')}, stride ${strides}, pad ${pad}`, x, f, strides, pad };
  });
}

/**
 * On the native kernel sets only: tfjs-backend-wasm's own forward Conv2D (XNNPACK), which the
 * xnnpack set runs, computes wrong values for some numeric paddings with leftover rows (random
 * #4 below) and then corrupts its heap. The native kernels replace it for every NHWC float32
 * convolution.
 */
const nativeCases = randomCases(16, 2025);

/** Deterministic values in [-1, 1) from a small LCG, identical on every backend. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Gradients of sum(conv(x, f) * weights) w.r.t. x and f: a loss whose dy is not constant. */
function gradients(c: Case): { dx: Float32Array; df: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(values(size(c.x), 1), c.x);
    const f = tf.tensor4d(values(size(c.f), 2), c.f);
    const loss = (a: tf.Tensor, b: tf.Tensor) => {
      // tf.conv2d's typings only admit 'valid' | 'same' | number, but the op accepts explicit pads.
      const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad as 'valid', c.dataFormat ?? 'NHWC');
      const w = tf.tensor(values(y.size, 3), y.shape);
      return tf.sum(tf.mul(y, w));
    };
    const [dx, df] = tf.grads(loss)([x, f]);
    return { dx: dx!.dataSync() as Float32Array, df: df!.dataSync() as Float32Array };
  });
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!);
    // 1e-4 relative to the element, with a floor relative to the tensor's scale for
    // elements that are sums cancelling to ~0.
    assert.ok(err <= 1e-4 * Math.max(Math.abs(expected[i]!), 1e-2 * scale), `${what}[${i}]: wasm ${actual[i]} vs cpu ${expected[i]}`);
  }
}

/**
 * The gradient kernels called directly: the wasm forward Conv2D rejects NCHW, so NCHW
 * gradients never arise from tf.grads there, but the kernels still accept the attribute.
 */
function kernelGradients(c: Case): { dx: Float32Array; df: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(values(size(c.x), 1), c.x);
    const f = tf.tensor4d(values(size(c.f), 2), c.f);
    const nhwc = c.dataFormat === 'NCHW' ? [c.x[0], c.x[2], c.x[3], c.x[1]] : c.x;
    const info = tf.backend_util.computeConv2DInfo(nhwc as [number, number, number, number], c.f, c.strides, 1, c.pad as 'valid');
    const dyShape = c.dataFormat === 'NCHW' ? [c.x[0], c.f[3], info.outHeight, info.outWidth] : [c.x[0], info.outHeight, info.outWidth, c.f[3]];
    const dy = tf.tensor4d(values(size(dyShape), 3), dyShape as [number, number, number, number]);
    const common = { strides: c.strides, pad: c.pad, dataFormat: c.dataFormat ?? 'NHWC', dimRoundingMode: undefined };
    const dx = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: f }, { ...common, inputShape: c.x } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const df = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...common, filterShape: c.f } as unknown as tf.NamedAttrMap) as tf.Tensor;
    return { dx: dx.dataSync() as Float32Array, df: df.dataSync() as Float32Array };
  });
}

const nchwCases: Case[] = [
  { name: 'NCHW stride 2 same', x: [2, 3, 7, 7], f: [3, 3, 3, 4], strides: 2, pad: 'same', dataFormat: 'NCHW' },
  { name: 'NCHW stride 1 valid', x: [2, 2, 6, 5], f: [3, 2, 2, 3], strides: 1, pad: 'valid', dataFormat: 'NCHW' },
];

/** The forward convolution (what the native Conv2D replaces) with a dilation where allowed. */
function forward(c: Case, dilation: number): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(values(size(c.x), 1), c.x);
    const f = tf.tensor4d(values(size(c.f), 2), c.f);
    return tf.conv2d(x, f, dilation > 1 ? 1 : c.strides, c.pad as 'valid', 'NHWC', dilation).dataSync() as Float32Array;
  });
}

const expected = new Map<string, { dx: Float32Array; df: Float32Array }>();
const expectedForward = new Map<string, Float32Array[]>();
/** Dilation 2 needs stride 1 and an input large enough for the dilated filter. */
const dilatable = (c: Case) => typeof c.pad === 'string' && c.x[1] >= 2 * c.f[0] && c.x[2] >= 2 * c.f[1];

test('cpu reference gradients', async () => {
  await initBackend('cpu');
  for (const c of [...cases, ...nativeCases]) {
    expected.set(c.name, gradients(c));
    expectedForward.set(c.name, [forward(c, 1), ...(dilatable(c) ? [forward(c, 2)] : [])]);
  }
  for (const c of nchwCases) expected.set(c.name, kernelGradients(c));
});

test('wasm backend is initialised with the replacement kernels', async () => {
  const report = await initBackend('wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.equal(report.chosen, 'wasm');
  assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm'), 'Conv2DBackpropFilter registered for wasm');
});

test('the native kernels are built, registered and part of the backend identity, with their version', openblas, async () => {
  const report = await initBackend('wasm');
  assert.ok(report.nativeKernels?.available, `native kernels unavailable: ${report.nativeKernels?.reason} (CI installs libopenblas-dev; see native/build.mjs)`);
  const { openblas: blas, oneDnn, id } = report.nativeKernels!;
  assert.match(blas!, /^openblas-\d+\.\d+\.\d+-[a-z0-9]+$/);
  defaultKernels();
  const all = `wasm+native${NATIVE_KERNEL_SET}${oneDnn?.available ? `+${oneDnn.id}` : ''}+${blas}`;
  assert.equal(backendIdentity(), all);
  assert.equal(`wasm+${id}`, all, 'doctor names the set that computes by default');
  // Kernel set 1 (OpenBLAS convolutions only) keyed its results "wasm+openblas-...": a model
  // it trained must not be found under the identity of the kernels that compute now.
  assert.notEqual(backendIdentity(), `wasm+${blas}`);
  assert.ok(NATIVE_KERNEL_SET >= 2);
  setOneDnnEnabled(false);
  assert.equal(backendIdentity(), `wasm+native${NATIVE_KERNEL_SET}+${blas}`, 'OpenBLAS alone is a kernel set of its own');
  setNativeKernelsEnabled(false);
  assert.equal(backendIdentity(), 'wasm', 'with the native kernels switched off, results come from XNNPACK');
  defaultKernels();
});

test("oneDNN's convolutions, where built, are named in the identity with version and instruction set", onednn, async () => {
  const report = await initBackend('wasm');
  const oneDnn = report.nativeKernels?.oneDnn;
  assert.ok(oneDnn?.available, `oneDNN unavailable: ${oneDnn && !oneDnn.available ? oneDnn.reason : 'not reported'}`);
  assert.match(oneDnn.id, /^onednn-\d+\.\d+\.\d+-[a-z0-9_]+$/);
  defaultKernels();
  const withOneDnn = backendIdentity();
  setOneDnnEnabled(false);
  assert.notEqual(backendIdentity(), withOneDnn);
  defaultKernels();
  assert.ok(backendIdentity().includes(`+${oneDnn.id}+`));
});

for (const set of KERNEL_SETS) {
  for (const c of set.native ? [...cases, ...nativeCases] : cases) {
    test(`${set.name}: conv2d and its gradients match cpu: ${c.name}`, set.options, async () => {
      await useKernels(set);
      const ref = expected.get(c.name)!;
      const before = tf.memory().numTensors;
      const got = gradients(c);
      assert.equal(tf.memory().numTensors, before, 'no leaked tensors');
      assertClose(got.dx, ref.dx, 'dx');
      assertClose(got.df, ref.df, 'dfilter');
      const fwd = expectedForward.get(c.name)!;
      assertClose(forward(c, 1), fwd[0]!, 'forward');
      if (fwd[1]) assertClose(forward(c, 2), fwd[1], 'forward, dilation 2');
    });
  }

  for (const c of nchwCases) {
    test(`${set.name}: gradient kernels match cpu when called directly: ${c.name}`, set.options, async () => {
      await useKernels(set);
      const ref = expected.get(c.name)!;
      const got = kernelGradients(c);
      assertClose(got.dx, ref.dx, 'dx');
      assertClose(got.df, ref.df, 'dfilter');
    });
  }

  test(`${set.name}: gradients leak no backend memory`, set.options, async () => {
    await useKernels(set);
    const c = cases[4]!;
    gradients(c);
    const before = tf.engine().backend.numDataIds();
    for (let i = 0; i < 3; i++) gradients(c);
    assert.equal(tf.engine().backend.numDataIds(), before);
  });
}

test('the addon checks what it is given: sizes against the geometry, types, argument counts', openblas, () => {
  const addon = createRequire(import.meta.url)(ADDON_PATH) as Record<string, (...a: unknown[]) => void>;
  // n=1, 4x4x1 in, 2x2x1 out, 3x3 filter, stride 1, no padding, dilation 1.
  const geo = new Int32Array([1, 4, 4, 1, 2, 2, 1, 3, 3, 1, 1, 0, 0, 1, 1]);
  const x = new Float32Array(16).fill(1), w = new Float32Array(9).fill(1), y = new Float32Array(4);
  addon.conv2d!(geo, x, w, y);
  assert.deepEqual(Array.from(y), [9, 9, 9, 9]);
  addon.conv2d!(geo, x, w, y, new Float32Array([-10]), true);
  assert.deepEqual(Array.from(y), [0, 0, 0, 0], 'bias then ReLU');
  assert.throws(() => addon.conv2d!(geo, x, w, new Float32Array(5)), /tensor sizes do not match the geometry/);
  assert.throws(() => addon.conv2d!(geo, x, new Float64Array(9), y), /expected a Float32Array/);
  assert.throws(() => addon.conv2d!(geo.subarray(1), x, w, y), /15 geometry values/);
  assert.throws(() => addon.conv2dBackpropFilter!(geo, x, y), /expected \(geometry, a, b, out\)/);
  assert.throws(() => addon.conv2d!(geo, x, w, y, new Float32Array(2), false), /bias length/);
  assert.throws(() => addon.sumRows!(x, new Float32Array(3), 4, 4), /rows x cols/);
  // [2x3] . [3x2], then with b transposed.
  const a = Float32Array.from([1, 2, 3, 4, 5, 6]), b = Float32Array.from([1, 0, 0, 1, 1, 1]), ab = new Float32Array(4);
  addon.matMul!(a, b, ab, 1, 2, 3, 2, false, false);
  assert.deepEqual(Array.from(ab), [4, 5, 10, 11]);
  addon.matMul!(a, Float32Array.from([1, 0, 1, 0, 1, 1]), ab, 1, 2, 3, 2, false, true);
  assert.deepEqual(Array.from(ab), [4, 5, 10, 11]);
  assert.throws(() => addon.matMul!(a, b, new Float32Array(5), 1, 2, 3, 2, false, false), /matrix product/);
  assert.throws(() => addon.matMul!(a, b, ab, 1, 2, 3, 2, 0, false), /booleans/);
});

test("the addon's oneDNN convolutions check what they are given as OpenBLAS's do", onednn, () => {
  const addon = createRequire(import.meta.url)(ADDON_PATH) as Record<string, (...a: unknown[]) => unknown>;
  const geo = new Int32Array([1, 4, 4, 1, 2, 2, 1, 3, 3, 1, 1, 0, 0, 1, 1]);
  const x = new Float32Array(16).fill(1), w = new Float32Array(9).fill(1), y = new Float32Array(4);
  addon.conv2dOneDnn!(geo, x, w, y, new Float32Array([-10]), true);
  assert.deepEqual(Array.from(y), [0, 0, 0, 0], 'bias then ReLU');
  addon.conv2dOneDnn!(geo, x, w, y);
  assert.deepEqual(Array.from(y), [9, 9, 9, 9]);
  assert.throws(() => addon.conv2dBackpropInputOneDnn!(geo, y, w, new Float32Array(15)), /tensor sizes do not match the geometry/);
  assert.match((addon.oneDnnInfo!() as { isa: string }).isa, /^[a-z0-9_]+$/);
});

for (const set of KERNEL_SETS) test(`${set.name}: an empty batch gives empty gradients without error`, set.options, async () => {
  await useKernels(set);
  const [df, dx] = tf.tidy(() => {
    const x = tf.zeros([0, 6, 6, 2]) as tf.Tensor4D;
    const dy = tf.zeros([0, 4, 4, 3]) as tf.Tensor4D;
    const f = tf.ones([3, 3, 2, 3]) as tf.Tensor4D;
    const attrs = { strides: 1, pad: 'valid', dataFormat: 'NHWC' };
    return [
      (tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...attrs, filterShape: [3, 3, 2, 3] } as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync(),
      tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: f }, { ...attrs, inputShape: [0, 6, 6, 2] } as unknown as tf.NamedAttrMap) as tf.Tensor,
    ] as const;
  });
  assert.deepEqual(Array.from(df), new Array(3 * 3 * 2 * 3).fill(0), 'the filter gradient of no images is 0');
  assert.deepEqual(dx.shape, [0, 6, 6, 2]);
  dx.dispose();
  defaultKernels();
});

/**
 * FGSM on a distilled network differentiates through gradients of 1e-40 to 1e-20 (issue 11):
 * a kernel that flushed subnormals to zero (as some SIMD libraries do for speed) would turn
 * them into exact zeros. Inputs and output gradients of ~1e-39 make every product and most sums subnormal.
 */
function subnormalConv(): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.mul(tf.tensor4d(values(2 * 9 * 9 * 8, 40), [2, 9, 9, 8]), 1e-39) as tf.Tensor4D;
    const f = tf.tensor4d(values(3 * 3 * 8 * 16, 41), [3, 3, 8, 16]);
    const dy = tf.mul(tf.tensor4d(values(2 * 7 * 7 * 16, 42), [2, 7, 7, 16]), 1e-39);
    const attrs = { strides: 1, pad: 'valid', dataFormat: 'NHWC', dimRoundingMode: undefined };
    const dx = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: f }, { ...attrs, inputShape: [2, 9, 9, 8] } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const dyNormal = tf.tensor4d(values(2 * 7 * 7 * 16, 42), [2, 7, 7, 16]);
    const df = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy: dyNormal }, { ...attrs, filterShape: [3, 3, 8, 16] } as unknown as tf.NamedAttrMap) as tf.Tensor;
    return [tf.conv2d(x, f, 1, 'valid'), dx, df].map((t) => t.dataSync() as Float32Array);
  });
}

for (const set of KERNEL_SETS) test(`${set.name}: subnormal activations and gradients are kept, as on cpu`, set.options, async () => {
  await initBackend('cpu');
  const ref = subnormalConv();
  await useKernels(set);
  const got = subnormalConv();
  defaultKernels();
  ['forward', 'dx', 'dfilter'].forEach((what, i) => {
    const tiny = ref[i]!.filter((v) => v !== 0 && Math.abs(v) < 2 ** -126).length;
    assert.ok(tiny > ref[i]!.length / 2, `${what}: the reference is mostly subnormal`);
    assert.equal(got[i]!.filter((v) => v !== 0).length, ref[i]!.filter((v) => v !== 0).length, `${what}: no value flushed to zero`);
    assertClose(got[i]!, ref[i]!, what);
  });
});

test('dilation 2: forward matches cpu and tfjs-core refuses its gradient on both backends', async () => {
  const run = () => tf.tidy(() => {
    const x = tf.tensor4d(values(2 * 9 * 9 * 2, 4), [2, 9, 9, 2]);
    const f = tf.tensor4d(values(3 * 3 * 2 * 3, 5), [3, 3, 2, 3]);
    const y = tf.conv2d(x, f, 1, 'same', 'NHWC', 2).dataSync() as Float32Array;
    assert.throws(() => tf.grad((a: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, f, 1, 'valid', 'NHWC', 2).sum())(x), /dilation/);
    return y;
  });
  await initBackend('cpu');
  const ref = run();
  await initBackend('wasm');
  assertClose(run(), ref, 'dilated forward');
});

/** The other replaced kernels (wasm-training-kernels.ts, and their native versions) against cpu. */
interface OtherCase { name: string; run: () => Float32Array[] }

const otherCases: OtherCase[] = [
  {
    name: 'maxPool 2x2/2 gradient with ties (ReLU zeros)',
    run: () => tf.tidy(() => {
      const x = tf.relu(tf.tensor4d(values(2 * 6 * 6 * 3, 7), [2, 6, 6, 3]));
      return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid'), tf.tensor(values(2 * 3 * 3 * 3, 8), [2, 3, 3, 3]))))(x).dataSync() as Float32Array];
    }),
  },
  {
    // 13 channels: three groups of four (the native kernel's vector path) and one left over;
    // values on a coarse grid, so that windows tie between any two or more positions.
    name: 'maxPool 2x2/2 gradient, 13 channels, many ties',
    run: () => tf.tidy(() => {
      const x = tf.relu(tf.round(tf.mul(tf.tensor4d(values(3 * 8 * 6 * 13, 22), [3, 8, 6, 13]), 2)));
      return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid'), tf.tensor(values(3 * 4 * 3 * 13, 23), [3, 4, 3, 13]))))(x).dataSync() as Float32Array];
    }),
  },
  {
    name: 'maxPool 3x3/2 same gradient (overlapping windows, padding)',
    run: () => tf.tidy(() => {
      const x = tf.tensor4d(values(2 * 7 * 7 * 2, 9), [2, 7, 7, 2]);
      return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 3, 2, 'same'), tf.tensor(values(2 * 4 * 4 * 2, 10), [2, 4, 4, 2]))))(x).dataSync() as Float32Array];
    }),
  },
  {
    name: 'sum over leading axes, keepDims and not; other axes',
    run: () => tf.tidy(() => {
      const x = tf.tensor4d(values(4 * 5 * 6 * 7, 11), [4, 5, 6, 7]);
      return [
        tf.sum(x, [0, 1, 2]).dataSync() as Float32Array,
        tf.sum(x, [0, 1], true).dataSync() as Float32Array,
        tf.sum(x, 0).dataSync() as Float32Array,
        tf.sum(x, [1, 3]).dataSync() as Float32Array,
        tf.sum(x).dataSync() as Float32Array,
      ];
    }),
  },
  {
    name: 'matMul with transposes, 2-D and batched',
    run: () => tf.tidy(() => {
      const a = tf.tensor2d(values(13 * 17, 12), [13, 17]);
      const b = tf.tensor2d(values(13 * 11, 13), [13, 11]);
      const c = tf.tensor2d(values(11 * 17, 14), [11, 17]);
      const a3 = tf.tensor3d(values(3 * 5 * 4, 15), [3, 5, 4]);
      const b3 = tf.tensor3d(values(3 * 6 * 4, 16), [3, 6, 4]);
      const d3 = tf.tensor3d(values(3 * 5 * 6, 17), [3, 5, 6]);
      return [
        tf.matMul(a, b, true, false).dataSync() as Float32Array,
        tf.matMul(a, c, false, true).dataSync() as Float32Array,
        tf.matMul(b, a, true, false).dataSync() as Float32Array,
        tf.matMul(c, a, false, true).dataSync() as Float32Array,
        tf.matMul(a3, b3, false, true).dataSync() as Float32Array,
        tf.matMul(a3, d3, true, false).dataSync() as Float32Array,
      ];
    }),
  },
];

otherCases.push({
  name: 'matMul on random shapes: transposes, shared and equal batches',
  run: () => tf.tidy(() => {
    const int = integers(7);
    const out: Float32Array[] = [];
    for (let i = 0; i < 12; i++) {
      const [m, k, n, ta, tb] = [int(1, 70), int(1, 70), int(1, 70), int(0, 1) === 1, int(0, 1) === 1];
      // shared: 0 both batched, 1 a is one matrix for every b, 2 b is one matrix for every a.
      const batch = int(1, 3), shared = int(0, 2);
      const shapeA = shared === 1 ? (ta ? [k, m] : [m, k]) : [batch, ...(ta ? [k, m] : [m, k])];
      const shapeB = shared === 2 ? (tb ? [n, k] : [k, n]) : [batch, ...(tb ? [n, k] : [k, n])];
      const a = tf.tensor(values(size(shapeA), 30 + i), shapeA);
      const b = tf.tensor(values(size(shapeB), 60 + i), shapeB);
      out.push(tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, ta, tb).dataSync() as Float32Array);
    }
    return out;
  }),
});

otherCases.push({
  name: 'fused conv2d (inference in tf.layers): bias and ReLU, linear, no bias, stride 2 same',
  run: () => tf.tidy(() => {
    const x = tf.tensor4d(values(3 * 9 * 9 * 4, 18), [3, 9, 9, 4]);
    const f = tf.tensor4d(values(3 * 3 * 4 * 5, 19), [3, 3, 4, 5]);
    const bias = tf.tensor1d(values(5, 20));
    return [
      tf.fused.conv2d({ x, filter: f, strides: 1, pad: 'valid', bias, activation: 'relu' }).dataSync() as Float32Array,
      tf.fused.conv2d({ x, filter: f, strides: 1, pad: 'valid', bias, activation: 'linear' }).dataSync() as Float32Array,
      tf.fused.conv2d({ x, filter: f, strides: 2, pad: 'same', activation: 'relu' }).dataSync() as Float32Array,
      tf.fused.conv2d({ x, filter: f, strides: 1, pad: 'same', bias, activation: 'elu' }).dataSync() as Float32Array,
    ];
  }),
});

for (const set of KERNEL_SETS) {
  for (const c of otherCases) {
    test(`${set.name}: wasm matches cpu: ${c.name}`, set.options, async () => {
      await initBackend('cpu');
      const ref = c.run();
      await useKernels(set);
      const before = tf.engine().backend.numDataIds();
      const got = c.run();
      defaultKernels();
      assert.equal(tf.engine().backend.numDataIds(), before, 'no leaked backend memory');
      got.forEach((g, i) => assertClose(g, ref[i]!, `${c.name} #${i}`));
    });
  }
}

for (const set of KERNEL_SETS) test(`${set.name}: the paper network: loss and every weight gradient on wasm match cpu`, set.options, async () => {
  const { buildModel, forwardLogits } = await import('../src/flagship/ml/model.ts');
  const run = () => {
    const model = buildModel(3);
    const out = tf.tidy(() => {
      const x = tf.tensor4d(values(2 * 28 * 28, 21).map((v) => (v + 1) / 2), [2, 28, 28, 1]);
      const y = tf.oneHot(tf.tensor1d([3, 1], 'int32'), 10).toFloat();
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, forwardLogits(model, x)) as tf.Scalar, vars);
      return [value.dataSync() as Float32Array, ...vars.map((v) => grads[v.name]!.dataSync() as Float32Array)];
    });
    model.dispose();
    return out;
  };
  await initBackend('cpu');
  const ref = run();
  await useKernels(set);
  const got = run();
  defaultKernels();
  assert.equal(got.length, ref.length);
  got.forEach((g, i) => assertClose(g, ref[i]!, i === 0 ? 'loss' : `gradient #${i}`));
});

test('wasm Identity shares the buffer safely: a clone outlives its source', async () => {
  await initBackend('wasm');
  const a = tf.tensor1d([1, 2, 3]);
  const b = a.clone();
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3]);
  const c = tf.add(b, 1);
  b.dispose();
  assert.deepEqual(Array.from(c.dataSync()), [2, 3, 4]);
  c.dispose();
});

test('wasm Cast to the same dtype shares the buffer safely; to another dtype it converts', async () => {
  await initBackend('wasm');
  const a = tf.tensor1d([1.5, -2.25, 3]);
  const before = tf.engine().backend.numDataIds();
  const b = tf.cast(a, 'float32');
  assert.equal(tf.engine().backend.numDataIds(), before, 'no new buffer for a cast to float32');
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1.5, -2.25, 3]);
  const c = tf.cast(b, 'int32');
  assert.equal(c.dtype, 'int32');
  assert.deepEqual(Array.from(c.dataSync()), [1, -2, 3]);
  b.dispose();
  c.dispose();
});
