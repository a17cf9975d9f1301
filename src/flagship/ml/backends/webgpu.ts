import * as tf from '@tensorflow/tfjs';

/**
 * The WebGPU backend in Node: tfjs's `@tensorflow/tfjs-backend-webgpu` on Dawn, Chromium's
 * WebGPU implementation, from the `webgpu` npm package, whose tarball carries a prebuilt
 * `dawn.node` for linux-x64 (no download at install time) and reaches the GPU through Vulkan.
 *
 * Neither package is a dependency (the tarball is 51 MB, of no use without a GPU): install them
 * where there is one, or carry them there (src/flagship/bench/gpu-check.sh). What Dawn needs
 * on the machine: the Vulkan loader (libvulkan.so.1, Debian's libvulkan1) and the GPU driver's
 * Vulkan part (for NVIDIA, its ICD file nvidia_icd.json and libGLX_nvidia.so.0).
 */

export const WEBGPU_PACKAGES = { dawn: 'webgpu', backend: '@tensorflow/tfjs-backend-webgpu' } as const;

export const WEBGPU_INSTALL = 'npm install --no-save webgpu@0.6 @tensorflow/tfjs-backend-webgpu@4.22';

export const WEBGPU_FIX = `on a machine with a GPU: ${WEBGPU_INSTALL}, and the Vulkan loader (apt-get install libvulkan1) with the GPU driver's Vulkan support`;

/** The GPU Dawn found, as WebGPU describes it. */
export interface GpuAdapter {
  vendor: string;
  architecture: string;
  description: string;
}

/** How the two packages are loaded: `import()`s that a bundler can follow (gpu-check.sh), or stand-ins in tests. */
export interface WebGpuModules {
  dawn(): Promise<unknown>;
  backend(): Promise<unknown>;
}

const installedModules: WebGpuModules = {
  dawn: () => import('webgpu'),
  backend: () => import('@tensorflow/tfjs-backend-webgpu'),
};

interface Dawn {
  create(options: string[]): { requestAdapter(o?: { powerPreference?: string }): Promise<DawnAdapter | null> };
  globals: Record<string, unknown>;
}

interface DawnAdapter {
  isFallbackAdapter?: boolean;
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
}

export type WebGpuSetup = { ok: true; adapter: GpuAdapter } | { ok: false; reason: string };

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe/i;

/**
 * Load Dawn, find a hardware GPU and register tfjs's 'webgpu' backend on it (not yet active).
 * Never throws: the reason says what is missing, in words a user can act on.
 *
 * tfjs's WebGPU backend is written for browsers: it finds the GPU at `navigator.gpu` when the
 * package is imported, and its kernels name `GPUBufferUsage` and its siblings as globals.
 * Dawn provides both, and they are installed here, once, for that reason only.
 */
export async function registerWebGpu(modules: WebGpuModules = installedModules): Promise<WebGpuSetup> {
  let dawn: Dawn;
  try {
    dawn = (await modules.dawn()) as Dawn;
  } catch (err) {
    return { ok: false, reason: missingOrBroken(WEBGPU_PACKAGES.dawn, err, 'Dawn for Node') };
  }
  let adapter: DawnAdapter | null;
  const gpu = dawn.create([]);
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return { ok: false, reason: `Dawn failed to look for a GPU: ${String((err as Error).message ?? err).split('\n')[0]}` };
  }
  if (!adapter) return { ok: false, reason: 'Dawn found no GPU adapter (no Vulkan loader libvulkan.so.1, or no Vulkan driver for the GPU)' };
  const info = adapter.info ?? {};
  const found: GpuAdapter = { vendor: info.vendor ?? '', architecture: info.architecture ?? '', description: info.description ?? info.device ?? '' };
  if (adapter.isFallbackAdapter || SOFTWARE_ADAPTER.test(`${found.description} ${found.vendor}`)) {
    return { ok: false, reason: `Dawn found only a software adapter (${found.description || found.vendor}), slower than the wasm backend` };
  }
  if (!tf.findBackendFactory('webgpu')) {
    Object.assign(globalThis, dawn.globals);
    const nav = (globalThis as { navigator?: object }).navigator;
    if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
    else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    try {
      await modules.backend();
    } catch (err) {
      return { ok: false, reason: missingOrBroken(WEBGPU_PACKAGES.backend, err, "tfjs's WebGPU backend") };
    }
    if (!tf.findBackendFactory('webgpu')) return { ok: false, reason: `${WEBGPU_PACKAGES.backend} loaded but did not register a 'webgpu' backend` };
  }
  return { ok: true, adapter: found };
}

function missingOrBroken(pkg: string, err: unknown, what: string): string {
  const e = err as { code?: string; message?: string };
  if (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') return `package ${pkg} (${what}) not installed; where there is a GPU: ${WEBGPU_INSTALL}`;
  return `package ${pkg} (${what}) failed to load: ${String(e?.message ?? err).split('\n')[0]}`;
}

/** A short name of the GPU for the backend identity, e.g. "nvidia-hopper". */
export function adapterSlug(a: GpuAdapter): string {
  const s = [a.vendor, a.architecture].filter(Boolean).join('-') || a.description;
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'unknown-gpu';
}

/**
 * Whether the active backend keeps subnormal float32 values through a matrix product and a
 * convolution. GPUs may flush them to zero for speed (WGSL allows it); FGSM on a distilled
 * network differentiates through gradients of 1e-40 to 1e-20, which would become exact zeros.
 */
export function keepsSubnormals(): boolean {
  const tiny = 1e-40;
  const [m, c] = tf.tidy(() => [
    tf.matMul(tf.tensor2d([[tiny, tiny]]), tf.tensor2d([[1], [1]])).dataSync()[0]!,
    tf.conv2d(tf.fill([1, 3, 3, 1], tiny) as tf.Tensor4D, tf.ones([3, 3, 1, 1]) as tf.Tensor4D, 1, 'valid').dataSync()[0]!,
  ]);
  return m !== 0 && c !== 0;
}
