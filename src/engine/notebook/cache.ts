import { readFile, readdir, stat, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { CellOptions, NotebookDocument, Params } from './types.ts';
import { declaredEnvironment, type ProjectConfig } from './config.ts';
import { codeCells } from './format.ts';
import { hashValue, sha256 } from '../util/hash.ts';
import { codeFingerprint, type CodeFingerprint } from '../store/code-fingerprint.ts';

/**
 * The notebook cache key (Quarto's freeze, made safe): everything that can change what a
 * notebook computes. Prose is deliberately absent, so prose edits reuse stored outputs.
 * Bump CACHE_FORMAT when the runner's semantics change so that old outputs are not reused.
 */
export const CACHE_FORMAT = 'reprobook.cache/1';

export interface CacheKey {
  key: string;
  inputs: Record<string, unknown>;
}

/**
 * Options that change what a cell computes or publishes (echo/output only affect rendering,
 * timeout only whether the run finishes).
 */
function executionOptions(o: CellOptions): Partial<CellOptions> {
  // Whether code and outputs are shown, and the time limit, do not change what a cell computes.
  // The caption stays in: a figure output carries it (runtime.ts), so a cached one would be stale.
  const { echo: _e, output: _o, timeout: _t, ...rest } = o;
  return rest;
}

const IMPORT_RE = /(?:\bimport|\bexport)\s+(?:type\s+)?(?:[\w*${}\s,]+?\s+from\s+)?['"]([^'"\n]+)['"]|\bimport\s*\(\s*['"]([^'"\n]+)['"]\s*\)/g;

/** Import specifiers a cell names (static, re-exports, literal dynamic): the entries of its code fingerprint. */
export function scanImports(code: string): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2];
    if (spec) out.push(spec);
  }
  return out;
}

/**
 * The code the notebook's cells import, as the one code fingerprint of the engine
 * (store/code-fingerprint.ts): local modules transitively, npm packages by version.
 */
export async function importedSources(root: string, doc: NotebookDocument): Promise<CodeFingerprint> {
  const specs = [...new Set(codeCells(doc).flatMap((cell) => scanImports(cell.source)))];
  return codeFingerprint(specs, { base: root, fromDir: dirname(join(root, doc.path)) });
}

/** A glob (`*`, `?`, `**`) relative to the root, as a regular expression over '/'-paths. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const SKIP_DIRS = new Set(['node_modules', '.git', '.reprobook']);

async function walkFiles(root: string, dir = ''): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(join(root, dir), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory()) { if (!SKIP_DIRS.has(e.name)) out.push(...(await walkFiles(root, rel))); }
    else if (e.isFile()) out.push(rel);
  }
  return out;
}

/**
 * Checksums of the data files the config lists. Hashing large files (tens of megabytes) on
 * every run is wasteful, so digests are memoised by (size, mtime) in .reprobook/cache.
 */
export async function dataChecksums(root: string, globs: string[]): Promise<Record<string, string>> {
  if (globs.length === 0) return {};
  // Walk only the literal folders the globs start with (data/ rather than the whole project).
  const bases = [...new Set(globs.map((g) => g.split('/').slice(0, -1).filter((_, i, parts) => !parts.slice(0, i + 1).some((p) => /[*?]/.test(p))).join('/')))];
  const res = globs.map(globToRegExp);
  const listed = new Set<string>();
  for (const b of bases) for (const f of await walkFiles(root, b)) listed.add(f);
  const files = [...listed].filter((f) => res.some((r) => r.test(f))).sort();
  const memoPath = join(root, '.reprobook', 'cache', 'data-hashes.json');
  let memo: Record<string, { size: number; mtimeMs: number; sha256: string }> = {};
  try { memo = JSON.parse(await readFile(memoPath, 'utf8')); } catch { /* first run */ }
  const out: Record<string, string> = {};
  let changed = false;
  for (const f of files) {
    const st = await stat(join(root, f));
    const m = memo[f];
    if (m && m.size === st.size && m.mtimeMs === st.mtimeMs) { out[f] = m.sha256; continue; }
    const digest = sha256(await readFile(join(root, f)));
    memo[f] = { size: st.size, mtimeMs: st.mtimeMs, sha256: digest };
    out[f] = digest;
    changed = true;
  }
  if (changed) {
    await mkdir(dirname(memoPath), { recursive: true });
    await writeFileAtomic(memoPath, JSON.stringify(memo, null, 2));
  }
  return out;
}

async function lockfileDigest(root: string): Promise<string> {
  for (const name of ['package-lock.json', 'pnpm-lock.yaml', 'yarn.lock']) {
    const p = join(root, name);
    if (existsSync(p)) return `${name}:${sha256(await readFile(p))}`;
  }
  return 'none';
}

/**
 * What the cells may do beyond plain JavaScript, when it is less than usual: under --sandbox
 * without `addons: true`, a native addon does not load, and code that falls back without it
 * (a slower kernel, another backend) computes something else, under a key of its own.
 */
export interface RunCapabilities {
  addons: boolean;
}

export async function computeCacheKey(root: string, doc: NotebookDocument, params: Params, config: ProjectConfig, env: Record<string, string | undefined>, capabilities?: RunCapabilities): Promise<CacheKey> {
  const inputs: Record<string, unknown> = {
    format: CACHE_FORMAT,
    notebook: doc.path,
    cells: codeCells(doc).map((c) => ({ source: c.source, options: executionOptions(c.options) })),
    params,
    imports: await importedSources(root, doc),
    lockfile: await lockfileDigest(root),
    data: await dataChecksums(root, config.data),
  };
  // Only when configured, so that keys of projects without them stay as they were.
  if (config.dependsOn.length > 0) inputs.dependsOn = await dataChecksums(root, config.dependsOn);
  if (config.environment.length > 0) {
    // What the cells see (declaredEnvironment), an unset variable as null.
    const seen = declaredEnvironment(config, env);
    inputs.environment = Object.fromEntries(config.environment.map((n) => [n, seen[n] ?? null]));
  }
  if (capabilities?.addons === false) inputs.addons = false;
  return { key: hashValue(inputs), inputs };
}

/** A cell with `cache: false` makes its notebook re-run every time. */
export function alwaysRuns(doc: NotebookDocument): boolean {
  return codeCells(doc).some((c) => c.options.cache === false);
}
