// The sandboxed process's main thread (../host.ts starts it): a relay that starts notebook
// workers (../../notebook/notebook-worker.mjs, the same entry as without --sandbox) at the
// parent's request and passes their messages both ways. No project code runs in this thread.
import { Worker } from 'node:worker_threads';

const ENTRY = new URL('../../notebook/notebook-worker.mjs', import.meta.url);
const workers = new Map();

function send(message) {
  process.send(message);
}

process.on('message', (m) => {
  if (m.op === 'start') {
    // No variables: the worker's are its notebook's (WorkerInput.env), as in isolation.ts.
    const w = new Worker(ENTRY, { workerData: m.input, env: {} });
    workers.set(m.id, w);
    w.on('message', (message) => send({ id: m.id, event: 'message', message }));
    w.on('error', (err) => send({ id: m.id, event: 'error', error: { name: err?.name ?? 'Error', message: err?.message ?? String(err), stack: err?.stack ?? '', code: err?.code, permission: err?.permission, resource: err?.resource } }));
    w.on('exit', (code) => {
      workers.delete(m.id);
      send({ id: m.id, event: 'exit', code });
    });
  } else if (m.op === 'post') {
    workers.get(m.id)?.postMessage(m.message);
  } else if (m.op === 'terminate') {
    void workers.get(m.id)?.terminate();
  }
});
// The parent gone (killed, say), nothing here has anyone to report to.
process.on('disconnect', () => process.exit(0));
send({ event: 'ready' });
// Ctrl-C reaches every process of the terminal's group: the parent decides what stops (it
// stops the running cell and stores its notebook as failed), so this process waits for it.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
