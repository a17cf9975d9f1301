import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../engine/util/errors.ts';

/**
 * A plain float64 forward and backward pass of a tfjs Sequential network, in JavaScript
 * (`Float64Array`, no backend involved): slow (tens of milliseconds a digit for the paper's
 * network) but exact enough to judge float32. It supports what the paper's 9-layer network
 * and the test fixtures are made of: Conv2D (channels last, 'valid', stride 1, ReLU or
 * linear), MaxPooling2D ('valid', pool = stride), Flatten and Dense (ReLU or linear). Any
 * other layer is refused by name rather than computed wrongly.
 *
 * The weights are read once from the model (float32 values, exact in float64); every sum,
 * product and activation afterwards is float64. The backward pass computes J^T g for a
 * logit-space vector g: the input gradient of any loss whose gradient with respect to the
 * logits is g.
 */

type Activation = 'relu' | 'linear';

type Layer =
  | { kind: 'conv'; name: string; kh: number; kw: number; cin: number; cout: number; kernel: Float64Array; bias: Float64Array; activation: Activation }
  | { kind: 'pool'; name: string; ph: number; pw: number }
  | { kind: 'flatten'; name: string }
  | { kind: 'dense'; name: string; nin: number; nout: number; kernel: Float64Array; bias: Float64Array; activation: Activation };

export interface Float64Network {
  /** Per-sample input shape [h, w, c]. */
  inputShape: [number, number, number];
  layers: Layer[];
  numClasses: number;
}

/** Activations of one sample, kept for the backward pass. */
interface Trace {
  /** Input of each layer, with its [h, w, c] shape (c = width for dense). */
  inputs: Array<{ data: Float64Array; shape: [number, number, number] }>;
  /** The decisions taken: each ReLU's open units, each max-pool's chosen inputs (the backward pass follows them). */
  pattern: ActivationPattern;
}

export interface Float64Forward {
  logits: Float64Array;
  trace: Trace;
}

/**
 * Which linear piece of the network a forward pass is on: per layer, the ReLU's open units
 * (conv and dense layers with ReLU) or the max-pool's chosen positions (index into the layer's
 * input), null for the others. The network is piecewise linear, and its gradient jumps where a
 * ReLU's input or a max-pool's two largest inputs cross: a float32 forward pass and a float64
 * one can land on neighbouring pieces when a value is within rounding of such a boundary.
 */
export type ActivationPattern = Array<Uint8Array | Int32Array | null>;

function activationOf(layer: tf.layers.Layer, a: unknown): Activation {
  if (a === 'relu' || a === 'linear') return a;
  throw new UserError(`float64 network: layer '${layer.name}' has activation '${String(a)}'`, 'only ReLU and linear activations are supported');
}

function weightsOf(layer: tf.layers.Layer): Float64Array[] {
  return layer.getWeights().map((w) => Float64Array.from(w.dataSync()));
}

