import type { Command } from 'commander';

/**
 * Every subcommand module exports `register(program)`. Modules are imported lazily by
 * name so that a command's heavy dependencies (tfjs, jsdom, playwright) load only
 * when that command runs... the registration itself is cheap.
 */
const modules = ['create', 'run', 'build', 'preview', 'diff', 'verify', 'bundle', 'freeze'] as const;

export async function registerCommands(program: Command): Promise<void> {
  for (const name of modules) {
    const mod = (await import(`./${name}.ts`)) as { register: (p: Command) => void };
    mod.register(program);
  }
}
