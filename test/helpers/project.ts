import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createProject } from '../../src/engine/create/create.ts';

/**
 * A project of someone else's, as `reprobook create` starts it, built with this checkout's
 * engine and no network: the engine is installed as npm installs a `file:` dependency (a link
 * in node_modules, and its bin in node_modules/.bin), so the project's own npm scripts run it.
 * Linked by hand rather than by `npm install file:…`, which asks the registry and may install
 * the engine's dependencies into this checkout's src/engine/node_modules, under the other
 * tests; test/engine-package.test.ts installs the packed engine as a user does.
 */

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** This checkout's engine package: the workspace src/engine (the npm package `reprobook`). */
export const ENGINE_DIR = join(REPO_ROOT, 'src', 'engine');

/** Link this checkout's engine into `root`'s node_modules, with its commands in node_modules/.bin. */
export async function installEngine(root: string): Promise<void> {
  const modules = join(root, 'node_modules');
  await mkdir(join(modules, '.bin'), { recursive: true });
  await symlink(ENGINE_DIR, join(modules, 'reprobook'), 'dir');
  const pkg = JSON.parse(await readFile(join(ENGINE_DIR, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  for (const [name, file] of Object.entries(pkg.bin)) {
    const target = join(modules, 'reprobook', file);
    await symlink(relative(join(modules, '.bin'), target), join(modules, '.bin', name));
  }
}

/** A temporary folder, removed after the test. */
export async function scratchDir(t: { after: (fn: () => Promise<void>) => void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A new project from the template in a temporary folder, this checkout's engine installed. */
export async function scaffoldProject(t: { after: (fn: () => Promise<void>) => void }, name = 'my-project'): Promise<string> {
  const root = join(await scratchDir(t, 'reprobook-create-'), name);
  await createProject({ dir: root });
  await installEngine(root);
  return root;
}
