import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ArtifactStore } from '../store/artifacts.ts';
import { UserError } from '../util/errors.ts';
import { silentProgress, type ProgressReporter } from '../util/progress.ts';
import { handlerCodeHash } from './code-hash.ts';
import { inlineDispatcher, poolDispatcher } from './dispatch.ts';
import { planGrid, unitKeys } from './graph.ts';
import { logListener, progressListener, runLabel } from './listeners.ts';
import { gridReport, scheduleUnits, type GridTally } from './schedule.ts';
import { shardShare } from './shard.ts';
import type { GridEvent, GridReport, GridUnit, JsonValue, ShardSpec } from './unit.ts';

/**
 * A grid run as plan -> dispatch -> events: the plan (graph.ts: order and keys; shard.ts:
 * which units are this run's) is pure; the schedule (schedule.ts) dispatches units inline or
 * on a pool of worker threads (dispatch.ts), each unit's result memoised in the artifact
 * store, which is the only state the units share; what happens is emitted as events, which
 * the caller, the log and the progress line hear alike (listeners.ts).
 */

export interface RunGridOptions {
  /** Absolute path or file URL of the handler module (a .ts module exporting execute). */
  handler: string;
  /** Root of the artifact store shared by all workers, shards and later runs. */
  storeRoot: string;
  /** Worker threads; default os.availableParallelism(); 1 runs every unit inline, in this thread. */
  workers?: number;
  /** Run only this shard's units (deps of other shards are read from the store). */
  shard?: ShardSpec;
  /** How long to wait for a dep computed by another shard before skipping; default: do not wait. */
  waitForShards?: { timeoutMs: number; pollMs?: number };
  /** Overall bar; default none: the caller (a CLI command, a notebook cell) owns the terminal. */
  progress?: ProgressReporter;
  /** Per-unit lines (start, done, cached, skipped, failed, unit logs, a quarantined artifact); default: none. */
  log?: (line: string) => void;
  onEvent?: (event: GridEvent) => void;
  signal?: AbortSignal;
  /** Replaces the handler's computed code hash in the result keys (e.g. to pin a version). */
  codeHash?: string;
  /** Label of the bar and the lines; default "grid". */
  label?: string;
  /**
   * Given to the handler's init() in every thread (structured-cloned into workers): how the
   * caller wants units computed, e.g. which backend. Not part of result keys, so anything in
   * it that changes results must also be in the units' inputs.
   */
  handlerConfig?: JsonValue;
}

/** A unit failed: the message names it; finished units are stored, so a re-run resumes. */
export class GridRunError extends Error {
  readonly hint: string;
  constructor(
    readonly failures: Array<{ unitId: string; kind: string; error: Error }>,
    readonly report: GridReport,
    storeRoot: string,
  ) {
    const [first] = failures;
    const others = failures.length > 1 ? ` (and ${failures.length - 1} more: ${failures.slice(1).map((f) => f.unitId).join(', ')})` : '';
    super(`grid unit "${first!.unitId}" (kind ${first!.kind}) failed: ${first!.error.message}${others}`, { cause: first!.error });
    this.name = 'GridRunError';
    // The CLI prints the stack with REPROBOOK_DEBUG: make it the handler's, where the bug is.
    if (first!.error.stack) this.stack = `${this.stack}\nCaused by: ${first!.error.stack}`;
    this.hint = `fix the cause and run again: the ${report.ran.length + report.cached.length} finished units are stored in ${storeRoot} and will not be recomputed`;
  }
}

export function resolveWorkerCount(workers?: number | string): number {
  if (workers === undefined) return availableParallelism();
  const n = typeof workers === 'string' ? Number(workers) : workers;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UserError(`invalid worker count "${workers}"`, 'give a whole number of worker threads, at least 1 (1 runs the units inline)');
  }
  return n;
}

async function resolveHandlerPath(handler: string): Promise<string> {
  const path = handler.startsWith('file:') ? fileURLToPath(handler) : handler;
  if (!isAbsolute(path)) {
    throw new UserError(`grid handler "${handler}" is not an absolute path`, 'pass an absolute path or a file URL, e.g. fileURLToPath(new URL("./handler.ts", import.meta.url))');
  }
  try {
    if (!(await stat(path)).isFile()) throw new Error('not a file');
  } catch {
    throw new UserError(`grid handler ${path} does not exist`, 'check the path of the handler module');
  }
  return path;
}

export async function runGrid(units: GridUnit[], opts: RunGridOptions): Promise<GridReport> {
  const t0 = performance.now();
  const plan = planGrid(units);
  const handlerPath = await resolveHandlerPath(opts.handler);
  const workers = resolveWorkerCount(opts.workers);
  const codeHash = opts.codeHash ?? (await handlerCodeHash(handlerPath));
  const keys = unitKeys(plan, codeHash);
  const share = shardShare(plan, opts.shard);
  const label = runLabel(opts.label, opts.shard);
  const bar = progressListener(opts.progress ?? silentProgress, label, share.mine.size);
  const listeners = [opts.onEvent, opts.log && logListener(label, opts.log, opts.shard), bar.onEvent];
  const emit = (e: GridEvent) => {
    for (const listen of listeners) if (listen) listen(e);
  };
  const store = new ArtifactStore(opts.storeRoot, {
    onEvent: (e) => {
      if (e.type === 'corrupt') emit({ type: 'corrupt', artifact: e });
    },
  });
  const context = { handlerUrl: pathToFileURL(handlerPath).href, handlerConfig: opts.handlerConfig ?? null, storeRoot: opts.storeRoot, send: emit, signal: opts.signal };
  const dispatcher = workers === 1 ? inlineDispatcher(context) : poolDispatcher(context, workers);
  let tally: GridTally;
  try {
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('grid run aborted');
    tally = await scheduleUnits({ plan, keys, share, shard: opts.shard, store, dispatcher, slots: workers, emit, signal: opts.signal, waitForShards: opts.waitForShards });
  } finally {
    await dispatcher.close();
  }
  const report = gridReport(plan, keys, share, tally, { shard: opts.shard, workers, codeHash, wallMs: performance.now() - t0 });
  bar.finish(`${report.ran.length} ran, ${report.cached.length} cached, ${report.skipped.length} skipped, ${tally.failures.length} failed`);
  if (tally.failures.length > 0) throw new GridRunError(tally.failures, report, opts.storeRoot);
  if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('grid run aborted');
  return report;
}
