import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { geometry as convGeometry } from './wasm-kernels.ts';
import { isDisjoint2x2, leadingSum, replaceWasmKernels, type KernelArgs, type WasmKernelFunc } from './wasm-registry.ts';

/**
 * Convolutions for the wasm backend computed by oneDNN (where it is built) or OpenBLAS, through
 * our Node-API addon in `native/` (on the wasm heap itself; see native/src/onednn.c and
 * native/src/kernels.c for why).
 *
 * Optional by design: the addon is compiled at `npm ci` when a C compiler and OpenBLAS's
 * headers are present, with oneDNN's convolutions when its headers are too
 * (`native/build.mjs`), and everything works without it on the XNNPACK kernels, 2.5 to 3x
 * slower to train. Results differ in the last bits between the kernel sets, so the kernel set
 * is part of the backend identity that keys every trained model (see `backendIdentity` in
 * select.ts, and NATIVE_KERNEL_SET below).
 *
 * The replacements cover NHWC float32 convolutions (the only kind the paper's network and
 * the wasm forward Conv2D produce), fused ones with a bias and ReLU (inference in tf.layers),
 * the dense layers' matrix products, and, because a step spends ~10% there once convolutions
 * are fast, the 2x2/2 max-pooling gradient and bias-gradient sums; anything else goes to the
 * kernel they replaced.
 *
 * The addon's sources and build flags are part of the code fingerprint of every module that
 * imports this one (src/engine/store/code-fingerprint.ts), so editing the C retrains:
 * @fingerprint ../../../../native/src/kernels.c ../../../../native/src/kernels.h ../../../../native/src/onednn.c ../../../../native/binding.gyp ../../../../native/build.mjs
 */

/**
 * The version of what the native kernels compute, in the backend identity: bump it whenever a
 * change moves a result's last bits (a kernel added or replaced, a summation reordered), so that
 * no stored network trained by the older kernels is served as if the new ones had trained it.
 *   1: OpenBLAS convolutions, pooling gradient and bias sums (unnamed in the identity).
 *   2: oneDNN's convolutions where built; the dense layers' products on OpenBLAS.
 */
export const NATIVE_KERNEL_SET = 2;

export const NATIVE_ENV = 'REPROBOOK_NATIVE_KERNELS';

export const ADDON_PATH = fileURLToPath(new URL('../../../../native/build/Release/reprobook_kernels.node', import.meta.url));

type ConvFn = (geometry: Int32Array, a: Float32Array, b: Float32Array, out: Float32Array) => void;
type ForwardFn = (geometry: Int32Array, x: Float32Array, filter: Float32Array, out: Float32Array, bias?: Float32Array | null, relu?: boolean) => void;

