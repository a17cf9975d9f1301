import { Worker } from 'node:worker_threads';
import type { CellError, CellResult, CodeCell, ExecutedNotebook, NotebookDocument, Params, PublishedResult, RunEnvironment } from '../core/records.ts';
import { executeNotebook, type ExecuteOptions, type ExecutionResult } from './runner.ts';
import { executedRecord } from './executed-record.ts';
import type { RecordedArtifactEvent } from './runtime.ts';
import { getEnvironment, type ProjectFacts } from '../core/environment.ts';
import { codeCells } from './markdown-format.ts';
import { terminalStream } from './capture.ts';
import { formatDuration, type Limit, type NotebookLimits } from './timeouts.ts';
import type { ProgressTask } from '../util/progress.ts';
import { createProgress } from '../util/terminal-progress.ts';
import { UserError } from '../util/errors.ts';
import { denialMessage, findDenial } from '../sandbox/denial.ts';

/**
 * Each notebook runs in a worker thread of its own (notebook-worker.ts), for two reasons:
 *
 * - **The same environment every time.** A worker has its own realm: globalThis, Math,
 *   built-in prototypes and module instances are fresh, so what one notebook sets
 *   (`globalThis.leak = 42`, `Math.random = () => 0.5`) cannot reach the next, and a notebook
 *   run alone (`run b --force`) computes what it computes in a full build.
 * - **A busy cell can be stopped.** The main thread stays free while a cell runs, so its
 *   timers (the time limits, timeouts.ts) and signal handlers (Ctrl-C, SIGTERM: project.ts)
 *   run, and `worker.terminate()` stops even `while (true) {}`.
 *
 * The worker reports every cell as it ends, so that a notebook stopped halfway is stored
 * (as failed, under failed/) with the outputs of its finished cells and an error on the cell
 * that was running. Outputs and results come back as the plain data the store keeps.
 */

/** What the parent gives the worker (structured-cloned). */
export interface WorkerInput {
  doc: NotebookDocument;
  root: string;
  profile: string | null;
  params: Params;
  quietArtifacts?: boolean;
  /**
   * The worker's whole process.env: the variables the project declares (declaredEnvironment,
   * exactly those in the cache key). A worker starts with none (startWorker).
   */
  env: Record<string, string>;
  /** The project plugin's absolute path: its environment() describes the run. */
  plugin?: string;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'cell-start'; index: number }
  | { type: 'cell-end'; result: CellResult; published: PublishedResult[]; artifactEvents: RecordedArtifactEvent[] }
  | { type: 'progress'; op: 'start'; id: number; label: string; total: number; unit?: string }
  | { type: 'progress'; op: 'update'; id: number; done: number; fields?: Record<string, string | number> }
  | { type: 'progress'; op: 'done'; id: number; summary?: string }
  | { type: 'late-error'; error: CellError }
  | { type: 'done'; result: ExecutionResult; facts: ProjectFacts }
  | { type: 'fatal'; name: string; message: string; stack: string; hint?: string };

/**
 * How long a finished notebook's worker may keep running (its timers, its promises) so that
 * their errors still fail it (cell-guard.ts, project.ts); then it is stopped.
 */
export const LINGER_MS = 2000;

export interface IsolatedExecuteOptions extends ExecuteOptions {
  limits: NotebookLimits;
  /** The worker's process.env, all of it (WorkerInput.env). */
  env: Record<string, string>;
  /** Aborting stops the running cell; the reason (a signal name) goes into its error. */
  signal?: AbortSignal;
  /** Another notebook will run after this one: start its worker now (see WorkerSupply). */
  prewarm?: boolean;
  /** Where the worker comes from (default: a thread of this process). */
  workers?: WorkerSupply;
}

/** A notebook's worker: a thread of this process, or of the sandboxed process (sandbox/host.ts). */
export interface NotebookThread {
  on(event: 'message', listener: (m: WorkerMessage) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  once(event: 'exit', listener: (code: number) => void): unknown;
  postMessage(input: WorkerInput): void;
  terminate(): Promise<unknown>;
  ref(): void;
  unref(): void;
}

/**
 * Where notebook workers come from, with one started ahead of time, waiting for its
 * notebook: starting one (tsx, the runner's modules) takes a good part of a second, which a
 * run of many notebooks would otherwise pay before each. A spare is fresh: no notebook's code
 * has run in it, so it is the same environment as a worker started on demand. It does not
 * keep the process alive.
 */
export class WorkerSupply {
  private spare: NotebookThread | null = null;
  private readonly exited = new WeakSet<NotebookThread>();

