import { existsSync, realpathSync } from 'node:fs';
import { lstat, readdir, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.ts';

/**
 * What cells may do under `--sandbox` (README: "Running someone else's project"): read the project (its
 * node_modules included) and reprobook's own files, write the project's artifact store
 * (`.reprobook/artifacts/`: the rest of `.reprobook/`, the stored runs and results, is written by
 * the parent, so a cell cannot forge another notebook's run), and what the project declares
 * beyond that in reprobook.config.yaml:
 *
 *   sandbox:
 *     read: [../shared/mnist]   # more files or folders cells may read (relative to the root)
 *     write: [/tmp/scratch]     # more places cells may write
 *     addons: true              # native addons (.node) may load; they run outside every check
 *
 * Processes and network connections are never granted. A reviewer sees the grants in the
 * config and in the first line of the run.
 */
export interface SandboxDeclaration {
  read: string[];
  write: string[];
  addons: boolean;
}

/** What a command asks of the sandbox beyond the project's own declaration. */
export interface SandboxRequest {
  /** More folders cells may read: `verify` runs a scratch copy whose files link to the project. */
  alsoRead?: string[];
}

/** Absolute grants, as the sandboxed process's flags say them. */
export interface SandboxPolicy {
  /** The folders the project brought (the root, declared reads): symbolic links in them are checked (checkLinks). */
  projectRead: string[];
  /** Everything cells may read: projectRead and reprobook's own install. */
  read: string[];
  write: string[];
  addons: boolean;
}

const KEYS = ['read', 'write', 'addons'];

/** The config's `sandbox:` value, checked; `fail(key, message, hint)` reports a bad one at its line. */
export function validateSandboxDeclaration(value: unknown, fail: (key: string | null, message: string, hint?: string) => never): SandboxDeclaration | undefined {
  if (value === undefined || value === null) return undefined;
  const example = 'e.g. sandbox: { read: [../data], write: [], addons: true }';
  if (typeof value !== 'object' || Array.isArray(value)) fail(null, 'sandbox must be a map of read, write and addons', example);
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v)) if (!KEYS.includes(k)) fail(k, `unknown sandbox key '${k}'`, `valid keys: ${KEYS.join(', ')}; processes and network connections are never granted`);
  const paths = (k: 'read' | 'write'): string[] => {
    const list = v[k] ?? [];
    if (!Array.isArray(list) || !list.every((p) => typeof p === 'string' && p.trim() !== '')) fail(k, `sandbox ${k} must be a list of paths (files or folders), relative to the project root or absolute`, example);
    // Node's --allow-fs-* flags split their value at commas.
    for (const p of list as string[]) if (p.includes(',')) fail(k, `sandbox ${k}: '${p}' contains a comma, which Node's permission flags cannot take`, 'rename the folder, or link it from one without a comma');
    return list as string[];
  };
  if (v.addons !== undefined && typeof v.addons !== 'boolean') fail('addons', 'sandbox addons must be true or false');
  return { read: paths('read'), write: paths('write'), addons: v.addons === true };
}

