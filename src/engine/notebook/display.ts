import { PNG } from 'pngjs';
import type { DisplayItem } from '../core/records.ts';

/**
 * Rich display: choose a DisplayItem from a value's type. Raw data is stored; the report
 * escapes and sanitises everything when it renders.
 */

const MARKDOWN = Symbol.for('reprobook.markdown');
const ITEM = Symbol.for('reprobook.displayItem');

export interface MarkdownValue { [MARKDOWN]: string; toString(): string }

/** Wrap Markdown text so that display() renders it as Markdown rather than plain text. */
export function markdown(text: string): MarkdownValue {
  return { [MARKDOWN]: text, toString: () => text };
}

/** Tagged template: md`# Accuracy ${x}`. */
export function md(strings: TemplateStringsArray, ...values: unknown[]): MarkdownValue {
  let s = strings[0] ?? '';
  values.forEach((v, i) => { s += String(v) + (strings[i + 1] ?? ''); });
  return markdown(s);
}

/** A value that displays as exactly this item. */
export function asItem(item: DisplayItem): { [ITEM]: DisplayItem } {
  return { [ITEM]: item };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

interface TensorLike { shape: number[]; dtype: string; dataSync(): ArrayLike<number>; arraySync(): unknown }
function isTensor(v: unknown): v is TensorLike {
  return !!v && typeof v === 'object' && Array.isArray((v as TensorLike).shape) && typeof (v as TensorLike).dataSync === 'function'
    && typeof (v as TensorLike).dtype === 'string';
}

interface DomLike { outerHTML: string; tagName: string; querySelector?(s: string): { textContent: string | null } | null }
function isDom(v: unknown): v is DomLike {
  return !!v && typeof v === 'object' && typeof (v as DomLike).outerHTML === 'string' && typeof (v as DomLike).tagName === 'string';
}

export interface PixelImage { width: number; height: number; data: ArrayLike<number> }
function isPixelImage(v: unknown): v is PixelImage {
  if (!v || typeof v !== 'object') return false;
  const p = v as PixelImage;
  if (!Number.isInteger(p.width) || !Number.isInteger(p.height) || !p.data || typeof p.data.length !== 'number') return false;
  const n = p.width * p.height;
  return n > 0 && [n, 3 * n, 4 * n].includes(p.data.length);
}

/**
 * Encode grey (1 channel), RGB (3) or RGBA (4) pixels to PNG. Float data in [0, 1] is
 * scaled to bytes; anything else is clamped to [0, 255].
 */
export function encodePng(width: number, height: number, data: ArrayLike<number>, alt?: string): DisplayItem {
  const n = width * height;
  const channels = data.length / n;
  if (![1, 3, 4].includes(channels)) throw new Error(`image data has ${data.length} values for ${width}x${height} pixels; expected 1, 3 or 4 channels`);
  let max = 0;
  for (let i = 0; i < data.length; i++) if (data[i]! > max) max = data[i]!;
  const isFloat = !(data instanceof Uint8Array || data instanceof Uint8ClampedArray) && max <= 1;
  const scale = isFloat ? 255 : 1;
  const png = new PNG({ width, height });
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 4; c++) {
      let v: number;
      if (c === 3) v = channels === 4 ? data[p * 4 + 3]! * scale : 255;
      else v = channels === 1 ? data[p]! * scale : data[p * channels + c]! * scale;
      png.data[p * 4 + c] = Math.max(0, Math.min(255, Math.round(Number.isFinite(v) ? v : 0)));
    }
  }
  const base64 = PNG.sync.write(png).toString('base64');
  const item: DisplayItem = { kind: 'image', mime: 'image/png', base64, width, height };
  if (alt) item.alt = alt;
  return item;
}