interface Addon {
  conv2d: ForwardFn;
  conv2dBackpropInput: ConvFn;
  conv2dBackpropFilter: ConvFn;
  /** Present only when built with oneDNN and its engine started. */
  conv2dOneDnn?: ForwardFn;
  conv2dBackpropInputOneDnn?: ConvFn;
  conv2dBackpropFilterOneDnn?: ConvFn;
  oneDnnInfo?(): { version: string; isa: string };
  maxPoolGrad2x2(x: Float32Array, dy: Float32Array, dx: Float32Array, batch: number, outH: number, outW: number, channels: number): void;
  sumRows(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  matMul(a: Float32Array, b: Float32Array, out: Float32Array, batch: number, m: number, k: number, n: number, transposeA: boolean, transposeB: boolean): void;
  blasInfo(): { core: string; config: string };
}

export interface NativeKernelsStatus {
  /** The addon loaded and its kernels are registered for 'wasm'. */
  available: boolean;
  /** Why not, in words a user can act on. */
  reason?: string;
  /** e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64". */
  blasConfig?: string;
  /**
   * Short identity of the arithmetic with every library on, e.g.
   * "native2+onednn-2.6.3-avx512_core_bf16+openblas-0.3.21-zen": OpenBLAS picks its
   * microkernels by CPU family and oneDNN JIT-compiles for the instruction set it finds, so
   * both are part of what decides the result bits.
   */
  id?: string;
  /** OpenBLAS's part of the id, e.g. "openblas-0.3.21-zen". */
  openblas?: string;
  /** oneDNN's convolutions: "onednn-2.6.3-avx512_core_bf16" when built, else why not. */
  oneDnn?: { available: true; id: string } | { available: false; reason: string };
}

export const NATIVE_FIX = `install a C compiler and OpenBLAS's headers (Debian: apt-get install g++ make python3 libopenblas-dev), then npm run build:native; or set ${NATIVE_ENV}=0 to silence this and use the XNNPACK kernels`;

export const ONEDNN_FIX = `apt-get install libdnnl-dev (oneDNN), then npm run build:native`;

type Args = KernelArgs;

let addon: Addon | undefined;
let status: NativeKernelsStatus | undefined;
/** Switched off by tests and the bench to measure or check the XNNPACK kernels in the same process. */
let enabled = true;
/** Switched off by tests, the bench and REPROBOOK_NATIVE_KERNELS=openblas: convolutions on OpenBLAS alone. */
let oneDnnEnabled = true;
let replaced = new Map<string, WasmKernelFunc>();

function loadAddon(env: NodeJS.ProcessEnv): NativeKernelsStatus {
  if (env[NATIVE_ENV] === '0') return { available: false, reason: `disabled by ${NATIVE_ENV}=0` };
  if (!existsSync(ADDON_PATH)) return { available: false, reason: `the native addon is not built (${ADDON_PATH} is missing; npm ci builds it when OpenBLAS's headers are installed)` };
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;
  } catch (err) {
    return { available: false, reason: `the native addon failed to load: ${String((err as Error).message ?? err).split('\n')[0]}` };
  }
  if (typeof addon.matMul !== 'function') {
    return { available: false, reason: 'the native addon was built from older sources; run npm run build:native' };
  }
  const { config, core } = addon.blasInfo();
  const version = /OpenBLAS\s+(\S+)/.exec(config)?.[1] ?? 'unknown';
  const openblas = `openblas-${version}-${core.toLowerCase()}`;
  const oneDnn: NativeKernelsStatus['oneDnn'] = env[NATIVE_ENV] === 'openblas'
    ? { available: false, reason: `disabled by ${NATIVE_ENV}=openblas` }
    : addon.oneDnnInfo
      ? { available: true, id: `onednn-${addon.oneDnnInfo().version}-${addon.oneDnnInfo().isa}` }
      : { available: false, reason: 'the native addon was built without oneDNN (its headers were not found at build time)' };
  return { available: true, blasConfig: config, id: kernelSetId(openblas, oneDnn.available ? oneDnn.id : undefined), openblas, oneDnn };
}

/** The identity of a kernel set: its version, then the libraries that compute, e.g. "native2+openblas-0.3.21-haswell". */
function kernelSetId(openblas: string, oneDnn: string | undefined): string {
  return [`native${NATIVE_KERNEL_SET}`, oneDnn, openblas].filter(Boolean).join('+');
}

/** oneDNN computes the convolutions now. */
const oneDnnActive = () => oneDnnEnabled && status?.oneDnn?.available === true;

/** NHWC geometry as the addon reads it (15 int32s, the order of `Geo` in kernels.c). */
function geometry(xShape: number[], filterShape: number[], strides: unknown, pad: unknown, dilations: unknown, dimRoundingMode: unknown): Int32Array {
  const g = convGeometry(
    xShape as [number, number, number, number], filterShape as [number, number, number, number],
    strides as number | [number, number], pad, dimRoundingMode, (dilations ?? 1) as number | [number, number],
  );
  return new Int32Array([g.batch, g.inH, g.inW, g.inC, g.outH, g.outW, g.outC, g.fH, g.fW, g.sH, g.sW, g.top, g.left, g.dH, g.dW]);
}

const handles = (attrs: Record<string, unknown>, ...ts: tf.TensorInfo[]) =>
  enabled && addon !== undefined && attrs.dataFormat !== 'NCHW' && ts.every((t) => t.dtype === 'float32');

