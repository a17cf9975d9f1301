import vm from 'node:vm';
import { dirname, join, resolve, isAbsolute, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CellError, CellResult, CodeCell, ExecutedNotebook, NotebookDocument, Params, PublishedResult } from '../core/records.ts';
import { codeCells } from './format.ts';
import { transformCell, CellSyntaxError, type TransformedCell } from './transform.ts';
import { toDisplayItem } from './display.ts';
import { outsideCapture, withCapture, writeTerminal } from './capture.ts';
import { Runtime, type RecordedArtifactEvent } from './runtime.ts';
import { getEnvironment } from '../core/environment.ts';
import { resolveImport } from '../util/esbuild-ops.ts';
import { findPackage, packageName } from '../util/packages.ts';
import { denialMessage, findDenial } from '../sandbox/denial.ts';
import { forgetCell, runInCell, StalledCellError, whenStalled, type CellScope } from './cell-guard.ts';
import type { ProgressReporter } from '../util/progress.ts';

/**
 * Run a notebook's cells in order in one shared scope. Each cell becomes the body of a
 * sloppy-mode async function `with (runtime) { with (scope) { … } }`, compiled by
 * vm.runInThisContext under the name `<path>#cell<N>`, so that stack frames can be mapped
 * back to notebook lines. The first failing cell stops the notebook.
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

export function cellFilename(doc: NotebookDocument, cell: CodeCell): string {
  return `${doc.path}#cell${cell.index + 1}`;
}

const HEADER_LINES = 1;

function wrap(t: TransformedCell): string {
  const copyFns = t.functions.map((f) => `__scope[${JSON.stringify(f)}] = ${f};`).join(' ');
  return `(async function (__rt, __scope, __import, __default, __importMeta, __thrown) { with (__rt) { with (__scope) { ${copyFns}\n${t.body}\n}}})`;
}

/** Import for cells: relative specifiers from the notebook's folder, packages from the project root. */
function makeImporter(root: string, notebookFile: string): (spec: string) => Promise<unknown> {
  const base = dirname(notebookFile);
  const load = async (spec: string): Promise<unknown> => {
    if (spec.startsWith('./') || spec.startsWith('../')) return import(pathToFileURL(resolve(base, spec)).href);
    if (isAbsolute(spec)) return import(pathToFileURL(spec).href);
    if (spec.startsWith('node:') || spec.startsWith('file:') || spec.startsWith('data:')) return import(spec);
    return import(await resolvePackage(root, spec));
  };
  return async (spec: string) => {
    try {
      return await load(spec);
    } catch (err) {
      // A new error, so that its (async) stack points at the importing cell, not at the runner.
      const e = new Error(`cannot import '${spec}' from ${relative(root, notebookFile)}: ${(err as Error).message.replace(/ imported from \S+$/, '')}`);
      e.name = 'ImportError';
      throw e;
    }
  };
}

const ownRoot = resolve(dirname(new URL(import.meta.url).pathname), '..', '..', '..');

/**
 * Resolve a package import the way Node's ESM loader would from a file in `root`. When the
 * root shares reprobook's own node_modules (or has none), a plain import from here is the
 * same resolution and keeps one module instance (tfjs must not load twice).
 */
async function resolvePackage(root: string, spec: string): Promise<string> {
  const found = findPackage(packageName(spec), root);
  if (found === null || found.base === ownRoot) return spec;
  const resolved = await resolveImport(spec, root);
  return resolved ? pathToFileURL(resolved).href : spec;
}

function toError(v: unknown): Error {
  if (v instanceof Error) return v;
  const e = new Error(typeof v === 'string' ? v : JSON.stringify(v) ?? String(v));
  e.name = 'Error';
  e.stack = `${e.name}: ${e.message}`;
  return e;
}

interface CompiledCell { cell: CodeCell; transformed: TransformedCell; filename: string }

/** Rewrite stack frames of notebook cells to `<notebook>:<line> (cell N, line L)`. */
function mapStack(stack: string, doc: NotebookDocument, compiled: Map<string, CompiledCell>): { stack: string; frames: Array<{ cellIndex: number; cellLine: number; fileLine: number }> } {
  const frames: Array<{ cellIndex: number; cellLine: number; fileLine: number }> = [];
  const esc = doc.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`(${esc}#cell\\d+):(\\d+):(\\d+)`, 'g');
  const mapped = stack.replace(re, (whole, fname: string, l: string, c: string) => {
    const cc = compiled.get(fname);
    if (!cc) return whole;
    const bodyLine = Number(l) - HEADER_LINES;
    const cellLine = bodyLine >= 1 ? cc.transformed.mapLine(bodyLine, Number(c) - 1) : 1;
    if (cellLine === null) return whole;
    const fileLine = cc.cell.line + cellLine - 1;
    frames.push({ cellIndex: cc.cell.index, cellLine, fileLine });
    return `${doc.path}:${fileLine} (cell ${cc.cell.index + 1}, line ${cellLine})`;
  });
  // Frames below the first cell frame are the runner's own machinery: drop them.
  const lines = mapped.split('\n');
  let last = -1;
  lines.forEach((ln, i) => { if (ln.includes(`${doc.path}:`) && /\(cell \d+, line \d+\)/.test(ln)) last = i; });
  return { stack: last >= 0 ? lines.slice(0, last + 1).join('\n') : mapped, frames };
}

