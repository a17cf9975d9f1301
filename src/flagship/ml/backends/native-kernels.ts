import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { geometry as convGeometry } from './wasm-kernels.ts';
import { isDisjoint2x2, leadingSum, replaceWasmKernels, type KernelArgs, type WasmKernelFunc } from './wasm-registry.ts';

/**
 * Convolutions for the wasm backend computed by OpenBLAS, through our Node-API addon in
 * `native/` (im2col + sgemm on the wasm heap itself; see native/src/kernels.c for why).
 *
 * Optional by design: the addon is compiled at `npm ci` when a C compiler and OpenBLAS's
 * headers are present (`native/build.mjs`), and everything works without it on the
 * XNNPACK kernels, 2.5 to 3x slower to train. Results differ in the last bits between the
 * two, so the kernel set is part of the backend identity that keys every trained model
 * (see `backendIdentity` in select.ts).
 *
 * The replacements cover NHWC float32 convolutions (the only kind the paper's network and
 * the wasm forward Conv2D produce), fused ones with a bias and ReLU (inference in tf.layers),
 * and, because a step spends ~10% there once convolutions are fast, the 2x2/2 max-pooling
 * gradient and bias-gradient sums; anything else goes to the kernel they replaced.
 *
 * The addon's sources and build flags are part of the code fingerprint of every module that
 * imports this one (src/engine/store/code-fingerprint.ts), so editing the C retrains:
 * @fingerprint ../../../../native/src/kernels.c ../../../../native/binding.gyp ../../../../native/build.mjs
 */

export const NATIVE_ENV = 'REPROBOOK_NATIVE_KERNELS';

export const ADDON_PATH = fileURLToPath(new URL('../../../../native/build/Release/reprobook_kernels.node', import.meta.url));

interface Addon {
  conv2d(geometry: Int32Array, x: Float32Array, filter: Float32Array, out: Float32Array, bias?: Float32Array | null, relu?: boolean): void;
  conv2dBackpropInput(geometry: Int32Array, dy: Float32Array, filter: Float32Array, dx: Float32Array): void;
  conv2dBackpropFilter(geometry: Int32Array, x: Float32Array, dy: Float32Array, dw: Float32Array): void;
  maxPoolGrad2x2(x: Float32Array, dy: Float32Array, dx: Float32Array, batch: number, outH: number, outW: number, channels: number): void;
  sumRows(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
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
   * Short identity of the arithmetic, e.g. "openblas-0.3.21-zen": OpenBLAS picks its
   * microkernels by CPU family, so the core is part of what decides the result bits.
   */
  id?: string;
}

export const NATIVE_FIX = `install a C compiler and OpenBLAS's headers (Debian: apt-get install g++ make python3 libopenblas-dev), then npm run build:native; or set ${NATIVE_ENV}=0 to silence this and use the XNNPACK kernels`;

type Args = KernelArgs;

let addon: Addon | undefined;
let status: NativeKernelsStatus | undefined;
/** Switched off by tests and the bench to measure or check the XNNPACK kernels in the same process. */
let enabled = true;
let replaced = new Map<string, WasmKernelFunc>();

/** Whether the addon loads here (and which OpenBLAS it runs), without registering any kernel: for a test deciding what it can run. */
export function loadAddon(env: NodeJS.ProcessEnv): NativeKernelsStatus {
  if (env[NATIVE_ENV] === '0') return { available: false, reason: `disabled by ${NATIVE_ENV}=0` };
  if (!existsSync(ADDON_PATH)) return { available: false, reason: `the native addon is not built (${ADDON_PATH} is missing; npm ci builds it when OpenBLAS's headers are installed)` };
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;
  } catch (err) {
    return { available: false, reason: `the native addon failed to load: ${String((err as Error).message ?? err).split('\n')[0]}` };
  }
  const { config, core } = addon.blasInfo();
  const version = /OpenBLAS\s+(\S+)/.exec(config)?.[1] ?? 'unknown';
  return { available: true, blasConfig: config, id: `openblas-${version}-${core.toLowerCase()}` };
}

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
  addon!.conv2d(g, backend.typedArrayFromHeap(x!), backend.typedArrayFromHeap(filter!), backend.typedArrayFromHeap(out), bias ? backend.typedArrayFromHeap(bias) : null, relu);
  return out;
}

const conv2d = (args: Args) => forward(args, tf.Conv2D, undefined, false);

function conv2dBackpropInput(args: Args): tf.TensorInfo {
  const { inputs: { dy, filter }, backend, attrs } = args;
  if (!handles(attrs, dy!, filter!)) return replaced.get(tf.Conv2DBackpropInput)!(args);
  const inputShape = attrs.inputShape as number[];
  const g = geometry(inputShape, filter!.shape, attrs.strides, attrs.pad, 1, attrs.dimRoundingMode);
  const out = backend.makeOutput(inputShape, 'float32');
  addon!.conv2dBackpropInput(g, backend.typedArrayFromHeap(dy!), backend.typedArrayFromHeap(filter!), backend.typedArrayFromHeap(out));
  return out;
}

function conv2dBackpropFilter(args: Args): tf.TensorInfo {
  const { inputs: { x, dy }, backend, attrs } = args;
  if (!handles(attrs, x!, dy!)) return replaced.get(tf.Conv2DBackpropFilter)!(args);
  const filterShape = attrs.filterShape as number[];
  const g = geometry(x!.shape, filterShape, attrs.strides, attrs.pad, 1, attrs.dimRoundingMode);
  const out = backend.makeOutput(filterShape, 'float32');
  addon!.conv2dBackpropFilter(g, backend.typedArrayFromHeap(x!), backend.typedArrayFromHeap(dy!), backend.typedArrayFromHeap(out));
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
  return enabled && status?.available ? status.id : undefined;
}

/**
 * Route convolutions to OpenBLAS (true, the default once registered) or to the XNNPACK
 * kernels they replaced (false): lets the bench and the tests compare both in one process.
 * Returns the previous setting.
 */
export function setNativeKernelsEnabled(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}
