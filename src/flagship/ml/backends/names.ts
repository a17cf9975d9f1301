import { UserError } from '../../../engine/util/errors.ts';

/**
 * The backend names a user may write, and the one validation every way of naming a backend
 * goes through (`--backend`, `--param backend=...`, the `backend` parameter of a profile,
 * $REPROBOOK_BACKEND). Kept free of tfjs so that the CLI can check $REPROBOOK_BACKEND
 * before any command starts, cheaply.
 */
export type BackendName = 'tensorflow-gpu' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';
/** Also the order in which 'auto' tries them: GPUs first. */
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];
export type BackendPreference = BackendName | 'auto';

export const BACKEND_ENV = 'REPROBOOK_BACKEND';

/** `value` as a backend preference; anything else is a UserError naming where it came from. */
export function parsePreference(value: string, source: string): BackendPreference {
  const v = value.trim();
  if (v === 'auto' || (BACKEND_NAMES as readonly string[]).includes(v)) return v as BackendPreference;
  throw new UserError(
    `unknown backend '${value}' (from ${source})`,
    `use one of: auto, ${BACKEND_NAMES.join(', ')}`,
  );
}

/** The preference from the environment ($REPROBOOK_BACKEND), or 'auto'. */
export function preferenceFromEnv(env: NodeJS.ProcessEnv = process.env): BackendPreference {
  const v = env[BACKEND_ENV]?.trim();
  return v ? parsePreference(v, `$${BACKEND_ENV}`) : 'auto';
}

/** Validate a user-supplied backend name (e.g. a --backend option). */
export function parseBackendName(value: string, source = '--backend'): BackendPreference {
  return parsePreference(value, source);
}

/**
 * The backend to use when `requested` is asked for: a named backend wins; 'auto' (the
 * default of the `backend` parameter) leaves the choice to $REPROBOOK_BACKEND, else
 * tries every backend in order. The environment is checked either way, so that a typo in
 * it is never silently ignored.
 */
export function resolvePreference(requested: string = 'auto', source = "the 'backend' parameter", env: NodeJS.ProcessEnv = process.env): BackendPreference {
  const fromEnv = preferenceFromEnv(env);
  const pref = parsePreference(String(requested), source);
  return pref === 'auto' ? fromEnv : pref;
}

/**
 * REPROBOOK_WASM_FAST_KERNELS=0 keeps tfjs's own wasm kernels for the training step instead of
 * ours (wasm-training-kernels.ts): for the bench and for checking. Read where the backend is
 * first set up; the choice is part of backendIdentity(), and so of every key.
 */
export function fastTrainingKernelsFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.REPROBOOK_WASM_FAST_KERNELS !== '0';
}
