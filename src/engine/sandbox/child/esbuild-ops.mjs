// src/engine/util/esbuild-ops.ts in the sandboxed process (hooks.mjs redirects it here): the
// same two questions, answered by the parent (../bridge.ts), which refuses what cells may not
// read. The exports match esbuild-ops.ts's.
import { call, configure } from './bridge-client.mjs';

configure(new URL(import.meta.url).searchParams.get('socket'));

export function importGraph(local, o) {
  return call('importGraph', [local, { base: o.base, fromDir: o.fromDir }]);
}

export function resolveImport(spec, resolveDir) {
  return call('resolveImport', [spec, resolveDir]);
}
