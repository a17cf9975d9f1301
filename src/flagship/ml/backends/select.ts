import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { UserError } from '../../../engine/util/errors.ts';
import { setActiveBackendIdentity } from './active.ts';
import { BACKEND_NAMES, fastTrainingKernelsFromEnv, resolvePreference, type BackendName, type BackendPreference } from './names.ts';
import { activeNativeKernels, registerNativeKernels, type NativeKernelsStatus } from './native-kernels.ts';
import { adapterSlug, keepsSubnormals, registerWebGpu, WEBGPU_FIX, WEBGPU_PACKAGES, type GpuAdapter } from './webgpu.ts';

/**
 * Choosing and initialising the TensorFlow.js backend.
 *
 * `auto` tries, best first: tfjs-node-gpu (only with a usable GPU), WebGPU on Dawn (only with
 * a hardware GPU; webgpu.ts), tfjs-node, wasm (with our XNNPACK convolution gradients and the
 * native kernels), cpu. The native packages are optional dependencies whose install fails
 * where libtensorflow cannot be downloaded, and the WebGPU ones are installed by hand where
 * there is a GPU, so each attempt records why it was skipped: that explanation is what
 * `reprobook doctor` prints. A GPU backend that flushes subnormal floats to zero is skipped by
 * `auto` (FGSM on distilled networks needs them) and only used when asked for by name.
 */
export { BACKEND_ENV, BACKEND_NAMES, parseBackendName, preferenceFromEnv, resolvePreference } from './names.ts';
export type { BackendName, BackendPreference } from './names.ts';

export interface BackendAttempt {
  name: BackendName;
  available: boolean;
  /** Why it is unavailable (or a note on how it was set up). */
  reason?: string;
}

export interface BackendVersions {
  node: string;
  tfjs: string;
  tfjsCore: string;
  tfjsBackendWasm?: string;
  tfjsNode?: string;
  tfjsBackendWebgpu?: string;
  webgpu?: string;
}

export interface BackendReport {
  chosen: BackendName;
  /** What tf.getBackend() says ('tensorflow', 'wasm', 'cpu'). */
  tfjsBackend: string;
  /** Every backend considered, in the order tried. */
  attempts: BackendAttempt[];
  versions: BackendVersions;
  /** wasm only: threads XNNPACK uses (always 1 in Node) and whether SIMD is on. */
  threads?: number;
  simd?: boolean;
  /** wasm only: whether the OpenBLAS convolution kernels (native/) are in use, and why not. */
  nativeKernels?: NativeKernelsStatus;
  /** webgpu only: the GPU Dawn computes on. */
  gpu?: GpuAdapter;
}

/** Where a backend is described in a result's provenance. */
export interface BackendProvenance {
  backend: BackendName;
  tfjsBackend: string;
  versions: BackendVersions;
  threads?: number;
  simd?: boolean;
  /** The native convolution kernels that computed alongside it, e.g. "native2+onednn-2.6.3-avx512_core_bf16+openblas-0.3.21-haswell". */
  kernels?: string;
}

const require = createRequire(import.meta.url);

function packageVersion(name: string): string | undefined {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return undefined;
  }
}

function errorSummary(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const msg = String(e?.message ?? err).split('\n')[0]!;
  return msg.length > 200 ? `${msg.slice(0, 200)}…` : msg;
}

/** Why a native package cannot be loaded, in words a user can act on. */
function nativeLoadFailure(pkg: string, err: unknown): string {
  const e = err as { code?: string };
  if ((e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') && !packageVersion(pkg)) {
    return `package ${pkg} not installed (its install downloads libtensorflow, which failed or was unreachable; it is an optional dependency)`;
  }
  return `package ${pkg} is installed but failed to load: ${errorSummary(err)}`;
}

/** Undefined when a GPU that tfjs-node-gpu could use is visible (an NVIDIA device node), else why not. */
function gpuVisible(): string | undefined {
  if (existsSync('/dev/nvidia0')) return undefined;
  return 'no NVIDIA GPU visible (/dev/nvidia0 absent)';
}

/** `auto`: the user did not name this backend, so one that would compute wrongly is skipped. */
type Attempt = (auto: boolean) => Promise<{ ok: true; note?: string } | { ok: false; reason: string }>;

const SUBNORMALS_FLUSHED = 'flushes subnormal floats to zero, which FGSM on distilled networks needs (its gradients are 1e-40 to 1e-20)';

/**
 * After a GPU backend is set: under `auto`, one that flushes subnormals is refused (the caller
 * moves on to the next backend); named, it is used, with a note that doctor prints.
 */
function checkSubnormals(name: string, auto: boolean): { ok: true; note?: string } | { ok: false; reason: string } {
  if (keepsSubnormals()) return { ok: true };
  return auto ? { ok: false, reason: `${name} ${SUBNORMALS_FLUSHED}; name it (--backend ${name}) to use it anyway` } : { ok: true, note: `WARNING: ${SUBNORMALS_FLUSHED}` };
}

async function tryNative(pkg: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await import(pkg);
  } catch (err) {
    return { ok: false, reason: nativeLoadFailure(pkg, err) };
  }
  try {
    if (!(await tf.setBackend('tensorflow'))) return { ok: false, reason: `${pkg} loaded but the 'tensorflow' backend failed to initialise` };
    await tf.ready();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `${pkg} loaded but its backend failed: ${errorSummary(err)}` };
  }
}