/** The float64 copy of `model` (a tfjs Sequential of the supported layers). */
export function float64Network(model: tf.LayersModel): Float64Network {
  const shape = model.inputs[0].shape.slice(1) as number[];
  if (shape.length !== 3 || shape.some((d) => d === null)) throw new UserError(`float64 network: input shape ${JSON.stringify(model.inputs[0].shape)} is not [n, h, w, c]`, 'build the model with a fixed image inputShape');
  let [h, w, c] = shape as [number, number, number];
  const layers: Layer[] = [];
  let flat = false;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Record<string, unknown>;
    if (cls === 'Conv2D') {
      const [kh, kw] = cfg.kernelSize as number[];
      const ok = cfg.padding === 'valid' && (cfg.strides as number[]).every((s) => s === 1)
        && (cfg.dilationRate === undefined || (cfg.dilationRate as number[]).every((d) => d === 1))
        && (cfg.dataFormat ?? 'channelsLast') === 'channelsLast';
      if (!ok || flat) throw new UserError(`float64 network: Conv2D '${layer.name}' is not a 'valid', stride-1, channels-last convolution on an image`, 'use the supported layer settings');
      const [kernel, bias] = weightsOf(layer);
      const cout = cfg.filters as number;
      layers.push({ kind: 'conv', name: layer.name, kh, kw, cin: c, cout, kernel, bias: bias ?? new Float64Array(cout), activation: activationOf(layer, cfg.activation) });
      h = h - kh + 1; w = w - kw + 1; c = cout;
    } else if (cls === 'MaxPooling2D') {
      const [ph, pw] = cfg.poolSize as number[];
      const strides = (cfg.strides as number[] | null) ?? [ph, pw];
      if (cfg.padding !== 'valid' || strides[0] !== ph || strides[1] !== pw) throw new UserError(`float64 network: MaxPooling2D '${layer.name}' is not a 'valid' pool with stride = pool size`, 'use the supported layer settings');
      layers.push({ kind: 'pool', name: layer.name, ph, pw });
      h = Math.floor(h / ph); w = Math.floor(w / pw);
    } else if (cls === 'Flatten') {
      layers.push({ kind: 'flatten', name: layer.name });
      c = h * w * c; h = 1; w = 1; flat = true;
    } else if (cls === 'Dense') {
      if (!flat) throw new UserError(`float64 network: Dense '${layer.name}' before a Flatten`, 'flatten the image first');
      const [kernel, bias] = weightsOf(layer);
      const nout = cfg.units as number;
      layers.push({ kind: 'dense', name: layer.name, nin: c, nout, kernel, bias: bias ?? new Float64Array(nout), activation: activationOf(layer, cfg.activation) });
      c = nout;
    } else {
      throw new UserError(`float64 network: layer '${layer.name}' (${cls}) is not supported`, 'supported: Conv2D, MaxPooling2D, Flatten, Dense');
    }
  }
  if (!flat) throw new UserError('float64 network: the model never flattens to logits', 'end the model with Flatten and Dense layers');
  return { inputShape: shape as [number, number, number], layers, numClasses: c };
}

function conv(l: Extract<Layer, { kind: 'conv' }>, x: Float64Array, [h, w]: [number, number, number]): Float64Array {
  const oh = h - l.kh + 1;
  const ow = w - l.kw + 1;
  const out = new Float64Array(oh * ow * l.cout);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const o = (oy * ow + ox) * l.cout;
      for (let k = 0; k < l.cout; k++) out[o + k] = l.bias[k];
      for (let ky = 0; ky < l.kh; ky++) {
        for (let kx = 0; kx < l.kw; kx++) {
          const xi = ((oy + ky) * w + (ox + kx)) * l.cin;
          const ki = (ky * l.kw + kx) * l.cin * l.cout;
          for (let ci = 0; ci < l.cin; ci++) {
            const v = x[xi + ci];
            if (v === 0) continue;
            const kr = ki + ci * l.cout;
            for (let k = 0; k < l.cout; k++) out[o + k] += v * l.kernel[kr + k];
          }
        }
      }
    }
  }
  return out;
}

function convBackward(l: Extract<Layer, { kind: 'conv' }>, dOut: Float64Array, [h, w]: [number, number, number]): Float64Array {
  const oh = h - l.kh + 1;
  const ow = w - l.kw + 1;
  const dx = new Float64Array(h * w * l.cin);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const o = (oy * ow + ox) * l.cout;
      let any = false;
      for (let k = 0; k < l.cout; k++) if (dOut[o + k] !== 0) { any = true; break; }
      if (!any) continue;
      for (let ky = 0; ky < l.kh; ky++) {
        for (let kx = 0; kx < l.kw; kx++) {
          const xi = ((oy + ky) * w + (ox + kx)) * l.cin;
          const ki = (ky * l.kw + kx) * l.cin * l.cout;
          for (let ci = 0; ci < l.cin; ci++) {
            const kr = ki + ci * l.cout;
            let s = 0;
            for (let k = 0; k < l.cout; k++) s += dOut[o + k] * l.kernel[kr + k];
            dx[xi + ci] += s;
          }
        }
      }
    }
  }
  return dx;
}

/** Per output of a max-pool, the input position holding the maximum (the first, row-major in its window, on ties). */
function poolArgmax(l: Extract<Layer, { kind: 'pool' }>, x: Float64Array, [h, w, c]: [number, number, number]): Int32Array {
  const oh = Math.floor(h / l.ph);
  const ow = Math.floor(w / l.pw);
  const out = new Int32Array(oh * ow * c);
  for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) for (let k = 0; k < c; k++) {
    let best = -1;
    for (let ky = 0; ky < l.ph; ky++) for (let kx = 0; kx < l.pw; kx++) {
      const xi = ((oy * l.ph + ky) * w + (ox * l.pw + kx)) * c + k;
      if (best < 0 || x[xi] > x[best]) best = xi;
    }
    out[(oy * ow + ox) * c + k] = best;
  }
  return out;
}

