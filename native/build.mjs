#!/usr/bin/env node
// Builds the optional OpenBLAS convolution kernels (native/src/kernels.c) with node-gyp, and
// with them oneDNN's convolutions (native/src/onednn.c) where oneDNN's headers are installed.
// Run by `npm ci` (the root package's postinstall) and by `npm run build:native`.
//
// Optional by design: without a C compiler or OpenBLAS's headers reprobook still works on
// the XNNPACK kernels, so a failed build warns, names the fix, and exits 0, unless
// --strict is given (npm run build:native), which exits 1 so that a user who asked for
// the build sees it fail.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const strict = process.argv.includes('--strict');
const FIX = "install a C compiler and OpenBLAS's headers (Debian: apt-get install g++ make python3 libopenblas-dev), then run: npm run build:native";

function finish(ok, message) {
  const tag = ok ? 'reprobook: native kernels' : 'reprobook: WARNING: native kernels';
  console.log(`${tag}: ${message}`);
  if (!ok) {
    console.log('reprobook: everything works without them, on the XNNPACK kernels (2.5 to 3x slower to train);');
    console.log(`reprobook: fix: ${FIX}`);
  }
  process.exit(ok || !strict ? 0 : 1);
}

if (process.env.REPROBOOK_NATIVE_KERNELS === '0') finish(true, 'skipped (REPROBOOK_NATIVE_KERNELS=0)');

const headers = ['/usr/include/cblas.h', '/usr/include/x86_64-linux-gnu/cblas.h', '/usr/include/aarch64-linux-gnu/cblas.h', '/usr/local/include/cblas.h'];
if (!headers.some((h) => existsSync(h))) finish(false, `not built: OpenBLAS's cblas.h was not found (looked in ${headers.join(', ')})`);

// oneDNN is a second, optional step up: without it the convolutions run on OpenBLAS.
const DNNL_FIX = "for oneDNN's faster convolutions: apt-get install libdnnl-dev, then npm run build:native";
const dnnlHeaders = ['/usr/include/oneapi/dnnl/dnnl.h', '/usr/local/include/oneapi/dnnl/dnnl.h'];
const onednn = dnnlHeaders.some((h) => existsSync(h));

// npm passes its bundled node-gyp to scripts; outside npm, find the one next to npm itself.
const candidates = [
  process.env.npm_config_node_gyp,
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter(Boolean);
const gyp = candidates.find((p) => existsSync(p));
if (!gyp) finish(false, `not built: node-gyp was not found (looked for ${candidates.join(', ')})`);

// Build against this Node's own headers (no download) when npm did not say where they are.
const args = [gyp, 'rebuild'];
const prefix = dirname(dirname(process.execPath));
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
// gyp reads its variables from GYP_DEFINES (binding.gyp's "onednn" condition).
const gypDefines = [process.env.GYP_DEFINES, `onednn=${onednn ? 1 : 0}`].filter(Boolean).join(' ');
const r = spawnSync(process.execPath, args, { cwd: here, encoding: 'utf8', env: { ...process.env, GYP_DEFINES: gypDefines } });
if (r.status !== 0) {
  const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
  console.log(tail);
  finish(false, `not built: node-gyp rebuild exited with ${r.status ?? r.signal}`);
}
const built = join(here, 'build', 'Release', 'reprobook_kernels.node');
finish(true, onednn ? `built with OpenBLAS and oneDNN (${built})` : `built with OpenBLAS (${built}); ${DNNL_FIX}`);
