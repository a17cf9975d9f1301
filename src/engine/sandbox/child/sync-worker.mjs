// A thread that asks the parent on behalf of a thread that must wait for the answer
// (esbuild.mjs's transformSync: tsx compiles CommonJS TypeScript synchronously). The asker
// blocks on a shared flag (Atomics.wait); the answer comes back on a port of its own.
import { parentPort, workerData } from 'node:worker_threads';
import { call, configure } from './bridge-client.mjs';

configure(workerData.socket);
parentPort.on('message', async ({ flag, port, op, args }) => {
  let reply;
  try {
    reply = { ok: true, value: await call(op, args) };
  } catch (err) {
    reply = { ok: false, error: { name: err.name, message: err.message, errors: err.errors ?? [], warnings: err.warnings ?? [] } };
  }
  port.postMessage(reply);
  port.close();
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
