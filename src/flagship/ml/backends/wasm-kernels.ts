import * as tf from '@tensorflow/tfjs';
import { replaceWasmKernels, wasmKernel, type WasmBackendLike, type WasmKernelFunc } from './wasm-registry.ts';

/**
 * Convolution gradients for the wasm backend, expressed through its forward `Conv2D`
 * kernel so that they run on XNNPACK.
 *
 * tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` at all and a naive scalar loop for
 * `Conv2DBackpropInput`; training a CNN on it is either impossible or very slow. Both are
 * correlations, so both can be rewritten as a forward convolution of rearranged tensors:
 *
 *  - input gradient: dx = conv(dilate(dy, stride), flip(W) with in/out swapped), stride 1,
 *    padding (filter - 1 - pad) on each side: the classic "transposed convolution". For 1-2
 *    input channels (a first layer) a GEMM plus col2im instead, see backpropInputCol2Im.
 *  - filter gradient: dW = conv(x viewed as [1, H, W·C, N], dy viewed as [outH, outW, N, outC])
 *    with dilation [strideH, strideW·C]: the batch becomes the reduction channel and the
 *    result is already in dW's layout, see backpropFilterNHWC.
 *
 * Negative effective paddings (explicit pads larger than the filter) are handled by cropping.
 * Data rearrangements use the backend's own kernels (Transpose, Slice) where they are large,
 * and plain loops over the wasm heap where they are small (the flipped filter).
 *
 * The gradient kernels receive no dilation attribute: tfjs-core refuses gradients of dilated
 * convolutions before any backend is reached, so dilation is always 1 here.
 */

type Pad4 = [[number, number], [number, number], [number, number], [number, number]];

/** Forward Conv2D on the wasm backend with explicit non-negative padding (NHWC). */
function conv(backend: WasmBackendLike, x: tf.TensorInfo, filter: tf.TensorInfo, pad: Pad4, dilations: [number, number]): tf.TensorInfo {
  return wasmKernel(tf.Conv2D)({
    inputs: { x, filter },
    backend,
    attrs: { strides: [1, 1], pad, dilations, dataFormat: 'NHWC', dimRoundingMode: undefined },
  });
}

function transpose(backend: WasmBackendLike, x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
  return wasmKernel(tf.Transpose)({ inputs: { x }, backend, attrs: { perm } });
}

function slice(backend: WasmBackendLike, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  return wasmKernel(tf.Slice)({ inputs: { x }, backend, attrs: { begin, size } });
}

/**
 * An NHWC convolution's sizes, strides, dilations and forward padding (top, bottom, left,
 * right): what every convolution kernel here and in native-kernels.ts starts from.
 */
export interface ConvGeometry {
  batch: number;
  inH: number; inW: number; inC: number;
  outH: number; outW: number; outC: number;
  fH: number; fW: number;
  sH: number; sW: number;
  dH: number; dW: number;
  top: number; bottom: number; left: number; right: number;
}

export function geometry(
  xShapeNHWC: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  pad: unknown,
  dimRoundingMode: unknown,
  dilations: number | [number, number] = 1,
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    xShapeNHWC, filterShape, strides, dilations,
    pad as 'valid' | 'same' | number,
    dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false, 'channelsLast',
  );
  return {
    batch: info.batchSize, inH: info.inHeight, inW: info.inWidth, inC: info.inChannels,
    outH: info.outHeight, outW: info.outWidth, outC: info.outChannels,
    fH: info.filterHeight, fW: info.filterWidth, sH: info.strideHeight, sW: info.strideWidth,
    dH: info.dilationHeight, dW: info.dilationWidth,
    top: info.padInfo.top, bottom: info.padInfo.bottom, left: info.padInfo.left, right: info.padInfo.right,
  };
}

const toNHWC = (s: number[]): [number, number, number, number] => [s[0]!, s[2]!, s[3]!, s[1]!];
const isNCHW = (dataFormat: unknown) => dataFormat === 'NCHW';

/**
 * Run `conv` with paddings that may be negative: pad by max(0, p), then crop the rows and
 * columns a negative padding would have removed (a crop of the output is equivalent, since
 * the convolution is stride 1 here). Returns a tensor of exactly [n, wantH, wantW, c].
 */
function convAnyPad(
  backend: WasmBackendLike, x: tf.TensorInfo, filter: tf.TensorInfo,
  top: number, bottom: number, left: number, right: number,
  dilations: [number, number], wantH: number, wantW: number,
): tf.TensorInfo {
  const pad: Pad4 = [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]];
  const out = conv(backend, x, filter, pad, dilations);
  const beginH = Math.max(0, -top);
  const beginW = Math.max(0, -left);
  if (beginH === 0 && beginW === 0 && out.shape[1] === wantH && out.shape[2] === wantW) return out;
  const cropped = slice(backend, out, [0, beginH, beginW, 0], [out.shape[0]!, wantH, wantW, out.shape[3]!]);
  backend.disposeData(out.dataId);
  return cropped;
}

