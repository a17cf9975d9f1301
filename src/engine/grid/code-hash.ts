import { readFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { hashValue, sha256 } from '../util/hash.ts';
import { UserError } from '../util/errors.ts';

/**
 * The handler's code hash, part of every unit's result key: a change to the handler or to
 * any project module it imports (transitively) changes the keys, so stale results are
 * never reused; so does a new version of an npm package it imports (tfjs numerics can
 * change between versions). esbuild walks the import graph; only its metafile is used,
 * and the hash is over the files' bytes, not esbuild's output, so it does not move when
 * esbuild is upgraded.
 */

export interface CodeFingerprint {
  /** Project source files, relative to the handler's directory, to their sha256. */
  files: Record<string, string>;
  /** Imported npm packages to their installed version. */
  packages: Record<string, string>;
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

async function installedVersion(name: string, fromDir: string): Promise<string> {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(await readFile(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version?: string };
      return pkg.version ?? 'unknown';
    } catch {
      if (dirname(dir) === dir) return 'not-installed';
    }
  }
}

export async function handlerFingerprint(handlerPath: string): Promise<CodeFingerprint> {
  const { build } = await import('esbuild');
  const base = dirname(handlerPath);
  let metafile;
  try {
    const out = await build({
      entryPoints: [handlerPath],
      absWorkingDir: base,
      bundle: true,
      write: false,
      metafile: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      logLevel: 'silent',
    });
    metafile = out.metafile;
  } catch (err) {
    throw new UserError(`grid handler ${handlerPath} does not compile: ${(err as Error).message}`, 'fix the handler module (or a module it imports)');
  }
  const files: Record<string, string> = {};
  const packages: Record<string, string> = {};
  for (const [rel, input] of Object.entries(metafile.inputs)) {
    files[rel] = sha256(await readFile(resolve(base, rel)));
    for (const imp of input.imports) {
      if (!imp.external || isBuiltin(imp.path) || imp.path.startsWith('.') || imp.path.startsWith('/')) continue;
      const name = packageName(imp.path);
      packages[name] ??= await installedVersion(name, dirname(resolve(base, rel)));
    }
  }
  return { files, packages };
}

export async function handlerCodeHash(handlerPath: string): Promise<string> {
  return hashValue(await handlerFingerprint(handlerPath));
}