/** Make a value JSON-safe without losing what a reader needs (NaN, bigint, typed arrays, maps). */
export function toJsonSafe(v: unknown, seen = new WeakSet<object>()): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return null;
  if (typeof v !== 'object') return String(v);
  if (seen.has(v)) return '[Circular]';
  seen.add(v);
  try {
    if (isTensor(v)) return { tensor: { shape: v.shape, dtype: v.dtype }, values: toJsonSafe(v.arraySync(), seen) };
    if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>, (x) => toJsonSafe(x, seen));
    if (Array.isArray(v)) return v.map((x) => toJsonSafe(x, seen));
    if (v instanceof Map) return Object.fromEntries([...v.entries()].map(([k, x]) => [String(k), toJsonSafe(x, seen)]));
    if (v instanceof Set) return [...v].map((x) => toJsonSafe(x, seen));
    if (v instanceof Date) return v.toISOString();
    if (v instanceof Error) return { name: v.name, message: v.message };
    if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return toJsonSafe((v as { toJSON(): unknown }).toJSON(), seen);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined && typeof x !== 'function') out[k] = toJsonSafe(x, seen);
    return out;
  } finally {
    seen.delete(v);
  }
}

function tensorToImage(t: TensorLike): DisplayItem | null {
  const s = t.shape;
  const ok = (s.length === 2 && s[0]! > 0 && s[1]! > 0) || (s.length === 3 && [1, 3, 4].includes(s[2]!));
  if (!ok) return null;
  return encodePng(s[1]!, s[0]!, t.dataSync());
}

/** An already encoded PNG with its size (what src/flagship/ml/images.ts renders). */
interface EncodedPng { png: Uint8Array; width: number; height: number }
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47];
function isEncodedPng(v: unknown): v is EncodedPng {
  if (!v || typeof v !== 'object') return false;
  const o = v as Partial<EncodedPng>;
  return o.png instanceof Uint8Array && PNG_SIGNATURE.every((b, i) => o.png![i] === b)
    && Number.isInteger(o.width) && Number.isInteger(o.height);
}

/** The display item for a value, or null for `undefined` (nothing to show). */
export function toDisplayItem(value: unknown): DisplayItem | null {
  if (value === undefined) return null;
  if (value && typeof value === 'object' && ITEM in value) return (value as { [ITEM]: DisplayItem })[ITEM];
  if (typeof value === 'string') return { kind: 'text', text: value };
  if (value && typeof value === 'object' && MARKDOWN in value) return { kind: 'markdown', markdown: (value as MarkdownValue)[MARKDOWN] };
  if (isDom(value)) {
    const item: DisplayItem = { kind: 'svg', svg: value.outerHTML };
    const cap = value.tagName.toLowerCase() === 'figure' ? value.querySelector?.('figcaption')?.textContent : null;
    if (cap) item.caption = cap;
    return item;
  }
  if (isTensor(value)) return tensorToImage(value) ?? { kind: 'json', value: toJsonSafe(value) };
  if (isPixelImage(value)) return encodePng(value.width, value.height, value.data);
  if (isEncodedPng(value)) return { kind: 'image', mime: 'image/png', base64: Buffer.from(value.png).toString('base64'), width: value.width, height: value.height };
  if (Array.isArray(value) && value.length > 0 && value.every(isPlainObject)) return toTable(value as Array<Record<string, unknown>>);
  if (value instanceof Error) return { kind: 'text', text: `${value.name}: ${value.message}` };
  return { kind: 'json', value: toJsonSafe(value) };
}

export function toTable(rows: Array<Record<string, unknown>>, caption?: string): DisplayItem {
  const columns: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!columns.includes(k)) columns.push(k);
  const item: DisplayItem = { kind: 'table', columns, rows: rows.map((r) => toJsonSafe(r) as Record<string, unknown>) };
  if (caption) item.caption = caption;
  return item;
}

/** A short plain-text form of an item, for the terminal and for ipynb text/plain. */
export function itemToText(item: DisplayItem): string {
  switch (item.kind) {
    case 'text': return item.text;
    case 'markdown': return item.markdown;
    case 'table': {
      const head = item.columns.join('\t');
      return [head, ...item.rows.map((r) => item.columns.map((c) => formatCell(r[c])).join('\t'))].join('\n');
    }
    case 'svg': return `<figure${item.caption ? `: ${item.caption}` : ''}>`;
    case 'image': return `<image ${item.width}x${item.height}>`;
    case 'json': return JSON.stringify(item.value, null, 2) ?? 'undefined';
  }
}

function formatCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}
