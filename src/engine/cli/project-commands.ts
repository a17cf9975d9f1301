import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadProjectConfig } from '../notebook/config.ts';
import { loadPlugin, pluginPath } from '../core/plugin.ts';

/**
 * The project's root as the command line names it (`--root DIR` or `--root=DIR`, else the
 * working directory). Read before commander parses, because the project's plugin decides
 * which commands exist.
 */
export function rootFromArgv(argv: string[], cwd = process.cwd()): string {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a === '--root' && i + 1 < argv.length) return resolve(cwd, argv[i + 1]!);
    if (a.startsWith('--root=')) return resolve(cwd, a.slice('--root='.length));
  }
  return cwd;
}

/** Register the subcommands of the project at `--root` (its config's `plugin:`), if it has any. */
export async function registerProjectCommands(program: Command, argv: string[]): Promise<void> {
  const root = rootFromArgv(argv);
  const config = await loadProjectConfig(root);
  const path = pluginPath(root, config.plugin);
  if (!path) return;
  const plugin = await loadPlugin(path, root);
  await plugin.commands?.(program);
}
