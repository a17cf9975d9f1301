import { JSDOM } from 'jsdom';

/**
 * Notebook outputs are untrusted: a cell may print or return anything, including SVG with
 * `<script>`, `onload=` or `javascript:` links. Text is always escaped; SVG is parsed with
 * jsdom (scripts never run there) and rebuilt from a whitelist of elements and attributes.
 */

const SVG_ELEMENTS = new Set([
  'svg', 'g', 'a', 'path', 'rect', 'circle', 'ellipse', 'line', 'polyline', 'polygon', 'text', 'tspan',
  'title', 'desc', 'defs', 'clippath', 'lineargradient', 'radialgradient', 'stop', 'marker',
  'symbol', 'use', 'pattern', 'mask', 'style', 'image',
]);

/**
 * The HTML around an Observable Plot figure (`<figure>` with a title `<h2>`, subtitle
 * `<h3>` and swatch legends of `<div>`/`<span>`): allowed only inside a figure, see
 * sanitizeFigure.
 */
const FIGURE_ELEMENTS = new Set(['h2', 'h3', 'div', 'span', 'p']);
const FIGURE_ROOTS = new Set(['figure', 'div']);

/** A PNG data: URL (Plot's color ramps and raster marks), the one URL an `<image>` may have. */
const PNG_DATA_URL = /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/;

/** Attribute names that may carry a URL: allowed only as same-document fragments. */
const URL_ATTRIBUTES = new Set(['href', 'xlink:href', 'src', 'action', 'formaction']);

const SAFE_ATTRIBUTE_NAME = /^[a-zA-Z_:][-a-zA-Z0-9_:.]*$/;

/** CSS that could fetch something (url(), @import) or run script (expression, javascript:). */
function unsafeCss(css: string): boolean {
  return /url\s*\(|@import|expression\s*\(|javascript:|behavior\s*:|-moz-binding/i.test(css);
}

let parser: JSDOM | undefined;
function doc(): Document {
  parser ??= new JSDOM('<!DOCTYPE html><html><body></body></html>');
  return parser.window.document;
}

function cleanElement(el: Element, allowed: ReadonlySet<string> = SVG_ELEMENTS): void {
  for (const child of [...el.children]) {
    const tag = child.tagName.toLowerCase();
    // An <image> shows a PNG data URL (Plot's ramps and rasters) or nothing at all: never a fetch.
    const badImage = tag === 'image' && !['href', 'xlink:href'].some((a) => PNG_DATA_URL.test((child.getAttribute(a) ?? '').trim()));
    if (!allowed.has(tag) || badImage || (tag === 'style' && unsafeCss(child.textContent ?? ''))) {
      child.remove();
      continue;
    }
    // Inside an <svg>, only SVG elements: HTML is allowed around a figure's plots, not in them.
    cleanElement(child, tag === 'svg' ? SVG_ELEMENTS : allowed);
  }
  const isImage = el.tagName.toLowerCase() === 'image';
  for (const attr of [...el.attributes]) {
    const name = attr.name.toLowerCase();
    const value = attr.value;
    if (isImage && (name === 'href' || name === 'xlink:href') && PNG_DATA_URL.test(value.trim())) continue;
    const drop =
      !SAFE_ATTRIBUTE_NAME.test(attr.name) ||
      name.startsWith('on') ||
      (URL_ATTRIBUTES.has(name) && !value.trim().startsWith('#')) ||
      (name === 'style' && unsafeCss(value)) ||
      /^\s*(javascript|vbscript|data):/i.test(value) ||
      // Presentation attributes like fill="url(#g)" may point inside the document only.
      (/url\s*\(/i.test(value) && !/^\s*url\(\s*['"]?#[^)]*\)\s*$/i.test(value));
    if (drop) el.removeAttribute(attr.name);
  }
}

/**
 * Returns a safe serialisation of an SVG output: the first `<svg>` in the input, or, when
 * the input is an Observable Plot `<figure>` (a plot with a legend, title or subtitle), the
 * whole figure (see sanitizeFigure). '' when there is no SVG. Unknown elements are removed
 * with their content (foreignObject, script, iframe, an image that is not a PNG data URL…).
 */
export function sanitizeSvg(svg: string): string {
  const container = doc().createElement('div');
  container.innerHTML = svg;
  const first = container.firstElementChild;
  // Plot returns a <figure> for a plot with a legend or title, a <div> for a swatch legend alone.
  if (first && FIGURE_ROOTS.has(first.tagName.toLowerCase()) && first.querySelector('svg')) return sanitizeFigure(first);
  const root = container.querySelector('svg');
  if (!root) return '';
  // Cleans the root's own attributes as well as its descendants.
  cleanElement(root);
  return root.outerHTML;
}

/**
 * A Plot figure keeps all its parts, in order (title, subtitle, legends, the plot), inside
 * a `<div class="plot-figure">` in place of Plot's `<figure>`: the page wraps every figure
 * in a `<figure>` of its own and prints the caption (which the runner took from Plot's
 * `<figcaption>`) there. Before, only the first `<svg>` survived: for a plot with a color
 * legend that was one 15×15 swatch.
 */
function sanitizeFigure(figure: Element): string {
  const out = doc().createElement('div');
  if (figure.tagName.toLowerCase() === 'figure') {
    for (const child of [...figure.children]) {
      if (child.tagName.toLowerCase() !== 'figcaption') out.append(child);
    }
    const style = figure.getAttribute('style');
    if (style && !unsafeCss(style)) out.setAttribute('style', style);
  } else {
    out.append(figure); // a legend alone: its own classes lay it out
  }
  cleanElement(out, new Set([...FIGURE_ELEMENTS, 'svg', 'style']));
  // A legend swatch is an <svg width=15 height=15> without a viewBox: page CSS such as
  // `figure svg { height: auto }` would stretch it to 150px. A viewBox of its own size
  // draws the same and keeps its proportions.
  for (const svg of out.querySelectorAll('svg')) {
    const w = svg.getAttribute('width'), h = svg.getAttribute('height');
    if (!svg.hasAttribute('viewBox') && w && h && /^\d+(\.\d+)?$/.test(w) && /^\d+(\.\d+)?$/.test(h)) svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  }
  out.setAttribute('class', 'plot-figure');
  return out.outerHTML;
}

/** A PNG as a data: URL, after checking it is plain base64 (no quote can break out). */
export function safePngDataUrl(base64: string): string | undefined {
  const compact = base64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+=*$/.test(compact)) return undefined;
  return `data:image/png;base64,${compact}`;
}
