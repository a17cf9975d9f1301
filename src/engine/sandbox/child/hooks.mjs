// Module hooks of the sandboxed process (registered by guard.mjs, before tsx's): code that
// would start esbuild's process gets a module that asks the parent instead. They apply to
// tsx's own hooks too, which import esbuild in the loader's thread.
import './compat.mjs';

let socket = '';
const ESBUILD = new URL('./esbuild.mjs', import.meta.url);
const OPS = new URL('./esbuild-ops.mjs', import.meta.url);
const ENGINE_OPS = new URL('../../util/esbuild-ops.ts', import.meta.url).href;

export function initialize(data) {
  socket = data.socket;
}

function withSocket(url) {
  const u = new URL(url);
  u.searchParams.set('socket', socket);
  return u.href;
}

export async function resolve(specifier, context, next) {
  if (specifier === 'esbuild') return { url: withSocket(ESBUILD), format: 'module', shortCircuit: true };
  const r = await next(specifier, context);
  if (r.url === ENGINE_OPS) return { url: withSocket(OPS), format: 'module', shortCircuit: true };
  return r;
}
