/**
 * What the bench measures: each requested backend, and the wasm backend twice when the
 * OpenBLAS kernels are built: with them (what reprobook runs) and with XNNPACK alone (what a
 * machine without OpenBLAS runs), so one bench run gives both figures side by side.
 */
export const XNNPACK_TARGET = 'wasm-xnnpack';

export function expandTargets(backends: readonly string[]): string[] {
  return backends.flatMap((b) => (b === 'wasm' ? ['wasm', XNNPACK_TARGET] : [b]));
}

export type Entered = { ok: true; label: string } | { ok: false; reason: string };

/**
 * Activate a target; `label` is the backend identity its results carry (e.g.
 * "wasm+openblas-0.3.21-zen", "wasm", "cpu"). Never throws.
 */
export async function enterTarget(name: string): Promise<Entered> {
  const { initBackend, backendIdentity } = await import('../ml/backends/select.ts');
  const { setNativeKernelsEnabled, activeNativeKernels } = await import('../ml/backends/native-kernels.ts');
  try {
    setNativeKernelsEnabled(true);
    await initBackend((name === XNNPACK_TARGET ? 'wasm' : name) as Parameters<typeof initBackend>[0]);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  if (name === XNNPACK_TARGET) {
    if (!activeNativeKernels()) return { ok: false, reason: "the OpenBLAS kernels are not built, so 'wasm' above already ran on XNNPACK" };
    setNativeKernelsEnabled(false);
  }
  return { ok: true, label: backendIdentity() };
}

/** Put the default kernels back after a suite. */
export async function leaveTargets(): Promise<void> {
  const { setNativeKernelsEnabled } = await import('../ml/backends/native-kernels.ts');
  setNativeKernelsEnabled(true);
}
