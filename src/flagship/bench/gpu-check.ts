/**
 * The bench on a GPU, as one file that gpu-check.sh bundles with tfjs and its WebGPU backend
 * and runs on a lent GPU machine that cannot reach the npm registry: the backend report (what
 * doctor prints: the GPU found, or why each GPU backend was skipped), the training and
 * input-gradient throughput of the paper's network at the experiment's batch (128) and at a
 * larger one, and where a training step's time goes, as JSON lines like `reprobook bench`.
 *
 *   node gpu-check.mjs [BACKEND] [SECONDS]     (default: webgpu 10)
 */
import { formatBackendReport, systemInfo } from '../ml/backends/info.ts';
import { initBackend } from '../ml/backends/select.ts';
import { profileKernels } from './kernels.ts';
import { measureInputGradient, measureTraining } from './training.ts';

const backend = process.argv[2] ?? 'webgpu';
const seconds = Number(process.argv[3] ?? 10);
const line = (r: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(r)}\n`);

line({ bench: 'system', ...systemInfo() });
let report;
try {
  report = await initBackend(backend, '--backend');
} catch (err) {
  // Why the GPU backend could not start: what the device run is for when it fails.
  const auto = await initBackend('auto');
  process.stdout.write(formatBackendReport(auto));
  line({ bench: 'gpu-check', backend, value: NaN, unit: 'images/s', skipped: (err as Error).message });
  process.exit(1);
}
process.stdout.write(formatBackendReport(report));
for (const batch of [128, 1024]) {
  const o = { batch, maxSteps: 1000, seconds, warmup: 3 };
  const t = await measureTraining(o);
  line({ bench: 'training', backend, batch, value: Math.round(t.imagesPerSecond), unit: 'images/s', steps: t.steps, seconds: t.seconds });
  const g = await measureInputGradient(o);
  line({ bench: 'input-gradient', backend, batch, value: Math.round(g.imagesPerSecond), unit: 'images/s', steps: g.steps, seconds: g.seconds });
}
for (const p of await profileKernels(128)) {
  for (const k of p.kernels.slice(0, 8)) line({ bench: 'kernel-profile', backend, phase: p.phase, kernel: k.kernel, value: k.ms, unit: 'ms', calls: k.calls, stepMs: p.totalMs });
}
