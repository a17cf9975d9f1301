// The sandboxed process's line to its parent (../bridge.ts), for the few things the permission
// model keeps it from doing itself because they need esbuild, a process of its own:
// compiling TypeScript and resolving imports. One connection per thread, over a Unix socket
// (a named pipe on Windows), newline-delimited JSON. The parent answers only questions that
// reveal nothing cells may not read, so a cell that uses this line gains nothing.
//
// Loaded first by the guard (guard.mjs), before it blocks sockets: `connect` is Node's own.
// The line goes to one path only, the one configured first.
import net from 'node:net';

const connect = net.Socket.prototype.connect;
let path = null;
let socket = null;
let nextId = 1;
const pending = new Map();

/** Set the bridge's socket path, once: a second, different path is refused. */
export function configure(socketPath) {
  if (path !== null && path !== socketPath) throw new Error('the sandbox bridge is configured already');
  path = socketPath;
}

function open() {
  const s = new net.Socket();
  let buffer = '';
  s.setEncoding('utf8');
  s.on('data', (chunk) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const reply = JSON.parse(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      const p = pending.get(reply.id);
      if (!p) continue;
      pending.delete(reply.id);
      if (pending.size === 0) s.unref();
      if (reply.ok) p.resolve(reply.value);
      else p.reject(Object.assign(new Error(reply.error.message), reply.error));
    }
  });
  const fail = (err) => {
    socket = null;
    const e = new Error(`the sandbox's parent process did not answer (${err?.message ?? 'connection closed'})`);
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  s.on('error', fail);
  s.on('close', () => fail(null));
  connect.call(s, path);
  return s;
}

/** Ask the parent: `op` with JSON arguments; the answer, or its error (name, message, esbuild's errors). */
export function call(op, args) {
  if (path === null) return Promise.reject(new Error('the sandbox bridge is not configured'));
  socket ??= open();
  // Referenced only while a question is open: an idle line must not keep a thread alive, nor
  // hide a cell that awaits forever (cell-guard.ts finds it by the event loop running dry).
  socket.ref();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    socket.write(`${JSON.stringify({ id, op, args })}\n`);
  });
}
