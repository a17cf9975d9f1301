import type { Command } from 'commander';
import type { ProjectPlugin } from '../engine/plugin.ts';

/**
 * The distillation reproduction as a project on the engine (reprobook.config.yaml names
 * this file as its `plugin:`): its own subcommands, and the backend identity recorded with
 * every executed notebook. Each command module loads its dependencies (tfjs, MNIST) only
 * when it runs.
 */
const COMMANDS = ['doctor', 'data', 'experiment', 'cross-check', 'bench'] as const;

export async function commands(program: Command): Promise<void> {
  for (const name of COMMANDS) {
    const mod = (await import(`./commands/${name}.ts`)) as { register: (p: Command) => void };
    mod.register(program);
  }
  // A typo in $REPROBOOK_BACKEND must stop every command, not only those that happen to load
  // a backend: a build whose notebooks are all cached would otherwise accept it and exit 0.
  program.hook('preAction', async () => {
    const { preferenceFromEnv } = await import('./ml/backends/names.ts');
    preferenceFromEnv();
  });
}

/** The backend the cells computed on, kernel set included ("wasm+native2+onednn-2.6.3-avx512_core_bf16+openblas-0.3.21-haswell"). */
export async function environment(): Promise<{ backend?: string }> {
  const { activeBackendIdentity } = await import('./ml/backends/active.ts');
  const backend = activeBackendIdentity();
  return backend ? { backend } : {};
}

export default { commands, environment } satisfies ProjectPlugin;
