import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './project.ts';

/**
 * The engine as a user gets it: `npm pack` of the workspace src/engine, and a lockfile that
 * installs that tarball into a project with no network.
 */

export const ENGINE_WORKSPACE = 'src/engine';

export interface PackedEngine {
  /** The tarball's path. */
  tarball: string;
  /** Its file name, e.g. reprobook-0.1.0.tgz. */
  filename: string;
  /** Its sha512, as package-lock.json records it. */
  integrity: string;
  /** The paths inside the package, sorted. */
  files: string[];
}

/**
 * The environment of an npm command run on another folder: the user's npm settings (cache,
 * registry, config files), none of the outer `npm test`'s own. npm gives a script its package
 * and its folder (npm_package_*, npm_config_local_prefix), which are not the other folder's.
 */
export function npmEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig', 'npm_config_globalconfig']);
  return { ...Object.fromEntries(Object.entries(env).filter(([k]) => !/^npm_/i.test(k) || keep.has(k.toLowerCase()))), npm_config_update_notifier: 'false' };
}

/** `npm pack` of the engine's workspace into `dest`. */
export function packEngine(dest: string): PackedEngine {
  const r = spawnSync('npm', ['pack', '--workspace', ENGINE_WORKSPACE, '--pack-destination', dest, '--json'], {
    cwd: REPO_ROOT, encoding: 'utf8', env: npmEnv(), timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`npm pack --workspace ${ENGINE_WORKSPACE} failed (${r.status ?? r.signal}): ${r.stderr}`);
  const [packed] = JSON.parse(r.stdout) as Array<{ filename: string; integrity: string; files: Array<{ path: string }> }>;
  return { tarball: join(dest, packed!.filename), filename: packed!.filename, integrity: packed!.integrity, files: packed!.files.map((f) => f.path).sort() };
}

type LockEntry = {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
  devOptional?: boolean;
  [field: string]: unknown;
};

interface Manifest {
  name: string;
  version: string;
  license?: string;
  engines?: Record<string, string>;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
}

/** Where `name` is installed for the package at lock path `from`, by Node's rule (its own node_modules, then each one above). */
function locate(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  for (let at = from; ; at = at.includes('/node_modules/') ? at.slice(0, at.lastIndexOf('/node_modules/')) : '') {
    const path = `${at ? `${at}/` : ''}node_modules/${name}`;
    if (packages[path]) return path;
    if (!at) return undefined;
  }
}

/**
 * package-lock.json for `project` depending on the packed engine (`spec`, e.g.
 * file:../reprobook-0.1.0.tgz): the tarball, and the engine's dependencies at exactly the
 * versions and places this checkout's lockfile (`checkoutLock`) gives them, so `npm ci
 * --offline` installs it from the tarballs the checkout's own `npm ci` left in npm's cache.
 * Without a lockfile npm would ask the registry for every package's metadata, which `npm ci`
 * never caches, and would take whatever versions are newest that day.
 */
export function projectLockfile(checkoutLock: { packages: Record<string, LockEntry> }, engine: Manifest, project: Manifest, spec: string, integrity: string): unknown {
  const source = checkoutLock.packages;
  const installed = 'node_modules/reprobook';
  const packages: Record<string, LockEntry> = {
    '': { name: project.name, version: project.version, dependencies: project.dependencies, engines: project.engines },
    [installed]: { version: engine.version, resolved: spec, integrity, license: engine.license, dependencies: engine.dependencies, bin: engine.bin, engines: engine.engines },
  };
  // From the engine's place in the checkout (its workspace) through everything it needs.
  const queue: Array<{ from: string; entry: LockEntry }> = [{ from: ENGINE_WORKSPACE, entry: { dependencies: engine.dependencies } }];
  for (let next = queue.shift(); next; next = queue.shift()) {
    const { from, entry } = next;
    const optionalPeers = Object.keys(entry.peerDependencies ?? {}).filter((n) => entry.peerDependenciesMeta?.[n]?.optional);
    const required = [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.peerDependencies ?? {}).filter((n) => !optionalPeers.includes(n))];
    const optional = [...Object.keys(entry.optionalDependencies ?? {}), ...optionalPeers];
    for (const name of [...required, ...optional]) {
      const at = locate(source, from, name);
      if (!at) {
        if (optional.includes(name)) continue;
        throw new Error(`package-lock.json has no ${name}, which ${from} needs: run npm install`);
      }
      // A package the checkout nests inside the engine's workspace goes inside the installed engine.
      const to = at.startsWith(`${ENGINE_WORKSPACE}/`) ? `${installed}/${at.slice(ENGINE_WORKSPACE.length + 1)}` : at;
      if (packages[to]) continue;
      // In the checkout a package may be there only for its tests (dev); here everything is the engine's.
      const { dev: _dev, devOptional: _devOptional, ...copied } = source[at]!;
      packages[to] = copied;
      queue.push({ from: at, entry: copied });
    }
  }
  const sorted = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { name: project.name, version: project.version, lockfileVersion: 3, requires: true, packages: sorted };
}