/**
 * dx for layers with very few input channels (the first layer of an image network): the
 * transposed convolution would have 1-2 output channels, which XNNPACK tiles poorly. Instead
 * Z = dy[K, outC] · W^T[outC, fH·fW·inC] on XNNPACK's GEMM (K = batch·outH·outW), then each
 * row of Z is scattered back onto the input positions its window covered (col2im), which is
 * correct for every stride and padding.
 */
function backpropInputCol2Im(backend: WasmBackendLike, dy: tf.TensorInfo, filter: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  const taps = g.fH * g.fW * g.inC;
  const k = g.batch * g.outH * g.outW;
  const wT = transpose(backend, { dataId: filter.dataId, shape: [taps, g.outC], dtype: 'float32' }, [1, 0]);
  const z = wasmKernel(tf.BatchMatMul)({
    inputs: { a: { dataId: dy.dataId, shape: [1, k, g.outC], dtype: 'float32' }, b: { dataId: wT.dataId, shape: [1, g.outC, taps], dtype: 'float32' } },
    backend,
    attrs: { transposeA: false, transposeB: false },
  });
  backend.disposeData(wT.dataId);
  const dx = backend.makeOutput([g.batch, g.inH, g.inW, g.inC], 'float32');
  const zv = backend.typedArrayFromHeap(z);
  const out = backend.typedArrayFromHeap(dx);
  out.fill(0);
  let row = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < g.outH; oh++) {
      for (let ow = 0; ow < g.outW; ow++, row += taps) {
        let t = row;
        for (let fh = 0; fh < g.fH; fh++) {
          const i = oh * g.sH - g.top + fh;
          if (i < 0 || i >= g.inH) { t += g.fW * g.inC; continue; }
          for (let fw = 0; fw < g.fW; fw++) {
            const j = ow * g.sW - g.left + fw;
            if (j < 0 || j >= g.inW) { t += g.inC; continue; }
            const base = ((n * g.inH + i) * g.inW + j) * g.inC;
            for (let c = 0; c < g.inC; c++) out[base + c] += zv[t++]!;
          }
        }
      }
    }
  }
  backend.disposeData(z.dataId);
  return dx;
}

/** dx of a convolution, NHWC. */
function backpropInputNHWC(backend: WasmBackendLike, dy: tf.TensorInfo, filter: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  if (g.batch === 0) return backend.makeOutput([0, g.inH, g.inW, g.inC], 'float32');
  if (g.inC <= 2) return backpropInputCol2Im(backend, dy, filter, g);
  // Flipped filter with input and output channels swapped: [fH, fW, outC, inC]. Small: loops.
  const flipped = backend.makeOutput([g.fH, g.fW, g.outC, g.inC], 'float32');
  {
    const w = backend.typedArrayFromHeap(filter);
    const f = backend.typedArrayFromHeap(flipped);
    for (let h = 0; h < g.fH; h++) {
      for (let v = 0; v < g.fW; v++) {
        const src = ((g.fH - 1 - h) * g.fW + (g.fW - 1 - v)) * g.inC * g.outC;
        const dst = (h * g.fW + v) * g.outC * g.inC;
        for (let ci = 0; ci < g.inC; ci++) {
          for (let co = 0; co < g.outC; co++) f[dst + co * g.inC + ci] = w[src + ci * g.outC + co]!;
        }
      }
    }
  }
  // Dilate dy by the stride (zeros between rows/columns); a no-op for stride 1.
  let dyD = dy;
  const dH = (g.outH - 1) * g.sH + 1;
  const dW = (g.outW - 1) * g.sW + 1;
  if (g.sH !== 1 || g.sW !== 1) {
    dyD = backend.makeOutput([g.batch, dH, dW, g.outC], 'float32');
    const src = backend.typedArrayFromHeap(dy);
    const dst = backend.typedArrayFromHeap(dyD);
    dst.fill(0);
    for (let n = 0; n < g.batch; n++) {
      for (let i = 0; i < g.outH; i++) {
        for (let j = 0; j < g.outW; j++) {
          const s = ((n * g.outH + i) * g.outW + j) * g.outC;
          const d = ((n * dH + i * g.sH) * dW + j * g.sW) * g.outC;
          dst.set(src.subarray(s, s + g.outC), d);
        }
      }
    }
  }
  const top = g.fH - 1 - g.top;
  const left = g.fW - 1 - g.left;
  const bottom = g.inH + g.fH - 1 - dH - top;
  const right = g.inW + g.fW - 1 - dW - left;
  const dx = convAnyPad(backend, dyD, flipped, top, bottom, left, right, [1, 1], g.inH, g.inW);
  backend.disposeData(flipped.dataId);
  if (dyD !== dy) backend.disposeData(dyD.dataId);
  return dx;
}