/** reprobook's own install: its code, tsx and esbuild, which the sandboxed process loads. */
export const ENGINE_ROOT = realpathSync(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'));

/** A path and, when it differs, the path with its links resolved (Node checks the path it is given; modules load by their real path). */
function withRealPath(p: string): string[] {
  try {
    const real = realpathSync(p);
    return real === p ? [p] : [p, real];
  } catch {
    return [p];
  }
}

export function sandboxPolicy(root: string, declared: SandboxDeclaration | undefined, request: SandboxRequest = {}): SandboxPolicy {
  const abs = (p: string) => resolve(root, p);
  const projectRead = [...new Set([root, ...(request.alsoRead ?? []), ...(declared?.read ?? []).map(abs)].flatMap(withRealPath))];
  const write = [...new Set([join(root, '.reprobook', 'artifacts'), ...(declared?.write ?? []).map(abs)].flatMap(withRealPath))];
  for (const p of [...projectRead, ...write]) {
    if (p.includes(',')) throw new UserError(`--sandbox cannot grant ${p}: it contains a comma, which Node's permission flags cannot take`, 'move the project to a path without a comma');
  }
  return { projectRead, read: [...new Set([...projectRead, ENGINE_ROOT])], write, addons: declared?.addons ?? false };
}

export function isInside(path: string, dirs: string[]): boolean {
  return dirs.some((d) => path === d || path.startsWith(d.endsWith(sep) ? d : d + sep));
}

/**
 * A grant of a path and what is under it. Node 20 grants everything under a folder that
 * exists, but takes a path that does not exist yet for a file: such a path is granted as the
 * folder it will be, `<path>/*`. (Not both: a worker thread started once the folder exists
 * applies the grants again, and Node 20.20 aborts on an assertion when a folder is granted
 * twice.) The store exists before the process starts (host.ts).
 */
function grant(flag: string, p: string): string[] {
  return [`${flag}=${existsSync(p) ? p : join(p, '*')}`];
}

/** The sandboxed process's Node options for `policy` (Node 20's permission model; --permission from Node 22.13). */
export function permissionFlags(policy: SandboxPolicy, nodeVersion = process.versions.node): string[] {
  const [major = 0, minor = 0] = nodeVersion.split('.').map(Number);
  const stable = major > 22 || (major === 22 && minor >= 13);
  return [
    stable ? '--permission' : '--experimental-permission',
    // Needed by module hooks (tsx), the notebook workers and a project's worker pools; the
    // guard (child/guard.mjs) keeps workers inside the permission model.
    '--allow-worker',
    ...policy.read.flatMap((p) => grant('--allow-fs-read', p)),
    ...policy.write.flatMap((p) => grant('--allow-fs-write', p)),
    ...(policy.addons ? ['--allow-addons'] : []),
    // The permission model's own warnings, on every process and thread: the README says it once.
    '--disable-warning=ExperimentalWarning',
    '--disable-warning=SecurityWarning',
  ];
}

/**
 * Node's permission model checks the path a file is opened by, and follows symbolic links
 * from there (its documented limitation): a link in the project to a folder outside would
 * open that folder to the cells. So a run under --sandbox refuses to start when a link in
 * what cells may read leads outside it, or when there is any link where they may write (a
 * relative link moved elsewhere would lead somewhere else). Cells cannot make links: the
 * permission model refuses that.
 */
export async function checkLinks(policy: SandboxPolicy, root: string): Promise<void> {
  const realRead = await Promise.all(policy.read.map((p) => realpath(p).catch(() => p)));
  const shown = (p: string) => (isInside(p, [root]) ? relative(root, p) : p);
  for (const dir of policy.projectRead) {
    for (const link of await linksUnder(dir)) {
      if (isInside(link, policy.write)) {
        throw new UserError(`--sandbox: ${shown(link)} is a symbolic link where cells may write`, 'remove it: cells may not write through links');
      }
      const target = await realpath(link).catch(() => null);
      if (target !== null && !isInside(target, realRead)) {
        const hint = isAbsolute(target) ? `remove the link, or declare its target in reprobook.config.yaml: sandbox: { read: [${target}] }` : 'remove the link';
        throw new UserError(`--sandbox: ${shown(link)} is a symbolic link to ${target}, outside what cells may read`, hint);
      }
    }
  }
  // Declared places outside the project (the store, inside it, was walked above).
  for (const dir of policy.write.filter((d) => !isInside(d, policy.projectRead))) {
    const links = await linksUnder(dir);
    if (links.length > 0) throw new UserError(`--sandbox: ${shown(links[0]!)} is a symbolic link where cells may write`, 'remove it: cells may not write through links');
  }
}

async function linksUnder(path: string): Promise<string[]> {
  const st = await lstat(path).catch(() => null);
  if (!st) return [];
  if (st.isSymbolicLink()) return [path];
  if (!st.isDirectory()) return [];
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isSymbolicLink()).map((e) => join(e.parentPath, e.name));
}
