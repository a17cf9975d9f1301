import { AsyncLocalStorage } from 'node:async_hooks';
import type { CellOutput } from '../core/records.ts';

/**
 * Capture of stdout/stderr per cell. process.stdout/stderr.write are patched once; a write
 * belongs to a cell when it happens inside that cell's async context (AsyncLocalStorage), so
 * output from anything else in the process (a test reporter, another task) passes through.
 */

export interface CaptureSink { outputs: CellOutput[] }

const als = new AsyncLocalStorage<CaptureSink>();
let installed = false;
const original = {
  stdout: process.stdout.write.bind(process.stdout) as typeof process.stdout.write,
  stderr: process.stderr.write.bind(process.stderr) as typeof process.stderr.write,
};

function append(sink: CaptureSink, name: 'stdout' | 'stderr', chunk: unknown, encoding?: unknown): void {
  const text = typeof chunk === 'string' ? chunk
    : chunk instanceof Uint8Array ? Buffer.from(chunk).toString(typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
    : String(chunk);
  const last = sink.outputs[sink.outputs.length - 1];
  if (last && last.type === 'stream' && last.name === name) last.text += text;
  else sink.outputs.push({ type: 'stream', name, text });
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = process[name];
    const orig = original[name];
    stream.write = function (this: unknown, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
      const sink = als.getStore();
      if (!sink) return (orig as (...a: unknown[]) => boolean)(chunk, encoding, cb);
      append(sink, name, chunk, encoding);
      const done = typeof encoding === 'function' ? encoding : cb;
      if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
      return true;
    } as typeof stream.write;
  }
}

/** Run `fn` with its stdout/stderr writes appended to `sink`. */
export function withCapture<T>(sink: CaptureSink, fn: () => Promise<T>): Promise<T> {
  install();
  return als.run(sink, fn);
}

/**
 * Run `fn` outside any cell's capture: for the runner's own messages about a cell, which may
 * be raised from inside that cell's async context (its timer failed, say).
 */
export function outsideCapture<T>(fn: () => T): T {
  return als.exit(fn);
}

/**
 * A stream for the terminal that is never captured: progress bars and runner messages
 * written from inside a cell go to the real stderr. It inherits isTTY, columns and the
 * cursor methods from process.stderr; only `write` is redirected.
 */
export function terminalStream(): NodeJS.WriteStream {
  const s = Object.create(process.stderr) as NodeJS.WriteStream;
  s.write = original.stderr;
  return s;
}

export function writeTerminal(text: string): void {
  original.stderr(text);
}
