import { PNG } from 'pngjs';

/**
 * Just enough of a 2D canvas for what Observable Plot draws on one when it renders under
 * jsdom, which has no canvas of its own (getContext returns null, and Plot's continuous
 * legends then throw "Cannot set properties of null (setting 'fillStyle')"):
 *
 * - a color ramp legend fills a 256×1 canvas pixel by pixel (fillStyle + fillRect);
 * - the raster mark fills image data (createImageData + putImageData).
 *
 * Both end in toDataURL(), which becomes an `<image>` in the figure: here a PNG of the same
 * pixels a browser's canvas would hold, so the figure looks as Plot draws it in a browser.
 * Other drawing calls are absent (a TypeError names the method) rather than drawing nothing.
 */

type ParseColor = (spec: string) => { rgb(): { r: number; g: number; b: number; opacity: number } } | null;
let parseColor: ParseColor | undefined;

interface ImageDataLike { width: number; height: number; data: Uint8ClampedArray }
interface CanvasLike { width: number; height: number }

class Context2d {
  fillStyle: string = '#000';
  globalAlpha = 1;
  private pixels: Uint8ClampedArray;
  private w: number;
  private h: number;

  constructor(readonly canvas: CanvasLike) {
    this.w = Math.max(0, Math.floor(canvas.width));
    this.h = Math.max(0, Math.floor(canvas.height));
    this.pixels = new Uint8ClampedArray(this.w * this.h * 4);
  }

  /** The pixels, resized (and cleared) when the canvas was, as a browser does. */
  bitmap(): { width: number; height: number; data: Uint8ClampedArray } {
    const w = Math.max(0, Math.floor(this.canvas.width));
    const h = Math.max(0, Math.floor(this.canvas.height));
    if (w !== this.w || h !== this.h) {
      this.w = w;
      this.h = h;
      this.pixels = new Uint8ClampedArray(w * h * 4);
    }
    return { width: this.w, height: this.h, data: this.pixels };
  }

  fillRect(x: number, y: number, width: number, height: number): void {
    const c = parseColor!(String(this.fillStyle))?.rgb();
    if (!c) return; // an invalid fillStyle is ignored by browsers too
    const { width: w, height: h, data } = this.bitmap();
    const a = Math.max(0, Math.min(1, c.opacity * this.globalAlpha));
    const x0 = Math.max(0, Math.round(x)), x1 = Math.min(w, Math.round(x + width));
    const y0 = Math.max(0, Math.round(y)), y1 = Math.min(h, Math.round(y + height));
    for (let py = y0; py < y1; py++) {
      for (let px = x0; px < x1; px++) {
        const i = (py * w + px) * 4;
        // Source-over, in 8-bit channels like a canvas.
        const da = data[i + 3]! / 255;
        const oa = a + da * (1 - a);
        const mix = (s: number, d: number) => (oa === 0 ? 0 : (s * a + d * da * (1 - a)) / oa);
        data[i] = mix(c.r, data[i]!);
        data[i + 1] = mix(c.g, data[i + 1]!);
        data[i + 2] = mix(c.b, data[i + 2]!);
        data[i + 3] = oa * 255;
      }
    }
  }

  createImageData(width: number, height: number): ImageDataLike {
    return { width, height, data: new Uint8ClampedArray(width * height * 4) };
  }

  putImageData(image: ImageDataLike, dx: number, dy: number): void {
    const { width: w, height: h, data } = this.bitmap();
    for (let y = 0; y < image.height; y++) {
      const ty = y + Math.round(dy);
      if (ty < 0 || ty >= h) continue;
      for (let x = 0; x < image.width; x++) {
        const tx = x + Math.round(dx);
        if (tx < 0 || tx >= w) continue;
        const s = (y * image.width + x) * 4, t = (ty * w + tx) * 4;
        for (let k = 0; k < 4; k++) data[t + k] = image.data[s + k]!;
      }
    }
  }

  getImageData(sx: number, sy: number, width: number, height: number): ImageDataLike {
    const out = this.createImageData(width, height);
    const { width: w, height: h, data } = this.bitmap();
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const px = x + sx, py = y + sy;
        if (px < 0 || py < 0 || px >= w || py >= h) continue;
        for (let k = 0; k < 4; k++) out.data[(y * width + x) * 4 + k] = data[(py * w + px) * 4 + k]!;
      }
    }
    return out;
  }

  toPng(): string {
    const { width, height, data } = this.bitmap();
    const png = new PNG({ width: Math.max(1, width), height: Math.max(1, height) });
    png.data.set(data.subarray(0, png.data.length));
    return `data:image/png;base64,${PNG.sync.write(png).toString('base64')}`;
  }
}

const contexts = new WeakMap<object, Context2d>();

/**
 * Give `window`'s canvas elements (a jsdom window) a 2D context and toDataURL. Loads d3's
 * color parser (Plot's own dependency), so that fillStyle accepts every CSS color Plot's
 * interpolators produce.
 */
export async function addCanvasTo(window: { HTMLCanvasElement: { prototype: object } }): Promise<void> {
  if (!parseColor) {
    const d3 = 'd3'; // a dependency of @observablehq/plot; no type declarations are installed
    parseColor = ((await import(d3)) as { color: ParseColor }).color;
  }
  const proto = window.HTMLCanvasElement.prototype as Record<string, unknown>;
  proto.getContext = function getContext(this: CanvasLike & object, kind: string) {
    if (kind !== '2d') return null;
    let ctx = contexts.get(this);
    if (!ctx) contexts.set(this, (ctx = new Context2d(this)));
    return ctx;
  };
  proto.toDataURL = function toDataURL(this: CanvasLike & object, type?: string) {
    if (type !== undefined && type !== 'image/png') throw new Error(`canvas.toDataURL('${type}') is not supported when rendering figures on the server (only PNG)`);
    return (contexts.get(this) ?? new Context2d(this)).toPng();
  };
}
