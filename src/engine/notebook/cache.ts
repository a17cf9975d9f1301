import { readFile, readdir, stat, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { CellOptions, ExecutedNotebook, NotebookDocument, Params } from '../core/records.ts';
import { declaredEnvironment, type ProjectConfig } from './config.ts';
import { codeCells } from './markdown-format.ts';
import { hashValue, sha256 } from '../util/hash.ts';
import { codeFingerprint, type CodeFingerprint } from '../store/code-fingerprint.ts';
import { CellSyntaxError, transformCell } from './transform.ts';
import { cellFilename } from './stack-map.ts';

/**
 * The notebook cache key (Quarto's freeze, made safe): everything that can change what a
 * notebook computes. Prose is deliberately absent, so prose edits reuse stored outputs.
 * Bump CACHE_FORMAT when the runner's semantics change so that old outputs are not reused.
 */
export const CACHE_FORMAT = 'reprobook.cache/1';

export interface CacheKey {
  key: string;
  inputs: Record<string, unknown>;
  /** What the key cannot see (computed imports), for the run to say. */
  warnings: string[];
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

/** The modules a notebook's cells load, and what the key cannot see, said per cell. */
export interface NotebookImports {
  /** Import specifiers: the entries of the notebook's code fingerprint. */
  specs: string[];
  /** One line per computed `import(x)` or `require(x)` of a cell that declares no `depends:`. */
  warnings: string[];
}

/**
 * The modules the cells load, from the same parse that runs them (transform.ts): static
 * imports, `import()` and `require()` of a literal, and the cells' `depends:` options. A cell
 * that does not parse contributes nothing (its source is in the key, and running it fails).
 */
export async function notebookImports(doc: NotebookDocument): Promise<NotebookImports> {
  const specs = new Set<string>();
  const warnings: string[] = [];
  for (const cell of codeCells(doc)) {
    for (const d of cell.options.depends ?? []) specs.add(d);
    let t;
    try {
      t = await transformCell(cell.source, cellFilename(doc, cell));
    } catch (err) {
      if (err instanceof CellSyntaxError) continue;
      throw err;
    }
    for (const s of t.imports) specs.add(s);
    if (cell.options.depends !== undefined) continue;
    for (const c of t.computed) {
      warnings.push(`${doc.path}:${cell.line + c.cellLine - 1} (cell ${cell.index + 1}): ${c.call} loads a module the cache key cannot see (its name is computed), so an edit to that module would reuse stale outputs; declare it on the cell: //| depends: ../path/to/module.ts`);
    }
  }
  return { specs: [...specs], warnings };
}

function fingerprintImports(root: string, doc: NotebookDocument, specs: string[]): Promise<CodeFingerprint> {
  return codeFingerprint(specs, { base: root, fromDir: dirname(join(root, doc.path)) });
}

/**
 * The code the notebook's cells import, as the one code fingerprint of the engine
 * (store/code-fingerprint.ts): local modules transitively, npm packages by version.
 */
export async function importedSources(root: string, doc: NotebookDocument): Promise<CodeFingerprint> {
  return fingerprintImports(root, doc, (await notebookImports(doc)).specs);
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
  const loads = await notebookImports(doc);
  const inputs: Record<string, unknown> = {
    format: CACHE_FORMAT,
    notebook: doc.path,
    cells: codeCells(doc).map((c) => ({ source: c.source, options: executionOptions(c.options) })),
    params,
    imports: await fingerprintImports(root, doc, loads.specs),
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
  return { key: hashValue(inputs), inputs, warnings: loads.warnings };
}

/**
 * The project files a stored run's key covers (the modules its cells import, its data and
 * `dependsOn` files), relative to the root: what a change to would re-run it (preview watches them).
 */
export function keyedFiles(executed: ExecutedNotebook): string[] {
  const inputs = executed.cacheKeyInputs as { imports?: Partial<CodeFingerprint>; data?: Record<string, string>; dependsOn?: Record<string, string> };
  return [...Object.keys(inputs.imports?.files ?? {}), ...Object.keys(inputs.data ?? {}), ...Object.keys(inputs.dependsOn ?? {})]
    .filter((f) => !f.startsWith('<') && !f.startsWith('../'));
}

/** A cell with `cache: false` makes its notebook re-run every time. */
export function alwaysRuns(doc: NotebookDocument): boolean {
  return codeCells(doc).some((c) => c.options.cache === false);
}