  /** `launch(null)` starts a spare, which gets its input later by message. */
  constructor(private readonly launch: (input: WorkerInput | null) => NotebookThread) {}

  private start(input: WorkerInput | null): NotebookThread {
    const w = this.launch(input);
    w.once('exit', () => {
      this.exited.add(w);
      if (this.spare === w) this.spare = null;
    });
    return w;
  }

  prewarm(): void {
    if (this.spare) return;
    const w = this.start(null);
    this.spare = w;
    w.unref();
    // A spare that fails to start is dropped (take starts another, and that one reports).
    w.on('error', () => {});
  }

  take(input: WorkerInput): NotebookThread {
    const w = this.spare;
    this.spare = null;
    if (!w || this.exited.has(w)) return this.start(input);
    w.ref();
    w.postMessage(input);
    return w;
  }

  /** Stop the spare, if any: no notebook will come for it. */
  dropSpare(): void {
    const w = this.spare;
    this.spare = null;
    void w?.terminate();
  }
}

const WORKER_URL = new URL('./notebook-worker.mjs', import.meta.url);

/** Worker threads of this process. No variable of this process reaches one: its notebook brings the declared ones. */
export const threadWorkers = new WorkerSupply((input) => new Worker(WORKER_URL, { workerData: input, env: {} }));

type Outcome =
  | { kind: 'done'; result: ExecutionResult; environment: RunEnvironment }
  | { kind: 'stopped'; cell: CodeCell; error: CellError };

function fixHint(limit: Limit): string {
  return `raise it (${limit.from}), or set it to 'none' for no limit, e.g. '//| timeout: none' on a long training cell`;
}

/** Run a notebook in a worker thread of its own, under its time limits; package the outcome as executeNotebook does. */
export async function executeNotebookIsolated(doc: NotebookDocument, opts: IsolatedExecuteOptions): Promise<ExecutedNotebook> {
  const cells = codeCells(doc);
  // Nothing to run, nothing to isolate or stop (and no cell to charge a stop to).
  if (cells.length === 0) return executeNotebook(doc, opts);
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const finished: CellResult[] = [];
  let published: PublishedResult[] = [];
  let artifactEvents: RecordedArtifactEvent[] = [];
  // (`as`: assigned in the worker's callbacks, which TypeScript's narrowing does not follow)
  let running = null as { cell: CodeCell; since: number } | null;
  const reporter = opts.progress ?? createProgress({ stream: terminalStream() });
  const tasks = new Map<number, ProgressTask>();
  const input: WorkerInput = { doc, root: opts.root, profile: opts.profile, params: opts.params, quietArtifacts: opts.quietArtifacts, env: { ...opts.env }, ...(opts.plugin ? { plugin: opts.plugin } : {}) };
  const supply = opts.workers ?? threadWorkers;
  const worker = supply.take(input);
  if (opts.prewarm) supply.prewarm();

  const outcome = await new Promise<Outcome>((resolve, reject) => {
    let settled = false;
    let cellTimer: NodeJS.Timeout | undefined;
    let notebookTimer: NodeJS.Timeout | undefined;
    let linger: NodeJS.Timeout | undefined;
    const clearTimers = () => {
      clearTimeout(cellTimer);
      clearTimeout(notebookTimer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    /** Stop the worker; `describe` writes the error for the cell that was running (or due next). */
    const stop = (describe: (cell: CodeCell) => { name: string; message: string }) => {
      if (settled) return;
      settled = true;
      clearTimers();
      void worker.terminate();
      for (const t of tasks.values()) t.done();
      tasks.clear();
      const cell = running?.cell ?? cells[finished.length] ?? cells[cells.length - 1]!;
      const { name, message } = describe(cell);
      resolve({ kind: 'stopped', cell, error: { name, message, cellIndex: cell.index, fileLine: cell.line } });
    };
    function onAbort() {
      const reason = opts.signal?.reason;
      const by = typeof reason === 'string' ? `${reason}${reason === 'SIGINT' ? ' (Ctrl-C)' : ''}` : 'an interrupt';
      stop((cell) => ({ name: 'Interrupted', message: `stopped by ${by} while cell ${cell.index + 1} was running` }));
    }
    if (opts.signal?.aborted) {
      onAbort();
      return;
    }
    opts.signal?.addEventListener('abort', onAbort);

    worker.on('message', (m: WorkerMessage) => {
      switch (m.type) {
        case 'ready': {
          // The notebook's clock starts when its worker is ready: the runner's own start-up is not the notebook's time.
          const limit = opts.limits.notebook;
          if (limit.ms !== null) {
            notebookTimer = setTimeout(() => stop((cell) => ({
              name: 'Timeout',
              message: `the notebook ran longer than ${formatDuration(limit.ms!)}, its time limit, and was stopped in cell ${cell.index + 1}; ${fixHint(limit)}`,
            })), limit.ms);
          }
          break;
        }
        case 'cell-start': {
          const cell = cells[m.index]!;
          running = { cell, since: performance.now() };
          opts.onCell?.({ cell, phase: 'start' });
          clearTimeout(cellTimer);
          const limit = opts.limits.cells[m.index]!;
          if (limit.ms !== null) {
            cellTimer = setTimeout(() => stop(() => ({
              name: 'Timeout',
              message: `cell ${m.index + 1} ran longer than ${formatDuration(limit.ms!)}, its time limit, and was stopped; ${fixHint(limit)}`,
            })), limit.ms);
          }
          break;
        }
        case 'cell-end': {
          clearTimeout(cellTimer);
          running = null;
          finished.push(m.result);
          published = m.published;
          artifactEvents = m.artifactEvents;
          opts.onCell?.({ cell: cells[m.result.index]!, phase: 'end', result: m.result });
          break;
        }
        case 'progress': {
          if (settled) break;
          if (m.op === 'start') tasks.set(m.id, reporter.start(m.label, m.total, m.unit));
          else if (m.op === 'update') tasks.get(m.id)?.update(m.done, m.fields ? { fields: m.fields } : undefined);
          else { tasks.get(m.id)?.done(m.summary); tasks.delete(m.id); }
          break;
        }
        case 'late-error':
          opts.onLateError?.(m.error);
          break;
        case 'done': {
          settled = true;
          clearTimers();
          // The notebook's timers and promises may still fail it for a while (LINGER_MS).
          linger = setTimeout(() => void worker.terminate(), LINGER_MS);
          // Where the run happened is this machine; the git state and the packages are read here,
          // with this process's environment (the cells' has no PATH for git, say).
          resolve({ kind: 'done', result: m.result, environment: getEnvironment(opts.root, m.facts) });
          break;
        }
        case 'fatal': {
          if (settled) break;
          settled = true;
          clearTimers();
          void worker.terminate();
          const e = m.hint !== undefined ? new UserError(m.message, m.hint) : new Error(m.message);
          e.name = m.name;
          e.stack = m.stack;
          reject(e);
          break;
        }
      }
    });
    worker.on('error', (err) => {
      // A module a cell imports, refused by --sandbox as it loads, fails the worker rather than the cell.
      const denial = findDenial(err);
      stop((cell) => (denial
        ? { name: 'SandboxDenied', message: denialMessage(denial, `${doc.path} cell ${cell.index + 1}`) }
        : { name: err.name || 'Error', message: `the notebook's worker failed while cell ${cell.index + 1} was running: ${err.message}` }));
    });
    worker.on('exit', (code) => {
      clearTimeout(linger);
      stop((cell) => ({ name: 'WorkerExit', message: `the notebook's worker ended (exit code ${code}) while cell ${cell.index + 1} was running` }));
    });
  });

  let run: { status: ExecutedNotebook['status']; cells: CellResult[]; results: PublishedResult[]; environment: RunEnvironment };
  if (outcome.kind === 'done') {
    const r = outcome.result;
    run = { status: r.status, cells: r.cells, results: r.results, environment: outcome.environment };
    artifactEvents = r.artifactEvents;
  } else {
    const { cell, error } = outcome;
    const own = finished.find((c) => c.index === cell.index);
    if (own) own.error ??= error;
    else {
      const result: CellResult = { index: cell.index, outputs: [], error, durationMs: running ? Math.round(performance.now() - running.since) : 0 };
      finished.push(result);
      opts.onCell?.({ cell, phase: 'end', result });
    }
    run = { status: 'error', cells: finished, results: published, environment: getEnvironment(opts.root) };
  }
  const executed = executedRecord(doc, opts, { ...run, startedAt, wallTimeMs: Math.round(performance.now() - t0) });
  if (artifactEvents.length) executed.artifactEvents = artifactEvents;
  return executed;
}
