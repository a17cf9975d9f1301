import * as tf from '@tensorflow/tfjs';

/**
 * What reprobook's three sets of wasm kernels share: the slice of tfjs-backend-wasm's
 * backend they use (the package does not export the class type usefully), the kernel
 * signature, and how a kernel is replaced.
 */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  disposeData(dataId: tf.DataId): boolean;
  incRef(dataId: tf.DataId): void;
}

export type KernelArgs = { inputs: Record<string, tf.TensorInfo>; backend: WasmBackendLike; attrs: Record<string, unknown> };
export type WasmKernelFunc = (args: KernelArgs) => tf.TensorInfo;

/**
 * Register `replacements` for 'wasm' over whatever is registered now, and return the kernel
 * functions they replaced (absent where there was none: tfjs-backend-wasm 4.22 has no
 * Conv2DBackpropFilter). Each replacement keeps the replaced kernel's setupFunc, which binds
 * the wasm function that a fallback to the replaced kernel calls.
 */
export function replaceWasmKernels(replacements: ReadonlyArray<readonly [string, WasmKernelFunc]>): Map<string, WasmKernelFunc> {
  const replaced = new Map<string, WasmKernelFunc>();
  for (const [kernelName, kernelFunc] of replacements) {
    const prev = tf.getKernel(kernelName, 'wasm');
    if (prev) {
      replaced.set(kernelName, prev.kernelFunc as unknown as WasmKernelFunc);
      tf.unregisterKernel(kernelName, 'wasm');
    }
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc, setupFunc: prev?.setupFunc });
  }
  return replaced;
}

/** The kernel registered for 'wasm' under `name`, or an error that says what to import. */
export function wasmKernel(name: string): WasmKernelFunc {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm kernel ${name} is not registered: import @tensorflow/tfjs-backend-wasm first`);
  return k.kernelFunc as unknown as WasmKernelFunc;
}

/** A sum over the leading axes of a tensor, seen as column sums of a [rows, cols] matrix. */
export interface LeadingSum {
  rows: number;
  cols: number;
  /** The output's shape (keepDims honoured). */
  outShape: number[];
}

/** `Sum` over `axis` as column sums, when the axes are exactly [0, k) with k < rank; else undefined. */
export function leadingSum(shape: number[], axis: unknown, keepDims: unknown): LeadingSum | undefined {
  const axes = tf.util.parseAxisParam(axis as number | number[], shape).sort((p, q) => p - q);
  const k = axes.length;
  if (k === 0 || k >= shape.length || !axes.every((ax, i) => ax === i)) return undefined;
  const rest = shape.slice(k);
  return {
    rows: shape.slice(0, k).reduce((p, q) => p * q, 1),
    cols: rest.reduce((p, q) => p * q, 1),
    outShape: keepDims ? [...new Array<number>(k).fill(1), ...rest] : rest,
  };
}

/** Pooling with disjoint 2x2 windows tiling the input exactly (the paper's pooling). */
export function isDisjoint2x2(p: tf.backend_util.Conv2DInfo): boolean {
  return p.filterHeight === 2 && p.filterWidth === 2 && p.strideHeight === 2 && p.strideWidth === 2 &&
    p.dilationHeight === 1 && p.dilationWidth === 1 && p.padInfo.top === 0 && p.padInfo.left === 0 &&
    p.outHeight * 2 === p.inHeight && p.outWidth * 2 === p.inWidth;
}
