import { JSDOM } from 'jsdom';

/**
 * Notebook outputs are untrusted: a cell may print or return anything, including SVG with
 * `<script>`, `onload=` or `javascript:` links. Text is always escaped; SVG is parsed with
 * jsdom (scripts never run there) and rebuilt from a whitelist of elements and attributes.
 */

const SVG_ELEMENTS = new Set([
  'svg', 'g', 'a', 'path', 'rect', 'circle', 'ellipse', 'line', 'polyline', 'polygon', 'text', 'tspan',
  'title', 'desc', 'defs', 'clippath', 'lineargradient', 'radialgradient', 'stop', 'marker',
  'symbol', 'use', 'pattern', 'mask', 'style',
]);

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

function cleanElement(el: Element): void {
  for (const child of [...el.children]) {
    const tag = child.tagName.toLowerCase();
    if (!SVG_ELEMENTS.has(tag) || (tag === 'style' && unsafeCss(child.textContent ?? ''))) {
      child.remove();
      continue;
    }
    cleanElement(child);
  }
  for (const attr of [...el.attributes]) {
    const name = attr.name.toLowerCase();
    const value = attr.value;
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
 * Returns a safe serialisation of the first `<svg>` in the input, or '' when there is none.
 * Unknown elements are removed with their content (foreignObject, script, image, iframe…).
 */
export function sanitizeSvg(svg: string): string {
  const container = doc().createElement('div');
  container.innerHTML = svg;
  const root = container.querySelector('svg');
  if (!root) return '';
  // Cleans the root's own attributes as well as its descendants.
  cleanElement(root);
  return root.outerHTML;
}

/** A PNG as a data: URL, after checking it is plain base64 (no quote can break out). */
export function safePngDataUrl(base64: string): string | undefined {
  const compact = base64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+=*$/.test(compact)) return undefined;
  return `data:image/png;base64,${compact}`;
}
