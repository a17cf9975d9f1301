// Preloaded (--import) in every thread of the sandboxed process that runs JavaScript of the
// project's, before any of it loads (../host.ts starts the process; worker threads inherit
// the preload). Node's permission model, set on the process by its flags, refuses files
// outside the grants, processes and native addons. What it does not cover in Node 20, this
// guard covers in JavaScript, best effort (README: "Running someone else's project"):
//
// - worker threads: a Worker given its own `execArgv` runs *outside* the permission model
//   (measured on Node 20.20), and one started from a string (`eval: true`) skips this
//   preload: the first is started with the process's own options instead, the second refused;
// - module hooks (module.register): they run in a thread this preload never sees; only
//   tsx's and the sandbox's own are registered;
// - network: sockets, servers, UDP and DNS lookups are refused;
// - signals: process.kill of another process is refused;
// - files Node writes itself, past its checks: diagnostic reports sent to a folder or file of
//   the cell's choosing, or on a crash or signal.
//
// A refusal is an Error with code ERR_ACCESS_DENIED, like the permission model's, with a
// `permission` and a `resource`: the runner names the cell and what it was refused.
import * as bridge from './bridge-client.mjs';
import './compat.mjs';
import Module, { register, syncBuiltinESMExports } from 'node:module';
import workerThreads from 'node:worker_threads';
import net from 'node:net';
import dgram from 'node:dgram';
import dns from 'node:dns';

const socket = new URL(import.meta.url).searchParams.get('socket');
bridge.configure(socket);
// tsx keeps a disk cache of compiled modules in the system's temp folder: outside the grants,
// and a cache cells could write would be read by runs outside the sandbox. Its switch is a
// variable, read when tsx's modules load: set while they load here (the loader thread, which
// starts with the next line, copies it), then removed, so that cells never see it.
process.env.TSX_DISABLE_CACHE = '1';
register('./hooks.mjs', { parentURL: import.meta.url, data: { socket } });
await import('tsx/esm/api');
delete process.env.TSX_DISABLE_CACHE;

function denied(permission, resource, what) {
  const e = new Error(`Access to this API has been restricted: ${what} (reprobook --sandbox)`);
  e.code = 'ERR_ACCESS_DENIED';
  e.permission = permission;
  e.resource = resource;
  return e;
}

/** Replace `obj[name]` for good: the original stays reachable only through the replacement. */
function replace(obj, name, make) {
  const original = obj[name];
  if (typeof original !== 'function') return;
  Object.defineProperty(obj, name, { value: make(original), writable: false, configurable: false, enumerable: true });
}

// Worker threads.
const OriginalWorker = workerThreads.Worker;
function Worker(filename, options) {
  if (!new.target) throw new TypeError("Class constructor Worker cannot be invoked without 'new'");
  if (options?.eval) throw denied('WorkerThreads', 'eval', 'a worker thread started from a string (eval: true) would run without the sandbox guard; start it from a file');
  const { execArgv: _ignored, ...rest } = options ?? {};
  return Reflect.construct(OriginalWorker, [filename, rest], new.target === Worker ? OriginalWorker : new.target);
}
Worker.prototype = OriginalWorker.prototype;
Object.defineProperty(OriginalWorker.prototype, 'constructor', { value: Worker, writable: false, configurable: false });
replace(workerThreads, 'Worker', () => Worker);

// Module hooks: tsx's (registered by the engine's worker entries) and ours.
const tsxDist = new URL('../..', import.meta.resolve('tsx/esm/api')).href;
const allowed = (url) => url.startsWith(tsxDist) || url.startsWith(new URL('./', import.meta.url).href);
replace(Module, 'register', (original) => function register(specifier, parentURL, options) {
  const parent = typeof parentURL === 'string' || parentURL instanceof URL ? parentURL : parentURL?.parentURL;
  let url;
  try { url = new URL(String(specifier), parent ?? 'data:').href; } catch { url = String(specifier); }
  if (!allowed(url)) throw denied('ModuleHooks', url, 'module hooks run in a thread the sandbox guard does not see');
  return original.call(this, specifier, parentURL, options);
});

// Network.
/** `host:port` or a socket's path, from what connect, listen, send or lookup was given. */
function endpoint(args) {
  // net.connect hands Socket#connect its arguments normalized, as one array.
  const a = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (a && typeof a === 'object') return a.path ?? `${a.host ?? a.address ?? 'localhost'}:${a.port ?? ''}`;
  if (typeof a === 'number' || /^\d+$/.test(String(a))) return `${typeof args[1] === 'string' ? args[1] : 'localhost'}:${a}`;
  return String(a ?? '');
}

const noNetwork = (what) => () => function blocked(...args) {
  throw denied('Network', endpoint(args), what);
};
replace(net.Socket.prototype, 'connect', noNetwork('a network connection'));
replace(net.Server.prototype, 'listen', noNetwork('listening for network connections'));
for (const m of ['bind', 'connect', 'send']) replace(dgram.Socket.prototype, m, noNetwork('a UDP socket'));
const dnsTargets = [dns, dns.promises, dns.Resolver.prototype, dns.promises.Resolver.prototype];
for (const target of dnsTargets) {
  for (const name of Object.getOwnPropertyNames(target)) {
    if (!/^(lookup|lookupService|resolve|resolve\w+|reverse)$/.test(name)) continue;
    replace(target, name, noNetwork('a DNS lookup'));
  }
}

// Signals to other processes.
replace(process, 'kill', (original) => function kill(pid, signal) {
  if (Number(pid) !== process.pid) throw denied('Signal', String(pid), 'a signal to another process');
  return original.call(process, pid, signal);
});

// Files Node writes past the permission model's checks.
// (Trace logs, node:trace_events, are the other such file: worker threads, where project code runs, have none.)
for (const name of ['directory', 'filename', 'reportOnFatalError', 'reportOnSignal', 'reportOnUncaughtException', 'signal']) {
  const d = Object.getOwnPropertyDescriptor(process.report, name);
  if (!d?.set) continue;
  Object.defineProperty(process.report, name, { get: d.get, set() { throw denied('FileSystemWrite', `process.report.${name}`, 'diagnostic reports are written past the permission checks'); }, configurable: false });
}

syncBuiltinESMExports();
