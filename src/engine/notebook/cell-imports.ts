import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolveImport } from '../util/esbuild-ops.ts';
import { findPackage, packageName } from '../util/packages.ts';

/**
 * Where a cell's `import(...)` leads: relative specifiers from the notebook's folder, packages
 * as Node would find them from the project root (util/packages.ts), so that a project with
 * node_modules of its own loads its own copies.
 */

/** Import for cells: relative specifiers from the notebook's folder, packages from the project root. */
export function makeImporter(root: string, notebookFile: string): (spec: string) => Promise<unknown> {
  const base = dirname(notebookFile);
  const load = async (spec: string): Promise<unknown> => {
    if (spec.startsWith('./') || spec.startsWith('../')) return import(pathToFileURL(resolve(base, spec)).href);
    if (isAbsolute(spec)) return import(pathToFileURL(spec).href);
    if (spec.startsWith('node:') || spec.startsWith('file:') || spec.startsWith('data:')) return import(spec);
    return import(await resolvePackage(root, spec));
  };
  return async (spec: string) => {
    try {
      return await load(spec);
    } catch (err) {
      // A new error, so that its (async) stack points at the importing cell, not at the runner.
      const e = new Error(`cannot import '${spec}' from ${relative(root, notebookFile)}: ${(err as Error).message.replace(/ imported from \S+$/, '')}`);
      e.name = 'ImportError';
      throw e;
    }
  };
}

const ownRoot = resolve(dirname(new URL(import.meta.url).pathname), '..', '..', '..');

/**
 * Resolve a package import the way Node's ESM loader would from a file in `root`. When the
 * root shares reprobook's own node_modules (or has none), a plain import from here is the
 * same resolution and keeps one module instance (tfjs must not load twice).
 */
async function resolvePackage(root: string, spec: string): Promise<string> {
  const found = findPackage(packageName(spec), root);
  if (found === null || found.base === ownRoot) return spec;
  const resolved = await resolveImport(spec, root);
  return resolved ? pathToFileURL(resolved).href : spec;
}