function dense(l: Extract<Layer, { kind: 'dense' }>, x: Float64Array): Float64Array {
  const out = Float64Array.from(l.bias);
  for (let i = 0; i < l.nin; i++) {
    const v = x[i];
    if (v === 0) continue;
    const r = i * l.nout;
    for (let k = 0; k < l.nout; k++) out[k] += v * l.kernel[r + k];
  }
  return out;
}

function denseBackward(l: Extract<Layer, { kind: 'dense' }>, dOut: Float64Array): Float64Array {
  const dx = new Float64Array(l.nin);
  for (let i = 0; i < l.nin; i++) {
    const r = i * l.nout;
    let s = 0;
    for (let k = 0; k < l.nout; k++) s += dOut[k] * l.kernel[r + k];
    dx[i] = s;
  }
  return dx;
}

/**
 * The logits of one sample (its pixels, channels last), the trace for `inputGradient64`, and
 * the pattern it followed. With `follow`, the ReLUs and max-pools take that pattern's
 * decisions instead of their own (values stay float64): the float64 arithmetic of the very
 * linear piece another forward pass chose.
 */
export function forward64(net: Float64Network, image: ArrayLike<number>, follow?: ActivationPattern): Float64Forward & { pattern: ActivationPattern } {
  const [h0, w0, c0] = net.inputShape;
  if (image.length !== h0 * w0 * c0) throw new RangeError(`image has ${image.length} values; the network takes ${h0 * w0 * c0}`);
  let x: Float64Array = Float64Array.from(image);
  let shape: [number, number, number] = [h0, w0, c0];
  const pattern: ActivationPattern = [];
  const trace: Trace = { inputs: [], pattern };
  net.layers.forEach((l, li) => {
    trace.inputs.push({ data: x, shape });
    if (l.kind === 'conv' || l.kind === 'dense') {
      const pre = l.kind === 'conv' ? conv(l, x, shape) : dense(l, x);
      if (l.activation === 'relu') {
        const open = (follow?.[li] as Uint8Array | undefined) ?? Uint8Array.from(pre, (v) => (v > 0 ? 1 : 0));
        if (open.length !== pre.length) throw new RangeError(`pattern of layer ${l.name} has ${open.length} units, not ${pre.length}`);
        pattern.push(open);
        x = Float64Array.from(pre, (v, k) => (open[k] ? v : 0));
      } else {
        pattern.push(null);
        x = pre;
      }
      shape = l.kind === 'conv' ? [shape[0] - l.kh + 1, shape[1] - l.kw + 1, l.cout] : [1, 1, l.nout];
    } else {
      if (l.kind === 'pool') {
        const chosen = (follow?.[li] as Int32Array | undefined) ?? poolArgmax(l, x, shape);
        pattern.push(chosen);
        x = Float64Array.from(chosen, (i) => x[i]);
        shape = [Math.floor(shape[0] / l.ph), Math.floor(shape[1] / l.pw), shape[2]];
      } else {
        pattern.push(null);
        shape = [1, 1, shape[0] * shape[1] * shape[2]];
      }
    }
  });
  return { logits: x, trace, pattern };
}

/** J^T g: the gradient with respect to the input of any loss whose logit gradient is `g`. */
export function inputGradient64(net: Float64Network, fwd: Float64Forward, g: ArrayLike<number>): Float64Array {
  if (g.length !== net.numClasses) throw new RangeError(`logit gradient has ${g.length} values for ${net.numClasses} classes`);
  let d: Float64Array = Float64Array.from(g);
  for (let i = net.layers.length - 1; i >= 0; i--) {
    const l = net.layers[i];
    const input = fwd.trace.inputs[i];
    if (l.kind === 'conv' || l.kind === 'dense') {
      if (l.activation === 'relu') {
        // Through the open units only (ReLU's derivative is 0 at 0, as in tfjs: step(x) = x > 0).
        const open = fwd.trace.pattern[i] as Uint8Array;
        d = d.map((v, k) => (open[k] ? v : 0));
      }
      d = l.kind === 'conv' ? convBackward(l, d, input.shape) : denseBackward(l, d);
    } else if (l.kind === 'pool') {
      const chosen = fwd.trace.pattern[i] as Int32Array;
      const dx = new Float64Array(input.data.length);
      for (let o = 0; o < chosen.length; o++) dx[chosen[o]] += d[o];
      d = dx;
    }
    // Flatten: channels-last order is the flat order, nothing to do.
  }
  return d;
}