let wasmPathsSet = false;
let wasmSimd: boolean | undefined;
let wasmThreads: number | undefined;
let wasmNative: NativeKernelsStatus | undefined;
/** Our faster wasm training kernels (wasm-training-kernels.ts) registered: they sum in another order, so they are in the identity. */
let wasmFastKernels = true;

/** Load the wasm backend with our convolution gradients; never throws. */
async function tryWasm(): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const { registerWasmConvGradients } = await import('./wasm-kernels.ts');
    const { registerWasmTrainingKernels } = await import('./wasm-training-kernels.ts');
    registerWasmConvGradients();
    wasmFastKernels = fastTrainingKernelsFromEnv();
    if (wasmFastKernels) registerWasmTrainingKernels();
    wasmNative = registerNativeKernels();
    if (!wasmPathsSet) {
      // The binaries ship in the package's dist/; in Node a file path prefix is what works.
      wasm.setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
      wasmPathsSet = true;
    }
    if (!(await tf.setBackend('wasm'))) return { ok: false, reason: 'the wasm backend failed to initialise' };
    await tf.ready();
    wasmSimd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
    wasmThreads = wasm.getThreadsCount();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `wasm backend failed: ${errorSummary(err)}` };
  }
}

async function tryCpu(): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    if (!(await tf.setBackend('cpu'))) return { ok: false, reason: 'the cpu backend failed to initialise' };
    await tf.ready();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `cpu backend failed: ${errorSummary(err)}` };
  }
}

let webgpuAdapter: GpuAdapter | undefined;

async function tryWebGpu(auto: boolean): Promise<{ ok: true; note?: string } | { ok: false; reason: string }> {
  const setup = await registerWebGpu();
  if (!setup.ok) return setup;
  try {
    if (!(await tf.setBackend('webgpu'))) return { ok: false, reason: 'the webgpu backend failed to initialise on the GPU Dawn found' };
    await tf.ready();
  } catch (err) {
    return { ok: false, reason: `the webgpu backend failed: ${errorSummary(err)}` };
  }
  webgpuAdapter = setup.adapter;
  return checkSubnormals('webgpu', auto);
}

const attempts: Record<BackendName, Attempt> = {
  'tensorflow-gpu': async (auto) => {
    const noGpu = gpuVisible();
    if (noGpu) {
      // Loading tfjs-node-gpu without a GPU silently runs on the CPU: not what was asked for.
      const installed = packageVersion('@tensorflow/tfjs-node-gpu');
      return { ok: false, reason: installed ? noGpu : `${nativeLoadFailure('@tensorflow/tfjs-node-gpu', { code: 'MODULE_NOT_FOUND' })}; also ${noGpu}` };
    }
    const r = await tryNative('@tensorflow/tfjs-node-gpu');
    return r.ok ? checkSubnormals('tensorflow-gpu', auto) : r;
  },
  webgpu: tryWebGpu,
  tensorflow: () => tryNative('@tensorflow/tfjs-node'),
  wasm: tryWasm,
  cpu: tryCpu,
};

const FIX: Record<BackendName, string> = {
  'tensorflow-gpu': 'install @tensorflow/tfjs-node-gpu (needs CUDA 11.2, cuDNN 8.1 and network access to download libtensorflow) on a machine with an NVIDIA GPU, or choose --backend auto',
  webgpu: `${WEBGPU_FIX}; or choose --backend auto`,
  tensorflow: 'install @tensorflow/tfjs-node (needs network access to download libtensorflow), or choose --backend wasm / auto',
  wasm: 'reinstall dependencies (npm ci) so that @tensorflow/tfjs-backend-wasm and its .wasm files are present, or choose --backend cpu',
  cpu: 'reinstall dependencies (npm ci)',
};

