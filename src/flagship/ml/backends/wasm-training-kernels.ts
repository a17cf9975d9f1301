import * as tf from '@tensorflow/tfjs';
import { isDisjoint2x2, leadingSum, replaceWasmKernels, wasmKernel, type KernelArgs, type WasmBackendLike, type WasmKernelFunc } from './wasm-registry.ts';

/**
 * Faster wasm kernels for what a training step needs besides convolutions, found by
 * profiling the paper's network (tf.profile, batch 128):
 *
 *  - BatchMatMul with transposeA/transposeB (the dense layers' gradients) falls off
 *    XNNPACK onto a scalar loop in tfjs-backend-wasm: ~100 ms for x^T·dy of fc1. An explicit
 *    Transpose (sub-millisecond) followed by the untransposed, XNNPACK path is ~30x faster.
 *  - Sum over the leading axes (every bias gradient) transposes the whole tensor first; a
 *    single sequential pass over the heap is several times faster.
 *  - MaxPoolGrad is a generic loop; a channel-innermost pass over the windows is faster.
 *  - Identity copies the whole buffer, and the engine clones every tensor it saves for the
 *    backward pass (~50 copies of activations per training step). Sharing the buffer by
 *    reference count, as the cpu backend and wasm's own Reshape do, is safe because wasm
 *    kernels never write into their inputs. The same for a Cast to the dtype a tensor has.
 *
 * Each replacement delegates to the original kernel for the cases it does not handle, so the
 * original's setupFunc (which binds the wasm function) is kept on the replacement.
 */

type Args = KernelArgs;

/** tfjs-backend-wasm's own kernels, which the replacements below fall back to. */
let originals = new Map<string, WasmKernelFunc>();

function original(name: string): WasmKernelFunc {
  return originals.get(name) ?? wasmKernel(name);
}

function transposeInfo(backend: WasmBackendLike, x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
  return original(tf.Transpose)({ inputs: { x }, backend, attrs: { perm } });
}

