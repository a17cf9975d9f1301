import { AsyncLocalStorage } from 'node:async_hooks';
import { inspect } from 'node:util';
import { writeTerminal } from './capture.ts';

/**
 * Cells run in a worker thread, one per notebook (isolation.ts), and a cell can still end or
 * wedge that thread (and run in-process through executeCells). This module keeps every such
 * failure attributable to its notebook and cell:
 *
 * - `process.exit()` called from a cell (or from a callback a cell scheduled) throws a
 *   CellExitError instead of ending the process with whatever code the cell chose;
 * - an uncaught exception or unhandled rejection raised in a cell's async context (a
 *   timer, a promise chain) goes to that cell's `fail`, also after the cell has finished
 *   (the runner then fails the notebook's stored run: see runner.ts);
 * - if the process (or the worker thread) ends anyway while a cell is running, the exit code
 *   is made non-zero and the cell is named.
 *
 * The async context (AsyncLocalStorage) follows timers and promises created by a cell, so
 * attribution does not depend on stack traces.
 */

export interface CellScope {
  /** `notebooks/a.md cell 2`, for the last-resort message at exit. */
  readonly where: string;
  /** An error that belongs to this cell, raised outside its own await chain (or a process.exit). */
  fail(error: unknown): void;
}

/** Thrown by process.exit() when a cell calls it. */
export class CellExitError extends Error {
  constructor(readonly code: number | string | null | undefined) {
    super(`process.exit(${code ?? ''}) was called: a cell must not end the process (throw an Error to fail the notebook)`);
    this.name = 'ProcessExit';
  }
}

const als = new AsyncLocalStorage<CellScope>();
/** Cells whose own code is running now (normally at most one). */
const running = new Set<CellScope>();
let installed = false;
const originalExit = process.exit.bind(process) as (code?: number | string | null) => never;

/** The cell whose async context this code runs in, if any. */
export function currentCell(): CellScope | undefined {
  return als.getStore();
}

/**
 * Run `fn` as the code of the cell `scope`: what it schedules stays attributed to the cell.
 * The cell counts as running until its code settles or the runner gives up on it (forgetCell).
 */
export async function runInCell<T>(scope: CellScope, fn: () => Promise<T>): Promise<T> {
  install();
  running.add(scope);
  try {
    return await als.run(scope, fn);
  } finally {
    running.delete(scope);
  }
}

/** The runner stopped waiting for this cell (it stalled, or failed through another cell's error). */
export function forgetCell(scope: CellScope): void {
  running.delete(scope);
}

/** The running cell an error without a cell context belongs to (one was running when it surfaced). */
function owner(): CellScope | undefined {
  return als.getStore() ?? (running.size === 1 ? [...running][0] : undefined);
}

/** What Node does without listeners: print the error and exit 1. Only when nobody else listens. */
function crash(err: unknown, event: 'uncaughtException' | 'unhandledRejection'): void {
  if (process.listenerCount(event) > 1) return; // another handler (a test runner, say) owns it
  writeTerminal(`${inspect(err)}\n`);
  originalExit(1);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.exit = function exit(code?: number | string | null): never {
    const scope = als.getStore();
    if (!scope) return originalExit(code);
    const e = new CellExitError(code);
    // Recorded before it is thrown: a try/catch in the cell must not swallow it.
    scope.fail(e);
    throw e;
  } as typeof process.exit;
  process.on('uncaughtException', (err) => {
    const scope = owner();
    if (scope) scope.fail(err);
    else crash(err, 'uncaughtException');
  });
  process.on('unhandledRejection', (reason) => {
    const scope = owner();
    if (scope) scope.fail(reason ?? new Error('a promise was rejected with no reason'));
    else crash(reason, 'unhandledRejection');
  });
  process.on('exit', (code) => {
    if (running.size === 0) return;
    const where = [...running].map((s) => s.where).join(', ');
    writeTerminal(`reprobook: error: the process ended (exit code ${code}) while ${where} was still running; the build did not finish\n`);
    if (!code) process.exitCode = 1;
  });
}

/** Thrown into a cell that awaits something that can never happen. */
export class StalledCellError extends Error {
  constructor() {
    super('the cell awaits a promise that never settles: nothing else was left to run (a missing resolve() or callback?)');
    this.name = 'StalledCell';
  }
}

/**
 * A promise that rejects with StalledCellError when the event loop runs dry (Node's
 * 'beforeExit') while the cell is still awaiting: without it the process would just exit,
 * with code 0 or 13, and no word about which cell never finished.
 */
export function whenStalled(): { promise: Promise<never>; dispose(): void } {
  let onIdle: () => void = () => {};
  const promise = new Promise<never>((_, reject) => {
    onIdle = () => reject(new StalledCellError());
    process.once('beforeExit', onIdle);
  });
  promise.catch(() => {});
  return { promise, dispose: () => process.off('beforeExit', onIdle) };
}