/**
 * The float64 gradient of the cross-entropy with respect to the logits, p - onehot(y), with
 * p = softmax(scale * logits) computed as exp(u - max) / sum: the plain formula, exact to
 * about 1e-16 relative, so its own y component cancels once the other classes' mass is below
 * about 1e-16 (callers judge only where it is far above that). The chain rule's factor
 * `scale` is left out: it is positive and FGSM uses only the sign.
 */
export function crossEntropyLogitGradient64(logits: ArrayLike<number>, y: number, scale = 1): Float64Array {
  let max = -Infinity;
  for (let j = 0; j < logits.length; j++) max = Math.max(max, scale * logits[j]);
  const p = Float64Array.from(logits, (z) => Math.exp(scale * z - max));
  const sum = p.reduce((a, b) => a + b, 0);
  for (let j = 0; j < p.length; j++) p[j] /= sum;
  p[y] -= 1;
  return p;
}

/**
 * The linear piece the model's own (float32, backend) forward pass takes on each image of a
 * batch [n, h, w, c]: layer by layer through tfjs, each ReLU's open units (its output > 0) and
 * each max-pool's chosen positions (the first maximum of its window, as tfjs's gradient takes).
 * `forward64(net, image, pattern)` then computes that piece in float64.
 */
export function float32Patterns(model: tf.LayersModel, net: Float64Network, images: Float32Array): ActivationPattern[] {
  const [h, w, c] = net.inputShape;
  const n = images.length / (h * w * c);
  const perLayer: Array<Float32Array | null> = [];
  const inputs: Float32Array[] = [];
  tf.tidy(() => {
    let x: tf.Tensor = tf.tensor(images, [n, h, w, c]);
    for (const layer of model.layers) {
      inputs.push(x.dataSync() as Float32Array);
      x = layer.apply(x) as tf.Tensor;
      perLayer.push(x.dataSync() as Float32Array);
    }
  });
  return Array.from({ length: n }, (_, s) => net.layers.map((l, li) => {
    if ((l.kind === 'conv' || l.kind === 'dense') && l.activation === 'relu') {
      const out = perLayer[li]!;
      const per = out.length / n;
      return Uint8Array.from(out.subarray(s * per, (s + 1) * per), (v) => (v > 0 ? 1 : 0));
    }
    if (l.kind === 'pool') {
      const input = inputs[li];
      const per = input.length / n;
      const shape = shapeBefore(net, li);
      return poolArgmax(l, Float64Array.from(input.subarray(s * per, (s + 1) * per)), shape);
    }
    return null;
  }));
}

/** The [h, w, c] shape of the input of layer `index`. */
function shapeBefore(net: Float64Network, index: number): [number, number, number] {
  let shape: [number, number, number] = [...net.inputShape];
  for (const l of net.layers.slice(0, index)) {
    if (l.kind === 'conv') shape = [shape[0] - l.kh + 1, shape[1] - l.kw + 1, l.cout];
    else if (l.kind === 'pool') shape = [Math.floor(shape[0] / l.ph), Math.floor(shape[1] / l.pw), shape[2]];
    else if (l.kind === 'flatten') shape = [1, 1, shape[0] * shape[1] * shape[2]];
    else shape = [1, 1, l.nout];
  }
  return shape;
}

/** Whether two patterns take the same decisions everywhere (the same linear piece). */
export function samePiece(a: ActivationPattern, b: ActivationPattern): boolean {
  return a.every((x, i) => {
    const y = b[i];
    if (x === null || y === null) return x === y;
    return x.length === y.length && x.every((v, k) => v === y[k]);
  });
}