/** A forward convolution, plain (Conv2D) or with a bias and ReLU fused (FusedConv2D). */
function forward(args: Args, kernelName: string, bias: tf.TensorInfo | undefined, relu: boolean): tf.TensorInfo {
  const { inputs: { x, filter }, backend, attrs } = args;
  if (!handles(attrs, x!, filter!, ...(bias ? [bias] : []))) return replaced.get(kernelName)!(args);
  const g = geometry(x!.shape, filter!.shape, attrs.strides, attrs.pad, attrs.dilations, attrs.dimRoundingMode);
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== g[6])) return replaced.get(kernelName)!(args);
  const out = backend.makeOutput([g[0]!, g[4]!, g[5]!, g[6]!], 'float32');
  // Views are taken after makeOutput: a heap growth there would detach earlier ones.
  const conv = oneDnnActive() ? addon!.conv2dOneDnn! : addon!.conv2d;
  conv(g, backend.typedArrayFromHeap(x!), backend.typedArrayFromHeap(filter!), backend.typedArrayFromHeap(out), bias ? backend.typedArrayFromHeap(bias) : null, relu);
  return out;
}

const conv2d = (args: Args) => forward(args, tf.Conv2D, undefined, false);

function conv2dBackpropInput(args: Args): tf.TensorInfo {
  const { inputs: { dy, filter }, backend, attrs } = args;
  if (!handles(attrs, dy!, filter!)) return replaced.get(tf.Conv2DBackpropInput)!(args);
  const inputShape = attrs.inputShape as number[];
  const g = geometry(inputShape, filter!.shape, attrs.strides, attrs.pad, 1, attrs.dimRoundingMode);
  const out = backend.makeOutput(inputShape, 'float32');
  const conv = oneDnnActive() ? addon!.conv2dBackpropInputOneDnn! : addon!.conv2dBackpropInput;
  conv(g, backend.typedArrayFromHeap(dy!), backend.typedArrayFromHeap(filter!), backend.typedArrayFromHeap(out));
  return out;
}

function conv2dBackpropFilter(args: Args): tf.TensorInfo {
  const { inputs: { x, dy }, backend, attrs } = args;
  if (!handles(attrs, x!, dy!)) return replaced.get(tf.Conv2DBackpropFilter)!(args);
  const filterShape = attrs.filterShape as number[];
  const g = geometry(x!.shape, filterShape, attrs.strides, attrs.pad, 1, attrs.dimRoundingMode);
  const out = backend.makeOutput(filterShape, 'float32');
  const conv = oneDnnActive() ? addon!.conv2dBackpropFilterOneDnn! : addon!.conv2dBackpropFilter;
  conv(g, backend.typedArrayFromHeap(x!), backend.typedArrayFromHeap(dy!), backend.typedArrayFromHeap(out));
  return out;
}

function fusedConv2d(args: Args): tf.TensorInfo {
  const { inputs: { bias, preluActivationWeights }, attrs } = args;
  const act = attrs.activation ?? 'linear';
  if ((act !== 'linear' && act !== 'relu') || preluActivationWeights) return replaced.get(tf.FusedConv2D)!(args);
  return forward(args, tf.FusedConv2D, bias, act === 'relu');
}

