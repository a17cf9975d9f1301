import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * The one answer to "which installed package does this import reach", for the three places
 * that ask: the code fingerprint (a package's version is part of every cache key), the run's
 * environment (the versions recorded with every run) and the cells' importer (which copy of
 * a package a cell loads). Node's rule: the nearest `node_modules/<name>` up the folder tree.
 */

/** The package a bare import names: `@scope/name` or `name`, without a subpath. */
export function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

export interface InstalledPackage {
  /** The folder whose node_modules holds it. */
  base: string;
  /** Its package.json's version (a package without one has none). */
  version?: string;
}

/** Package `name` as Node finds it from `fromDir`, or null when no folder up the tree has it installed. */
export function findPackage(name: string, fromDir: string): InstalledPackage | null {
  for (let dir = resolve(fromDir); ; dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version?: string };
      return { base: dir, version: manifest.version };
    } catch {
      if (dirname(dir) === dir) return null;
    }
  }
}

/** The installed version of `name` from `fromDir`, as cache keys and run records write it: 'not-installed' or 'unknown' when there is none. */
export function installedVersion(name: string, fromDir: string): string {
  const found = findPackage(name, fromDir);
  return found ? found.version ?? 'unknown' : 'not-installed';
}
