/**
 * HTML escaping for the report's renderers: every string that comes from a notebook or a
 * results file passes through `escapeHtml` before it reaches a page.
 */

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