function batchMatMul(args: Args): tf.TensorInfo {
  const { inputs: { a, b }, backend, attrs } = args;
  const transposeA = Boolean(attrs.transposeA);
  const transposeB = Boolean(attrs.transposeB);
  if ((!transposeA && !transposeB) || a!.dtype !== 'float32' || b!.dtype !== 'float32') return original(tf.BatchMatMul)(args);
  const swapLast = (rank: number) => [...Array(rank - 2).keys(), rank - 1, rank - 2];
  const a2 = transposeA ? transposeInfo(backend, a!, swapLast(a!.shape.length)) : a!;
  const b2 = transposeB ? transposeInfo(backend, b!, swapLast(b!.shape.length)) : b!;
  const out = original(tf.BatchMatMul)({ inputs: { a: a2, b: b2 }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
  if (a2 !== a) backend.disposeData(a2.dataId);
  if (b2 !== b) backend.disposeData(b2.dataId);
  return out;
}

/**
 * Reduction over leading axes [0..k) of a float32 tensor (bias gradients): one sequential
 * pass, accumulating in float64. (A ones·x matmul on XNNPACK is fast only when x is reused:
 * for a fresh dy it repacks all of dy as weights.)
 */
function sum(args: Args): tf.TensorInfo {
  const { inputs: { x }, backend, attrs } = args;
  const s = leadingSum(x!.shape, attrs.axis, attrs.keepDims);
  if (s === undefined || x!.dtype !== 'float32') return original(tf.Sum)(args);
  const { rows: m, cols: c } = s;
  const acc = new Float64Array(c);
  const out = backend.makeOutput(s.outShape, 'float32');
  const v = backend.typedArrayFromHeap(x!);
  for (let r = 0; r < m; r++) {
    const base = r * c;
    for (let j = 0; j < c; j++) acc[j] += v[base + j]!;
  }
  backend.typedArrayFromHeap(out).set(acc);
  return out;
}

/**
 * Gradient of max pooling, NHWC: dy flows to the first maximal element of each window (the
 * cpu backend's tie rule, so the two backends agree on ReLU's many zeros). Padding and
 * overlapping windows are handled; dilated pooling goes to the original kernel.
 */
/**
 * The paper's pooling (2x2, stride 2, even sizes): disjoint windows tiling the input, so every
 * dx element is written exactly once: dy at the window's first maximum, 0 elsewhere.
 */
function maxPoolGrad2x2(x: Float32Array, g: Float32Array, dx: Float32Array, nB: number, oH: number, oW: number, C: number): void {
  const rowStride = oW * 2 * C;
  let gi = 0;
  for (let b = 0; b < nB; b++) {
    for (let oh = 0; oh < oH; oh++) {
      for (let ow = 0; ow < oW; ow++) {
        const p00 = ((b * oH * 2 + oh * 2) * oW * 2 + ow * 2) * C;
        const p01 = p00 + C;
        const p10 = p00 + rowStride;
        const p11 = p10 + C;
        for (let c = 0; c < C; c++, gi++) {
          const v00 = x[p00 + c]!, v01 = x[p01 + c]!, v10 = x[p10 + c]!, v11 = x[p11 + c]!;
          let m = v00, k = 0;
          if (v01 > m) { m = v01; k = 1; }
          if (v10 > m) { m = v10; k = 2; }
          if (v11 > m) k = 3;
          const d = g[gi]!;
          dx[p00 + c] = k === 0 ? d : 0;
          dx[p01 + c] = k === 1 ? d : 0;
          dx[p10 + c] = k === 2 ? d : 0;
          dx[p11 + c] = k === 3 ? d : 0;
        }
      }
    }
  }
}

function maxPoolGrad(args: Args): tf.TensorInfo {
  const { inputs: { dy, input }, backend, attrs } = args;
  const info = tf.backend_util.computePool2DInfo(
    input!.shape as [number, number, number, number],
    attrs.filterSize as [number, number] | number,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as 'valid' | 'same' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1 || input!.dtype !== 'float32') return original(tf.MaxPoolGrad)(args);
  const { batchSize: nB, inHeight: H, inWidth: W, inChannels: C, outHeight: oH, outWidth: oW } = info;
  const fH = info.filterHeight, fW = info.filterWidth, sH = info.strideHeight, sW = info.strideWidth;
  const top = info.padInfo.top, left = info.padInfo.left;
  const out = backend.makeOutput(input!.shape, 'float32');
  const x = backend.typedArrayFromHeap(input!);
  const g = backend.typedArrayFromHeap(dy!);
  const dx = backend.typedArrayFromHeap(out);
  if (isDisjoint2x2(info)) {
    maxPoolGrad2x2(x, g, dx, nB, oH, oW, C);
    return out;
  }
  dx.fill(0);
  for (let b = 0; b < nB; b++) {
    for (let oh = 0; oh < oH; oh++) {
      const h0 = Math.max(0, oh * sH - top);
      const h1 = Math.min(H, oh * sH - top + fH);
      for (let ow = 0; ow < oW; ow++) {
        const w0 = Math.max(0, ow * sW - left);
        const w1 = Math.min(W, ow * sW - left + fW);
        if (h0 >= h1 || w0 >= w1) continue; // a window entirely in the padding
        const first = ((b * H + h0) * W + w0) * C;
        const gBase = ((b * oH + oh) * oW + ow) * C;
        for (let c = 0; c < C; c++) {
          // Row-major scan, strict '>': the first maximal element wins, as on the cpu backend.
          let at = first + c;
          let best = x[at]!;
          for (let i = h0; i < h1; i++) {
            for (let j = i === h0 ? w0 + 1 : w0; j < w1; j++) {
              const k = ((b * H + i) * W + j) * C + c;
              const v = x[k]!;
              if (v > best) { best = v; at = k; }
            }
          }
          dx[at] += g[gBase + c]!;
        }
      }
    }
  }
  return out;
}

function identity(args: Args): tf.TensorInfo {
  const { inputs: { x }, backend } = args;
  backend.incRef(x!.dataId);
  return { dataId: x!.dataId, shape: x!.shape, dtype: x!.dtype };
}

/**
 * A cast to the dtype the tensor has (ReLU's gradient casts step(x), already float32, on every
 * call: six copies of activations per training step) shares the buffer, as identity does.
 */
function cast(args: Args): tf.TensorInfo {
  const { inputs: { x }, attrs } = args;
  return attrs.dtype === x!.dtype ? identity(args) : original(tf.Cast)(args);
}

let registered = false;

/** Replace BatchMatMul, Sum, MaxPoolGrad, Identity and Cast on 'wasm'; call before the backend initialises. Idempotent. */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  const replacements: Array<[string, WasmKernelFunc]> = [
    [tf.BatchMatMul, batchMatMul],
    [tf.Sum, sum],
    [tf.MaxPoolGrad, maxPoolGrad],
    [tf.Identity, identity],
    [tf.Cast, cast],
  ];
  for (const name of [tf.Transpose, ...replacements.map(([n]) => n)]) wasmKernel(name); // fail early if absent
  originals = replaceWasmKernels(replacements);
  originals.set(tf.Transpose, wasmKernel(tf.Transpose));
  registered = true;
}
