import { availableParallelism, cpus, freemem, totalmem } from 'node:os';
import type { BackendReport } from './select.ts';
import { NATIVE_FIX, ONEDNN_FIX } from './native-kernels.ts';

/** The machine, as `reprobook doctor` and the bench records describe it. */
export interface SystemInfo {
  platform: string;
  arch: string;
  node: string;
  cpuModel: string;
  /** Logical cores available to this process. */
  cores: number;
  memoryGiB: number;
  freeMemoryGiB: number;
}

export function systemInfo(): SystemInfo {
  const gib = (b: number) => Math.round((b / 2 ** 30) * 10) / 10;
  return {
    platform: process.platform,
    arch: process.arch,
    node: process.versions.node,
    cpuModel: cpus()[0]?.model?.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: gib(totalmem()),
    freeMemoryGiB: gib(freemem()),
  };
}

/** Plain-text lines describing a backend selection: the chosen one and why better ones were skipped. */
export function formatBackendReport(report: BackendReport): string {
  const lines: string[] = [];
  lines.push(`backend: ${report.chosen} (tf.getBackend() = '${report.tfjsBackend}')`);
  if (report.chosen === 'wasm') {
    lines.push(`  wasm: SIMD ${report.simd ? 'on' : 'off'}, ${report.threads ?? 1} thread(s) (tfjs-backend-wasm disables threads in Node)`);
    const native = report.nativeKernels;
    if (native?.available) {
      const dnnl = native.oneDnn;
      if (dnnl?.available) {
        lines.push(`  convolutions and their gradients: oneDNN through native/ (${native.id}); dense layers, pooling gradient, sums: ${native.blasConfig}`);
      } else {
        lines.push(`  convolutions and their gradients: OpenBLAS through native/ (${native.id}; ${native.blasConfig})`);
        if (dnnl) lines.push(`    oneDNN not used: ${dnnl.reason}${/=openblas/.test(dnnl.reason) ? '' : `; for faster convolutions: ${ONEDNN_FIX}`}`);
      }
    } else {
      lines.push(`  convolutions and their gradients: XNNPACK (OpenBLAS kernels unavailable: ${native?.reason ?? 'not tried'})`);
      if (native?.reason && !/=0/.test(native.reason)) lines.push(`    fix: ${NATIVE_FIX}`);
    }
  }
  if (report.chosen === 'webgpu' && report.gpu) {
    const g = report.gpu;
    lines.push(`  gpu: ${g.description || 'unnamed'} (${[g.vendor, g.architecture].filter(Boolean).join(', ')}) through Dawn`);
  }
  for (const a of report.attempts) {
    lines.push(`  ${a.available ? 'ok  ' : 'skip'} ${a.name}${a.reason ? `: ${a.reason}` : ''}`);
  }
  const v = report.versions;
  lines.push(`versions: node ${v.node}, tfjs ${v.tfjs}, tfjs-core ${v.tfjsCore}, tfjs-backend-wasm ${v.tfjsBackendWasm ?? 'not installed'}, tfjs-node ${v.tfjsNode ?? 'not installed'}, tfjs-backend-webgpu ${v.tfjsBackendWebgpu ?? 'not installed'}, webgpu (Dawn) ${v.webgpu ?? 'not installed'}`);
  return `${lines.join('\n')}\n`;
}
