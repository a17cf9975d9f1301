import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cp, mkdtemp, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A throwaway copy of this project (documents copied, code and packages linked) with an
 * empty artifact store: what the end-to-end test and the smoke bench run `build` in, so
 * that they start from nothing and never touch the checkout's .reprobook/ or _site/.
 */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export async function projectCopy(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-copy-'));
  for (const p of ['notebooks', 'report', 'reprobook.config.yaml', 'package.json', 'package-lock.json']) await cp(join(REPO_ROOT, p), join(root, p), { recursive: true });
  for (const p of ['src', 'node_modules', 'data']) await symlink(join(REPO_ROOT, p), join(root, p));
  return root;
}

/** `reprobook build --root ROOT ...` in a child process, its output kept. */
export function buildIn(root: string, args: string[], env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> & { log: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/engine/cli/main.ts'), 'build', '--root', root, '--out', join(root, '_site'), ...args], {
    cwd: root, encoding: 'utf8', env, timeout: 20 * 60_000,
  });
  return { ...r, log: `${r.stdout}\n${r.stderr}` };
}
