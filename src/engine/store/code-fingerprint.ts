import { readFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { hashValue, sha256 } from '../util/hash.ts';
import { importGraph, type ImportGraph } from '../util/esbuild-ops.ts';
import { installedVersion, packageName } from '../util/packages.ts';

/**
 * The one code fingerprint behind every cache key that depends on code: a notebook's
 * (the modules its cells import), a grid unit's (its handler) and any key a project builds
 * for its own artifacts (e.g. trained models). It is the import graph as esbuild resolves it
 * (static imports, re-exports and literal dynamic imports, TypeScript's `.js` → `.ts`
 * included), the bytes of every file in it, the installed version of every npm package it
 * imports, and the files a module loads without importing them (a native addon's sources),
 * which that module names in a comment:
 *
 *     // @fingerprint ../../native/src/kernels.c ../../native/binding.gyp
 *
 * (paths relative to the module). Hashes are over the files' bytes, not esbuild's output, so
 * they do not move when esbuild is upgraded. An import that does not resolve is recorded as
 * 'missing' rather than failing: the key is still computed, and running the code reports it.
 */
export interface CodeFingerprint {
  /** Files of the graph (and the files they name with @fingerprint), relative to `base`, to their sha256. */
  files: Record<string, string>;
  /** Imported npm packages to their installed version. */
  packages: Record<string, string>;
}

export interface FingerprintOptions {
  /** Paths in the fingerprint are relative to this folder (a project root), so that a moved checkout keys the same. */
  base: string;
}

/** A comment line that starts with the tag (so that prose mentioning it, like this file's, is not one). */
const EXTRA_RE = /^[ \t]*(?:\*|\/\/)[ \t]*@fingerprint((?:[ \t]+[^\s*]+)+)/gm;

function isLocal(spec: string): boolean {
  return spec.startsWith('./') || spec.startsWith('../') || spec.startsWith('/') || spec.startsWith('file:');
}

/** The fingerprint of `entries` (absolute module paths, or local specifiers resolved from `fromDir`). */
export async function codeFingerprint(entries: string[], opts: FingerprintOptions & { fromDir?: string }): Promise<CodeFingerprint> {
  const base = resolve(opts.base);
  const rel = (abs: string) => relative(base, abs).split(sep).join('/');
  const files: Record<string, string> = {};
  const packages: Record<string, string> = {};
  const fromDir = opts.fromDir ?? base;
  const specs = entries.map((e) => (e.startsWith('file:') ? new URL(e).pathname : e));
  for (const s of specs) if (!isAbsolute(s) && !isLocal(s)) packages[packageName(s)] ??= installedVersion(packageName(s), fromDir);
  const local = specs.filter((s) => isAbsolute(s) || isLocal(s));
  if (local.length === 0) return { files, packages };
  let graph: ImportGraph;
  try {
    graph = await importGraph(local, { base, fromDir });
  } catch (err) {
    // A module that does not parse: its graph is unknown, so key on the entries' bytes and the
    // error. Running the code reports the error; a failed run is never reused.
    for (const s of local) {
      const file = s.startsWith('/') ? s : resolve(fromDir, s);
      try { files[rel(file)] = sha256(await readFile(file)); } catch { files[rel(file)] = 'missing'; }
    }
    files['<error>'] = sha256((err as Error).message);
    return { files, packages };
  }
  for (const abs of graph.missing) files[rel(abs)] = 'missing';
  for (const [path, input] of Object.entries(graph.inputs)) {
    if (path.endsWith('<entries>') || path.endsWith('<stdin>')) continue;
    const abs = resolve(base, path);
    const bytes = await readFile(abs);
    files[rel(abs)] = sha256(bytes);
    for (const m of bytes.toString('utf8').matchAll(EXTRA_RE)) {
      for (const extra of m[1]!.trim().split(/\s+/)) {
        const file = resolve(dirname(abs), extra);
        try {
          files[rel(file)] = sha256(await readFile(file));
        } catch {
          files[rel(file)] = 'missing';
        }
      }
    }
    for (const imp of input.imports) {
      if (!imp.external || isBuiltin(imp.path) || isLocal(imp.path)) continue;
      const name = packageName(imp.path);
      packages[name] ??= installedVersion(name, dirname(abs));
    }
  }
  const sorted = <T>(o: Record<string, T>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
  return { files: sorted(files), packages: sorted(packages) };
}

/** The fingerprint as one digest, for a key's `code` field. */
export async function codeHash(entries: string[], opts: FingerprintOptions & { fromDir?: string }): Promise<string> {
  return hashValue(await codeFingerprint(entries, opts));
}