function versions(): BackendVersions {
  return {
    node: process.versions.node,
    tfjs: tf.version.tfjs,
    tfjsCore: tf.version_core,
    tfjsBackendWasm: packageVersion('@tensorflow/tfjs-backend-wasm'),
    tfjsNode: packageVersion('@tensorflow/tfjs-node-gpu') ?? packageVersion('@tensorflow/tfjs-node'),
    tfjsBackendWebgpu: packageVersion(WEBGPU_PACKAGES.backend),
    webgpu: packageVersion(WEBGPU_PACKAGES.dawn),
  };
}

async function select(pref: BackendPreference): Promise<BackendReport> {
  const order: BackendName[] = pref === 'auto' ? [...BACKEND_NAMES] : [pref];
  const tried: BackendAttempt[] = [];
  for (const name of order) {
    const r = await attempts[name](pref === 'auto');
    if (r.ok) {
      tried.push({ name, available: true, ...(r.note ? { reason: r.note } : {}) });
      const report: BackendReport = { chosen: name, tfjsBackend: tf.getBackend(), attempts: tried, versions: versions() };
      if (name === 'wasm') {
        report.threads = wasmThreads;
        report.simd = wasmSimd;
        report.nativeKernels = wasmNative;
      }
      if (name === 'webgpu') report.gpu = webgpuAdapter;
      return report;
    }
    tried.push({ name, available: false, reason: r.reason });
    if (pref !== 'auto') {
      throw new UserError(`backend '${name}' is not available: ${r.reason}`, FIX[name]);
    }
  }
  throw new UserError(
    `no TensorFlow.js backend could be initialised: ${tried.map((a) => `${a.name}: ${a.reason}`).join('; ')}`,
    FIX.cpu,
  );
}

const reports = new Map<BackendPreference, Promise<BackendReport>>();
let current: BackendReport | undefined;

/**
 * Select and initialise a backend. `requested` is validated (an unknown name is a UserError
 * naming `source`, never a crash further down); 'auto', the default, defers to
 * $REPROBOOK_BACKEND, else tries every backend in order (see resolvePreference). Idempotent:
 * the same preference returns the same report (and re-activates that backend if another was
 * chosen since). Forcing an unavailable backend throws a UserError.
 */
export async function initBackend(requested: BackendPreference | string = 'auto', source?: string): Promise<BackendReport> {
  const pref = resolvePreference(requested, source);
  let p = reports.get(pref);
  if (!p) {
    p = select(pref);
    reports.set(pref, p);
    p.catch(() => reports.delete(pref));
  }
  const report = await p;
  if (tf.getBackend() !== report.tfjsBackend) {
    await tf.setBackend(report.tfjsBackend);
    await tf.ready();
  }
  current = report;
  // For the provenance of executed notebooks (the project plugin reads it): the identity
  // includes the kernel set, tfjs's own name does not.
  setActiveBackendIdentity(backendIdentity);
  return report;
}

/** The native kernels computing now on the active backend (wasm only), if any. */
function activeKernels(): string | undefined {
  return tf.getBackend() === 'wasm' ? activeNativeKernels() : undefined;
}

/** The GPU computing now, if any: its results differ from the same backend's on a CPU. */
function activeGpu(): string | undefined {
  if (tf.getBackend() === 'webgpu' && webgpuAdapter) return adapterSlug(webgpuAdapter);
  if (tf.getBackend() === 'tensorflow' && current?.chosen === 'tensorflow-gpu') return 'gpu';
  return undefined;
}

/**
 * What decides the bits of a result: the tfjs backend plus any native kernels or GPU computing
 * on it, e.g. "wasm", "wasm+native2+openblas-0.3.21-haswell" or "webgpu+nvidia-hopper". Keys
 * trained models and grid units, so a model trained with one kernel set is never served as if
 * another had trained it.
 */
export function backendIdentity(): string {
  const parts = [tf.getBackend(), activeKernels(), activeGpu()];
  // Named only when switched off, so that the default identity reads as before.
  if (tf.getBackend() === 'wasm' && !wasmFastKernels) parts.push('tfjs-training-kernels');
  return parts.filter(Boolean).join('+');
}

/** The active backend for provenance records; throws if `initBackend` has not run. */
export function describeBackend(): BackendProvenance {
  if (!current) throw new Error('describeBackend() called before initBackend()');
  const { chosen, tfjsBackend, versions: v, threads, simd } = current;
  const kernels = activeKernels();
  return {
    backend: chosen, tfjsBackend, versions: v,
    ...(threads !== undefined ? { threads } : {}), ...(simd !== undefined ? { simd } : {}), ...(kernels ? { kernels } : {}),
  };
}
