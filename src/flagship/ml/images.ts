import { PNG } from 'pngjs';

/**
 * Digits and perturbations as PNG images for galleries: plain pixels in, PNG bytes out.
 * A digit is `width * height` grey values in [0, 1] (MNIST: 28 x 28, ink = 1); each source
 * pixel becomes a `scale` x `scale` block so that small images stay legible when embedded.
 */
export interface ImageOptions {
  /** Source image width and height (default 28 x 28). */
  width?: number;
  height?: number;
  /** Block size per source pixel (default 4). */
  scale?: number;
}

export interface DigitOptions extends ImageOptions {
  /** Draw ink dark on white (default true: reads like paper); false = MNIST's white on black. */
  inkDark?: boolean;
}

export interface PerturbationOptions extends ImageOptions {
  /** The difference mapped to full colour (default: the largest |diff|, or 1 if all zero). */
  maxAbs?: number;
}

/** A rendered PNG with its pixel size, ready for a notebook's image display item. */
export interface PngImage {
  png: Buffer;
  width: number;
  height: number;
}

type Rgb = [number, number, number];

function dims(pixels: ArrayLike<number>, o: ImageOptions): { w: number; h: number; s: number } {
  const w = o.width ?? 28;
  const h = o.height ?? 28;
  const s = o.scale ?? 4;
  if (pixels.length !== w * h) throw new Error(`image has ${pixels.length} values, expected ${w} x ${h} = ${w * h}`);
  if (!Number.isInteger(s) || s < 1) throw new Error(`image scale must be a positive integer, got ${s}`);
  return { w, h, s };
}

function render(w: number, h: number, s: number, colour: (i: number) => Rgb): PngImage {
  const png = new PNG({ width: w * s, height: h * s });
  for (let y = 0; y < h * s; y++) {
    for (let x = 0; x < w * s; x++) {
      const [r, g, b] = colour(Math.floor(y / s) * w + Math.floor(x / s));
      const o = (y * w * s + x) * 4;
      png.data[o] = r; png.data[o + 1] = g; png.data[o + 2] = b; png.data[o + 3] = 255;
    }
  }
  return { png: PNG.sync.write(png), width: w * s, height: h * s };
}

const clamp01 = (v: number) => (Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0);

/** Grey value of a digit pixel, 0..255. */
export function digitGrey(v: number, inkDark = true): number {
  const g = Math.round(255 * clamp01(v));
  return inkDark ? 255 - g : g;
}

/**
 * Diverging colour map for a perturbation: white at 0, red for increases, blue for decreases,
 * full colour at |d| >= maxAbs.
 */
export function divergingColour(d: number, maxAbs: number): Rgb {
  const t = maxAbs > 0 ? clamp01(Math.abs(d) / maxAbs) : 0;
  const fade = Math.round(255 * (1 - t));
  if (d > 0) return [255, fade, fade];
  if (d < 0) return [fade, fade, 255];
  return [255, 255, 255];
}

export function digitImage(pixels: ArrayLike<number>, opts: DigitOptions = {}): PngImage {
  const { w, h, s } = dims(pixels, opts);
  const inkDark = opts.inkDark ?? true;
  return render(w, h, s, (i) => { const g = digitGrey(pixels[i], inkDark); return [g, g, g]; });
}

/** A digit as PNG bytes. */
export function digitToPng(pixels: ArrayLike<number>, opts: DigitOptions = {}): Buffer {
  return digitImage(pixels, opts).png;
}

export function perturbationImage(diff: ArrayLike<number>, opts: PerturbationOptions = {}): PngImage {
  const { w, h, s } = dims(diff, opts);
  let maxAbs = opts.maxAbs ?? 0;
  if (opts.maxAbs === undefined) for (let i = 0; i < diff.length; i++) maxAbs = Math.max(maxAbs, Math.abs(diff[i]));
  if (maxAbs === 0) maxAbs = 1;
  return render(w, h, s, (i) => divergingColour(diff[i], maxAbs));
}

