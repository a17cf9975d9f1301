/**
 * What the bench measures: each requested backend, and the wasm backend up to three times when
 * the native kernels are built: with them (what reprobook runs: oneDNN's convolutions where
 * built), with OpenBLAS's convolutions alone (what a machine without oneDNN runs) and with
 * XNNPACK alone (what a machine without OpenBLAS runs), so one bench run gives all side by side.
 */
export const OPENBLAS_TARGET = 'wasm-openblas';
export const XNNPACK_TARGET = 'wasm-xnnpack';

export function expandTargets(backends: readonly string[]): string[] {
  return backends.flatMap((b) => (b === 'wasm' ? ['wasm', OPENBLAS_TARGET, XNNPACK_TARGET] : [b]));
}

export type Entered = { ok: true; label: string } | { ok: false; reason: string };

/**
 * Activate a target; `label` is the backend identity its results carry (e.g.
 * "wasm+native2+onednn-2.6.3-avx512_core_bf16+openblas-0.3.21-haswell", "wasm", "cpu").
 * Never throws.
 */
export async function enterTarget(name: string): Promise<Entered> {
  const { initBackend, backendIdentity } = await import('../ml/backends/select.ts');
  const { setNativeKernelsEnabled, setOneDnnEnabled, activeNativeKernels } = await import('../ml/backends/native-kernels.ts');
  try {
    setNativeKernelsEnabled(true);
    setOneDnnEnabled(true);
    await initBackend((name === XNNPACK_TARGET || name === OPENBLAS_TARGET ? 'wasm' : name) as Parameters<typeof initBackend>[0]);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  if (name === OPENBLAS_TARGET) {
    const withOneDnn = activeNativeKernels();
    setOneDnnEnabled(false);
    if (!withOneDnn) return { ok: false, reason: "the native kernels are not built, so 'wasm' above already ran on XNNPACK" };
    if (activeNativeKernels() === withOneDnn) return { ok: false, reason: "oneDNN is not built, so 'wasm' above already ran on OpenBLAS" };
  }
  if (name === XNNPACK_TARGET) {
    if (!activeNativeKernels()) return { ok: false, reason: "the native kernels are not built, so 'wasm' above already ran on XNNPACK" };
    setNativeKernelsEnabled(false);
  }
  return { ok: true, label: backendIdentity() };
}

/** Put the default kernels back after a suite. */
export async function leaveTargets(): Promise<void> {
  const { setNativeKernelsEnabled, setOneDnnEnabled } = await import('../ml/backends/native-kernels.ts');
  setNativeKernelsEnabled(true);
  setOneDnnEnabled(true);
}
