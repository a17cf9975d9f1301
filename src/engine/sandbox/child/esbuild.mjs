// What `import 'esbuild'` gives code in the sandboxed process (hooks.mjs redirects it here):
// tsx, which compiles the project's TypeScript, and the runner, which compiles cells. esbuild's
// own package starts esbuild as a process of its own, which the permission model refuses (and
// a process of its own would read and write outside it): `transform` goes to the parent's
// esbuild instead (bridge-client.mjs); a transform reads no file. The bundler (build,
// context) is not offered; the engine asks its questions through esbuild-ops.mjs.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { call, configure } from './bridge-client.mjs';

const socket = new URL(import.meta.url).searchParams.get('socket');
configure(socket);

export const version = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('esbuild/package.json'), 'utf8')).version;

export async function transform(input, options = {}) {
  try {
    return await call('transform', [typeof input === 'string' ? input : Buffer.from(input).toString('utf8'), options]);
  } catch (err) {
    // As esbuild's own: tsx and the runner read `errors` (with their locations).
    err.errors ??= [];
    err.warnings ??= [];
    throw err;
  }
}

function unavailable(name, why) {
  return () => {
    const e = new Error(`esbuild's ${name}() is not available under --sandbox: ${why}`);
    e.code = 'ERR_ACCESS_DENIED';
    e.permission = 'ChildProcess';
    e.resource = 'esbuild';
    throw e;
  };
}

const bundler = 'it runs esbuild in a process of its own, outside the sandbox';
let asker = null;

/** tsx compiles CommonJS TypeScript (a .ts file outside a "type": "module" package) synchronously. */
export function transformSync(input, options = {}) {
  if (!asker) {
    asker = new Worker(new URL('./sync-worker.mjs', import.meta.url), { workerData: { socket } });
    asker.unref();
  }
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  asker.postMessage({ flag, port: port2, op: 'transform', args: [typeof input === 'string' ? input : Buffer.from(input).toString('utf8'), options] }, [port2]);
  Atomics.wait(flag, 0, 0);
  const reply = receiveMessageOnPort(port1).message;
  port1.close();
  if (reply.ok) return reply.value;
  throw Object.assign(new Error(reply.error.message), reply.error);
}
export const build = unavailable('build', bundler);
export const buildSync = unavailable('buildSync', bundler);
export const context = unavailable('context', bundler);
export const formatMessages = unavailable('formatMessages', bundler);
export const formatMessagesSync = unavailable('formatMessagesSync', bundler);
export const analyzeMetafile = unavailable('analyzeMetafile', bundler);
export const analyzeMetafileSync = unavailable('analyzeMetafileSync', bundler);
export const initialize = unavailable('initialize', bundler);
export const stop = () => {};

export default { version, transform, transformSync, build, buildSync, context, formatMessages, formatMessagesSync, analyzeMetafile, analyzeMetafileSync, initialize, stop };