/** A perturbation (adversarial - original) as PNG bytes, diverging colours. */
export function perturbationToPng(diff: ArrayLike<number>, opts: PerturbationOptions = {}): Buffer {
  return perturbationImage(diff, opts).png;
}

/** adversarial - original, element-wise. */
export function difference(adversarial: ArrayLike<number>, original: ArrayLike<number>): Float32Array {
  if (adversarial.length !== original.length) throw new Error(`cannot subtract images of ${original.length} and ${adversarial.length} values`);
  return Float32Array.from({ length: original.length }, (_, i) => adversarial[i] - original[i]);
}

/** One gallery cell: a digit, or a perturbation drawn with the diverging map. */
export type GalleryTile =
  | { kind: 'digit'; pixels: ArrayLike<number> }
  | { kind: 'perturbation'; diff: ArrayLike<number>; maxAbs?: number };

export interface GalleryOptions extends DigitOptions {
  /** Gap between tiles in output pixels (default 2), drawn in light grey. */
  gap?: number;
}

/**
 * Tiles laid out as rows (e.g. one row per sample: original, adversarial, perturbation),
 * rendered into one PNG. Rows may have different lengths; missing cells stay background.
 */
export function galleryImage(rows: GalleryTile[][], opts: GalleryOptions = {}): PngImage {
  const w = opts.width ?? 28;
  const h = opts.height ?? 28;
  const s = opts.scale ?? 4;
  const gap = opts.gap ?? 2;
  const inkDark = opts.inkDark ?? true;
  const cols = Math.max(0, ...rows.map((r) => r.length));
  if (rows.length === 0 || cols === 0) throw new Error('a gallery needs at least one tile');
  const tileW = w * s;
  const tileH = h * s;
  const width = cols * tileW + (cols + 1) * gap;
  const height = rows.length * tileH + (rows.length + 1) * gap;
  const png = new PNG({ width, height });
  png.data.fill(220);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  rows.forEach((row, r) => row.forEach((tile, c) => {
    const values = tile.kind === 'digit' ? tile.pixels : tile.diff;
    if (values.length !== w * h) throw new Error(`gallery tile (${r}, ${c}) has ${values.length} values, expected ${w * h}`);
    let maxAbs = 1;
    if (tile.kind === 'perturbation') {
      maxAbs = tile.maxAbs ?? 0;
      if (tile.maxAbs === undefined) for (let i = 0; i < values.length; i++) maxAbs = Math.max(maxAbs, Math.abs(values[i]));
      if (maxAbs === 0) maxAbs = 1;
    }
    const x0 = gap + c * (tileW + gap);
    const y0 = gap + r * (tileH + gap);
    for (let y = 0; y < tileH; y++) {
      for (let x = 0; x < tileW; x++) {
        const i = Math.floor(y / s) * w + Math.floor(x / s);
        let rgb: Rgb;
        if (tile.kind === 'digit') { const g = digitGrey(values[i], inkDark); rgb = [g, g, g]; } else rgb = divergingColour(values[i], maxAbs);
        const o = ((y0 + y) * width + x0 + x) * 4;
        png.data[o] = rgb[0]; png.data[o + 1] = rgb[1]; png.data[o + 2] = rgb[2];
      }
    }
  }));
  return { png: PNG.sync.write(png), width, height };
}

/**
 * A gallery row per sample: original, adversarial, and their difference (shared colour scale
 * `maxAbs`; default: each row its own largest |diff|).
 */
export function adversarialGallery(
  samples: Array<{ original: ArrayLike<number>; adversarial: ArrayLike<number> }>,
  opts: GalleryOptions & { maxAbs?: number } = {},
): PngImage {
  return galleryImage(samples.map(({ original, adversarial }) => [
    { kind: 'digit', pixels: original },
    { kind: 'digit', pixels: adversarial },
    { kind: 'perturbation', diff: difference(adversarial, original), maxAbs: opts.maxAbs },
  ]), opts);
}

/** PNG bytes as base64 (what an image display item or a data: URI holds). */
export function pngBase64(png: Buffer): string {
  return png.toString('base64');
}

export function pngDataUri(png: Buffer): string {
  return `data:image/png;base64,${pngBase64(png)}`;
}
