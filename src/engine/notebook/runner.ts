import vm from 'node:vm';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CellError, CellResult, CodeCell, ExecutedNotebook, NotebookDocument, Params, PublishedResult } from '../core/records.ts';
import { getEnvironment } from '../core/environment.ts';
import { codeCells } from './markdown-format.ts';
import { transformCell } from './transform.ts';
import { toDisplayItem } from './display.ts';
import { outsideCapture, withCapture, writeTerminal } from './capture.ts';
import { Runtime, type RecordedArtifactEvent } from './runtime.ts';
import { makeImporter } from './cell-imports.ts';
import { cellFilename, toCellError, wrapCell, type CompiledCell } from './stack-map.ts';
import { executedRecord } from './executed-record.ts';
import { forgetCell, runInCell, whenStalled, type CellScope } from './cell-guard.ts';
import type { ProgressReporter } from '../util/progress.ts';

/**
 * Run a notebook's cells in order in one shared scope, each compiled as stack-map.ts wraps
 * it (so that its errors name notebook lines), its imports resolved by cell-imports.ts. The
 * first failing cell stops the notebook.
 *
 * runProject runs this in a worker thread of the notebook's own (isolation.ts: a fresh
 * global environment, time limits, Ctrl-C); executeCells itself runs in the calling thread.
 */

export interface ExecuteOptions {
  root: string;
  profile: string | null;
  params: Params;
  cacheKey: string;
  cacheKeyInputs: Record<string, unknown>;
  progress?: ProgressReporter;
  /**
   * Called when a cell starts and ends (for terminal status lines); at the end, with what
   * the notebook published and the artifact events so far (isolation.ts keeps them, for a
   * record of a run that is stopped later).
   */
  onCell?: (event: { cell: CodeCell; phase: 'start' | 'end'; result?: CellResult; published?: PublishedResult[]; artifactEvents?: RecordedArtifactEvent[] }) => void;
  quietArtifacts?: boolean;
  /**
   * An error raised by a cell's timers or promises after the notebook finished (its run is
   * already returned, perhaps stored as ok). Errors while the notebook still runs fail it
   * directly.
   */
  onLateError?: (error: CellError) => void;
  /** The project plugin's absolute path (config `plugin:`), whose environment() is recorded. */
  plugin?: string;
}

export interface ExecutionResult {
  status: 'ok' | 'error';
  cells: CellResult[];
  results: PublishedResult[];
  artifactEvents: RecordedArtifactEvent[];
  error?: CellError;
}