/**
 * dW of a convolution, NHWC, as one forward convolution:
 *   x viewed as [1, H, W·inC, batch] (a 2-D transpose of [batch, H·W·inC], cheap),
 *   filter dy viewed as [outH, outW, batch, outC] (the batch is the reduction channel),
 *   dilation [strideH, strideW·inC] so that one filter step moves one input pixel,
 * gives [1, fH, fW·inC, outC], which is dW's layout [fH, fW, inC, outC] already.
 */
function backpropFilterNHWC(backend: WasmBackendLike, x: tf.TensorInfo, dy: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  if (g.batch === 0) {
    // XNNPACK refuses a convolution with 0 channels (here: images) and leaves its output unwritten.
    const dw = backend.makeOutput([g.fH, g.fW, g.inC, g.outC], 'float32');
    backend.typedArrayFromHeap(dw).fill(0);
    return dw;
  }
  const x2: tf.TensorInfo = { dataId: x.dataId, shape: [g.batch, g.inH * g.inW * g.inC], dtype: 'float32' };
  const xT = transpose(backend, x2, [1, 0]);
  const xView: tf.TensorInfo = { dataId: xT.dataId, shape: [1, g.inH, g.inW * g.inC, g.batch], dtype: 'float32' };
  const dyT = transpose(backend, dy, [1, 2, 0, 3]);
  const bottom = g.fH + (g.outH - 1) * g.sH - g.inH - g.top;
  const right = (g.fW + (g.outW - 1) * g.sW - g.inW - g.left) * g.inC;
  const r = convAnyPad(backend, xView, dyT, g.top, bottom, g.left * g.inC, right, [g.sH, g.sW * g.inC], g.fH, g.fW * g.inC);
  backend.disposeData(xT.dataId);
  backend.disposeData(dyT.dataId);
  r.shape = [g.fH, g.fW, g.inC, g.outC];
  return r;
}

interface BackpropInputAttrs {
  inputShape: number[];
  strides: number | [number, number];
  pad: unknown;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: unknown;
}

interface BackpropFilterAttrs {
  filterShape: [number, number, number, number];
  strides: number | [number, number];
  pad: unknown;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: unknown;
}

export function conv2DBackpropInputWasm(args: { inputs: { dy: tf.TensorInfo; filter: tf.TensorInfo }; backend: WasmBackendLike; attrs: BackpropInputAttrs }): tf.TensorInfo {
  const { inputs: { dy, filter }, backend, attrs } = args;
  const nchw = isNCHW(attrs.dataFormat);
  const xShape = nchw ? toNHWC(attrs.inputShape) : (attrs.inputShape as [number, number, number, number]);
  const g = geometry(xShape, filter.shape as [number, number, number, number], attrs.strides, attrs.pad, attrs.dimRoundingMode);
  if (!nchw) return backpropInputNHWC(backend, dy, filter, g);
  const dyNHWC = transpose(backend, dy, [0, 2, 3, 1]);
  const dx = backpropInputNHWC(backend, dyNHWC, filter, g);
  backend.disposeData(dyNHWC.dataId);
  const out = transpose(backend, dx, [0, 3, 1, 2]);
  backend.disposeData(dx.dataId);
  return out;
}

export function conv2DBackpropFilterWasm(args: { inputs: { x: tf.TensorInfo; dy: tf.TensorInfo }; backend: WasmBackendLike; attrs: BackpropFilterAttrs }): tf.TensorInfo {
  const { inputs: { x, dy }, backend, attrs } = args;
  if (!isNCHW(attrs.dataFormat)) {
    const g = geometry(x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, attrs.pad, attrs.dimRoundingMode);
    return backpropFilterNHWC(backend, x, dy, g);
  }
  const xN = transpose(backend, x, [0, 2, 3, 1]);
  const dyN = transpose(backend, dy, [0, 2, 3, 1]);
  const g = geometry(xN.shape as [number, number, number, number], attrs.filterShape, attrs.strides, attrs.pad, attrs.dimRoundingMode);
  const dw = backpropFilterNHWC(backend, xN, dyN, g);
  backend.disposeData(xN.dataId);
  backend.disposeData(dyN.dataId);
  return dw;
}

let registered = false;

/**
 * Register the two gradient kernels for 'wasm', replacing any registered before. Call after
 * importing @tensorflow/tfjs-backend-wasm (which registers its own kernels on import) and
 * before the backend is first used. Idempotent.
 */
export function registerWasmConvGradients(): void {
  if (registered) return;
  replaceWasmKernels([
    [tf.Conv2DBackpropInput, conv2DBackpropInputWasm as unknown as WasmKernelFunc],
    [tf.Conv2DBackpropFilter, conv2DBackpropFilterWasm as unknown as WasmKernelFunc],
  ]);
  registered = true;
}
