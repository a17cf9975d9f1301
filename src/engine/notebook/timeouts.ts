import type { CodeCell, NotebookDocument, TimeoutSettings } from '../core/records.ts';

/**
 * Time limits on cells and notebooks. A limit is written as a number of seconds, or as `90s`,
 * `10m`, `2h` (or `1h30m`), or `none` for no limit (long training cells). It is set, most
 * specific first, by a cell's `//| timeout:` option, the notebook's front matter
 * (`timeout: { cell: 10m, notebook: 1h }`), reprobook.config.yaml (same form), or the default.
 * Limits are not part of the cache key: they decide whether a run finishes, not what it computes.
 */

/** One hour per cell: far above any cell that is not a training loop, which should say `none`. */
export const DEFAULT_CELL_TIMEOUT = '1h';
/** No limit per notebook by default: every cell has its own. */
export const DEFAULT_NOTEBOOK_TIMEOUT = 'none';

export const DURATION_HINT = "write a number of seconds, or 90s, 10m, 2h, 1h30m, or 'none' for no limit";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds, or null for `none`; undefined when `value` is not a duration. Numbers are
 * seconds (YAML reads `timeout: 90` as a number).
 */
export function parseDuration(value: unknown): number | null | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? Math.round(value * 1000) : undefined;
  if (typeof value !== 'string') return undefined;
  const s = value.trim().toLowerCase();
  if (s === 'none') return null;
  if (/^\d+(\.\d+)?$/.test(s)) return parseDuration(Number(s));
  const parts = [...s.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== s) return undefined;
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_MS[p[2]!]!, 0);
  return ms > 0 ? Math.round(ms) : undefined;
}

/** `1h30m`, `90s`, `1.5s`: for messages. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}` || '0s';
}

/**
 * Check a `timeout:` map (front matter or config); returns it as written. `fail` throws,
 * naming the key's line.
 */
export function validateTimeoutSettings(value: unknown, fail: (key: string | null, msg: string, hint?: string) => never): TimeoutSettings {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    fail(null, 'timeout must be a map: timeout: { cell: 10m, notebook: 1h }', `${DURATION_HINT}; 'cell' limits each cell, 'notebook' the whole notebook`);
  }
  const out: TimeoutSettings = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k !== 'cell' && k !== 'notebook') fail(k, `unknown timeout key '${k}'`, "valid keys: cell (each cell's limit), notebook (the whole notebook's)");
    if (parseDuration(v) === undefined) fail(k, `timeout.${k}: ${JSON.stringify(v)} is not a duration`, DURATION_HINT);
    out[k] = typeof v === 'number' ? String(v) : String(v).trim();
  }
  return out;
}

/** An effective limit and where it was set, for the message when it is hit. */
export interface Limit {
  /** Milliseconds; null: no limit. */
  ms: number | null;
  /** `timeout.cell in the front matter`, say: where to change it. */
  from: string;
}

export interface NotebookLimits {
  /** By code cell index. */
  cells: Limit[];
  notebook: Limit;
}

/** The limits a notebook runs under: its cells' options, its front matter, the project config, the defaults. */
export function resolveLimits(doc: NotebookDocument, config: { timeout?: TimeoutSettings }): NotebookLimits {
  const pick = (key: 'cell' | 'notebook', fallback: string): Limit => {
    const own = doc.frontMatter.timeout?.[key];
    if (own !== undefined) return { ms: parseDuration(own)!, from: `timeout.${key} in the front matter of ${doc.path}` };
    const project = config.timeout?.[key];
    if (project !== undefined) return { ms: parseDuration(project)!, from: `timeout.${key} in reprobook.config.yaml` };
    return { ms: parseDuration(fallback)!, from: `the default ${key} timeout (${fallback})` };
  };
  const cell = pick('cell', DEFAULT_CELL_TIMEOUT);
  return {
    cells: doc.blocks.filter((b): b is CodeCell => b.kind === 'code').map((c) => (c.options.timeout !== undefined ? { ms: parseDuration(c.options.timeout)!, from: `the cell's '//| timeout:' option` } : cell)),
    notebook: pick('notebook', DEFAULT_NOTEBOOK_TIMEOUT),
  };
}