/** A CellError for `raw`, thrown by (or on behalf of) `cell`, with its notebook line when the stack has it. */
function toCellError(
  doc: NotebookDocument, cell: CodeCell, raw: unknown, compiled: Map<string, CompiledCell>,
  throwSite: { value: unknown; stack: string } | null = null,
): CellError {
  const filename = cellFilename(doc, cell);
  let error: CellError;
  if (raw instanceof CellSyntaxError) {
    error = { name: 'SyntaxError', message: raw.message, cellIndex: cell.index, cellLine: raw.cellLine, fileLine: cell.line + raw.cellLine - 1 };
    error.stack = `SyntaxError: ${raw.message}\n    at ${doc.path}:${error.fileLine} (cell ${cell.index + 1}, line ${raw.cellLine})`;
  } else if (raw instanceof SyntaxError && compiled.get(filename) && (raw.stack ?? '').startsWith(`${filename}:`)) {
    // The rewritten cell failed to compile (a construct the rewrite does not support).
    const l = Number(/^[^\n]*:(\d+)/.exec(raw.stack!)?.[1] ?? 0) - HEADER_LINES;
    const cellLine = (l >= 1 ? compiled.get(filename)!.transformed.mapLine(l, 0) : null) ?? 1;
    error = { name: 'SyntaxError', message: raw.message, cellIndex: cell.index, cellLine, fileLine: cell.line + cellLine - 1 };
    error.stack = `SyntaxError: ${raw.message}\n    at ${doc.path}:${error.fileLine} (cell ${cell.index + 1}, line ${cellLine})`;
  } else if (raw instanceof StalledCellError) {
    // No stack frame says where the cell waits; the cell's first line at least finds it.
    error = { name: raw.name, message: raw.message, cellIndex: cell.index, fileLine: cell.line };
  } else {
    const e = toError(raw);
    if (!(raw instanceof Error) && throwSite && Object.is(throwSite.value, raw)) {
      // `throw 'x'` has no stack of its own: the one recorded where it was thrown (transform.ts),
      // less its "Error" line and the frame of the recorder itself.
      e.stack = `${e.name}: ${e.message}\n${throwSite.stack.split('\n').slice(2).join('\n')}`;
    }
    const { stack, frames } = mapStack(e.stack ?? `${e.name}: ${e.message}`, doc, compiled);
    error = { name: e.name, message: e.message, stack, cellIndex: cell.index };
    // Refused by --sandbox: say what, and how a project asks for it.
    const denial = findDenial(raw);
    if (denial) Object.assign(error, { name: 'SandboxDenied', message: denialMessage(denial, `${doc.path} cell ${cell.index + 1}`) });
    const own = frames.find((f) => f.cellIndex === cell.index) ?? frames[0];
    if (own && own.cellIndex === cell.index) { error.cellLine = own.cellLine; error.fileLine = own.fileLine; }
  }
  return error;
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
        const fn = vm.runInThisContext(wrap(transformed), { filename }) as (...a: unknown[]) => Promise<{ value: unknown } | undefined>;
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

/** What an execution produced, packaged with what identifies the run: one shape for every executor. */
export function executedRecord(
  doc: NotebookDocument, opts: Pick<ExecuteOptions, 'profile' | 'params' | 'cacheKey' | 'cacheKeyInputs' | 'root'>,
  run: Pick<ExecutedNotebook, 'status' | 'cells' | 'results' | 'startedAt' | 'wallTimeMs'> & { environment?: ExecutedNotebook['environment'] },
): ExecutedNotebook {
  return {
    format: 'reprobook.executed/1',
    notebook: doc,
    profile: opts.profile,
    params: opts.params,
    cacheKey: opts.cacheKey,
    cacheKeyInputs: opts.cacheKeyInputs,
    status: run.status,
    cells: run.cells,
    results: run.results,
    startedAt: run.startedAt,
    wallTimeMs: run.wallTimeMs,
    environment: run.environment ?? getEnvironment(opts.root),
  };
}

/** Execute a notebook and package the outcome as an ExecutedNotebook (not yet stored). */
export async function executeNotebook(doc: NotebookDocument, opts: ExecuteOptions): Promise<ExecutedNotebook> {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const r = await executeCells(doc, opts);
  const executed = executedRecord(doc, opts, { status: r.status, cells: r.cells, results: r.results, startedAt, wallTimeMs: Math.round(performance.now() - t0) });
  if (r.artifactEvents.length) executed.artifactEvents = r.artifactEvents;
  return executed;
}