function maxPoolGrad(args: Args): tf.TensorInfo {
  const { inputs: { dy, input }, backend, attrs } = args;
  const p = tf.backend_util.computePool2DInfo(
    input!.shape as [number, number, number, number], attrs.filterSize as [number, number] | number,
    attrs.strides as [number, number] | number, 1, attrs.pad as 'valid' | 'same' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  if (!isDisjoint2x2(p) || !handles({}, dy!, input!)) return replaced.get(tf.MaxPoolGrad)!(args);
  const out = backend.makeOutput(input!.shape, 'float32');
  addon!.maxPoolGrad2x2(backend.typedArrayFromHeap(input!), backend.typedArrayFromHeap(dy!), backend.typedArrayFromHeap(out), p.batchSize, p.outHeight, p.outWidth, p.inChannels);
  return out;
}

/** Sums over the leading axes (bias gradients); other reductions go to the replaced kernel. */
function sum(args: Args): tf.TensorInfo {
  const { inputs: { x }, backend, attrs } = args;
  const s = leadingSum(x!.shape, attrs.axis, attrs.keepDims);
  if (s === undefined || !handles({}, x!)) return replaced.get(tf.Sum)!(args);
  const out = backend.makeOutput(s.outShape, 'float32');
  addon!.sumRows(backend.typedArrayFromHeap(x!), backend.typedArrayFromHeap(out), s.rows, s.cols);
  return out;
}

/**
 * Matrix products (the dense layers and their gradients) with either side transposed, as one
 * sgemm per matrix of the batch; batch shapes other than equal or shared (a batch of 1) go to
 * the replaced kernel.
 */
function batchMatMul(args: Args): tf.TensorInfo {
  const { inputs: { a, b }, backend, attrs } = args;
  if (!handles({}, a!, b!) || a!.shape.length < 2 || b!.shape.length < 2) return replaced.get(tf.BatchMatMul)!(args);
  const ta = Boolean(attrs.transposeA), tb = Boolean(attrs.transposeB);
  const [aLead, bLead] = [a!.shape.slice(0, -2), b!.shape.slice(0, -2)];
  const [aBatch, bBatch] = [tf.util.sizeFromShape(aLead), tf.util.sizeFromShape(bLead)];
  const sameBatch = aLead.length === bLead.length && aLead.every((d, i) => d === bLead[i]);
  if (!sameBatch && aBatch !== 1 && bBatch !== 1) return replaced.get(tf.BatchMatMul)!(args);
  const [aRows, aCols] = a!.shape.slice(-2) as [number, number];
  const [bRows, bCols] = b!.shape.slice(-2) as [number, number];
  const m = ta ? aCols : aRows, k = ta ? aRows : aCols, n = tb ? bRows : bCols;
  if ((tb ? bCols : bRows) !== k) return replaced.get(tf.BatchMatMul)!(args);
  const lead = tf.backend_util.assertAndGetBroadcastShape(aLead, bLead);
  const out = backend.makeOutput([...lead, m, n], 'float32');
  addon!.matMul(backend.typedArrayFromHeap(a!), backend.typedArrayFromHeap(b!), backend.typedArrayFromHeap(out), Math.max(aBatch, bBatch), m, k, n, ta, tb);
  return out;
}

/**
 * Load the addon and register its kernels for 'wasm' over the ones registered before
 * (call after the XNNPACK gradient kernels are registered, before the backend is first
 * used). Idempotent; never throws: the status says why the addon is unavailable.
 */
export function registerNativeKernels(env: NodeJS.ProcessEnv = process.env): NativeKernelsStatus {
  if (status) return status;
  status = loadAddon(env);
  if (!status.available) return status;
  const kernels: Array<[string, WasmKernelFunc]> = [
    [tf.Conv2D, conv2d],
    [tf.Conv2DBackpropInput, conv2dBackpropInput],
    [tf.Conv2DBackpropFilter, conv2dBackpropFilter],
    [tf.FusedConv2D, fusedConv2d],
    [tf.MaxPoolGrad, maxPoolGrad],
    [tf.Sum, sum],
    [tf.BatchMatMul, batchMatMul],
  ];
  // Every replacement falls back to the kernel it replaces, so all of them must exist first.
  const missing = kernels.find(([name]) => !tf.getKernel(name, 'wasm'));
  if (missing) {
    status = { available: false, reason: `wasm kernel ${missing[0]} is not registered: import @tensorflow/tfjs-backend-wasm first` };
    return status;
  }
  replaced = replaceWasmKernels(kernels);
  return status;
}

/** The identity of the native kernels when they compute the convolutions now, else undefined. */
export function activeNativeKernels(): string | undefined {
  if (!enabled || !status?.available) return undefined;
  const { openblas, oneDnn } = status;
  return kernelSetId(openblas!, oneDnnActive() && oneDnn?.available ? oneDnn.id : undefined);
}

/**
 * Route convolutions to the native kernels (true, the default once registered) or to the
 * XNNPACK kernels they replaced (false): lets the bench and the tests compare both in one
 * process. Returns the previous setting.
 */
export function setNativeKernelsEnabled(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/**
 * Compute convolutions with oneDNN where it is built (true, the default) or with OpenBLAS
 * (false), for the bench and the tests. Returns the previous setting.
 */
export function setOneDnnEnabled(on: boolean): boolean {
  const was = oneDnnEnabled;
  oneDnnEnabled = on;
  return was;
}