export async function executeCells(doc: NotebookDocument, opts: Omit<ExecuteOptions, 'cacheKey' | 'cacheKeyInputs'>): Promise<ExecutionResult> {
  const runtime = new Runtime(opts.root, doc, opts.profile, opts.params, { progress: opts.progress, quietArtifacts: opts.quietArtifacts });
  await runtime.prepare();
  // Half-written entries of killed runs are never read (they sit in tmp/), but they take space.
  await runtime.artifacts.cleanStaleTmp().catch(() => 0);
  const notebookFile = join(opts.root, doc.path);
  const importer = makeImporter(opts.root, notebookFile);
  const importMeta = { url: pathToFileURL(notebookFile).href, filename: notebookFile, dirname: dirname(notebookFile) };
  const interop = (m: { default?: unknown }) => (m && typeof m === 'object' && 'default' in m ? m.default : m);
  const scope: Record<string, unknown> = Object.create(null);
  // Where the last non-Error was thrown from cell code (see transform.ts): `throw 'x'` has no stack of its own.
  const lastThrow: { current: { value: unknown; stack: string } | null } = { current: null };
  const thrown = (v: unknown) => {
    if (!(v instanceof Error)) lastThrow.current = { value: v, stack: new Error().stack ?? '' };
    return v;
  };
  const compiled = new Map<string, CompiledCell>();
  const cells: CellResult[] = [];

  // Errors that cells raise outside their own await chain (cell-guard.ts routes them here by
  // async context): the first one while the notebook runs stops it; later ones are reported
  // through onLateError, mapped to the notebook line like any other.
  let finished = false;
  let failure = null as { cell: CodeCell; raw: unknown } | null;
  let interrupt: (raw: unknown) => void = () => {};
  const scopeOf = (cell: CodeCell): CellScope => ({
    where: `${doc.path} cell ${cell.index + 1}`,
    fail(raw) {
      if (finished) {
        const error = toCellError(doc, cell, raw, compiled);
        // The error surfaced in the cell's context: its messages are the runner's, not the cell's output.
        if (opts.onLateError) outsideCapture(() => opts.onLateError!(error));
        else writeTerminal(`${doc.path}: cell ${cell.index + 1} failed after the notebook finished: ${error.name}: ${error.message}\n`);
      } else if (failure === null) {
        failure = { cell, raw };
        interrupt(raw);
      }
    },
  });
  try {
    for (const cell of codeCells(doc)) {
      const t0 = performance.now();
      const result: CellResult = { index: cell.index, outputs: [], durationMs: 0 };
      runtime.current = { cell, outputs: result.outputs };
      opts.onCell?.({ cell, phase: 'start' });
      const filename = cellFilename(doc, cell);
      let error: CellError | undefined;
      const interrupted = new Promise<never>((_, reject) => { interrupt = reject; });
      interrupted.catch(() => {});
      if (failure) interrupt(failure.raw);
      const stall = whenStalled();
      const cellScope = scopeOf(cell);
      try {
        const transformed = await transformCell(cell.source, filename);
        compiled.set(filename, { cell, transformed, filename });
        for (const name of transformed.declared) if (!(name in scope)) scope[name] = undefined;
        const fn = vm.runInThisContext(wrapCell(transformed), { filename }) as (...a: unknown[]) => Promise<{ value: unknown } | undefined>;
        const ret = await Promise.race([
          withCapture({ outputs: result.outputs }, () => runInCell(cellScope, async () => {
            const r = await fn(runtime.globals, scope, importer, interop, importMeta, thrown);
            // Let rejections from this cell surface before it counts as finished.
            await new Promise((res) => setImmediate(res));
            return r;
          })),
          interrupted,
          stall.promise,
        ]);
        // A failure the cell caught itself (process.exit in a try block) still fails it.
        if (failure) throw failure.raw;
        if (ret && typeof ret === 'object' && 'value' in ret) {
          let value = ret.value;
          if (value && typeof (value as PromiseLike<unknown>).then === 'function') value = await value;
          const item = toDisplayItem(value);
          if (item) result.outputs.push({ type: 'result', item: runtime.decorate(item) });
        }
      } catch (raw) {
        // An earlier cell's error (its timer, its promise) that surfaced while this one ran is
        // that cell's, and stops the notebook here.
        const origin = failure?.cell ?? cell;
        error = toCellError(doc, origin, failure?.raw ?? raw, compiled, lastThrow.current);
        if (origin === cell) result.error = error;
        else cells[origin.index]!.error = error;
      }
      stall.dispose();
      forgetCell(cellScope);
      result.durationMs = Math.round(performance.now() - t0);
      cells.push(result);
      runtime.current = null;
      opts.onCell?.({ cell, phase: 'end', result, published: runtime.results, artifactEvents: runtime.artifactEvents });
      if (error) return { status: 'error', cells, results: runtime.results, artifactEvents: runtime.artifactEvents, error };
    }
    if (failure) {
      // Raised after the last cell's own code finished, before the notebook counts as done.
      const error = toCellError(doc, failure.cell, failure.raw, compiled);
      cells[failure.cell.index]!.error = error;
      return { status: 'error', cells, results: runtime.results, artifactEvents: runtime.artifactEvents, error };
    }
  } finally {
    finished = true;
  }
  return { status: 'ok', cells, results: runtime.results, artifactEvents: runtime.artifactEvents };
}

/** Execute a notebook and package the outcome as an ExecutedNotebook (not yet stored). */
export async function executeNotebook(doc: NotebookDocument, opts: ExecuteOptions): Promise<ExecutedNotebook> {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const r = await executeCells(doc, opts);
  const executed = executedRecord(doc, opts, {
    status: r.status, cells: r.cells, results: r.results, startedAt, wallTimeMs: Math.round(performance.now() - t0), environment: getEnvironment(opts.root),
  });
  if (r.artifactEvents.length) executed.artifactEvents = r.artifactEvents;
  return executed;
}
