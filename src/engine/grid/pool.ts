import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import { ArtifactStore, artifactId, describeCorrupt, type ArtifactKey } from '../store/artifacts.ts';
import { UserError } from '../util/errors.ts';
import { silentProgress, type ProgressReporter } from '../util/progress.ts';
import { handlerCodeHash } from './code-hash.ts';
import { taskLabel } from './unit-progress.ts';
import { executeUnit, readStoredUnit, type StoredUnit, type UnitOutcome } from './execute.ts';
import { assignShards, formatShard } from './shard.ts';
import type { GridEvent, GridReport, GridUnit, JsonValue, ShardSpec, UnitMessage } from './types.ts';
import { criticalPath, keyChains, planGrid, unitKeys } from './units.ts';
import type { WorkerTask } from './worker-task.ts';

/**
 * The scheduler: runs a grid's units in dependency order, independent units in parallel
 * on a piscina pool of worker threads (or inline, serially, with workers = 1), each unit's
 * result memoised in the artifact store, which is the only state the units share.
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

/** A counting semaphore whose waiters are served by priority (higher first), then order. */
class Slots {
  private free: number;
  private waiting: Array<{ priority: number; order: number; go: () => void }> = [];
  constructor(n: number) {
    this.free = n;
  }
  acquire(priority: number, order: number): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((go) => {
      this.waiting.push({ priority, order, go });
      this.waiting.sort((a, b) => b.priority - a.priority || a.order - b.order);
    });
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next.go();
    else this.free++;
  }
}

type Outcome = { ok: true } | { ok: false; reason: string };

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runGrid(units: GridUnit[], opts: RunGridOptions): Promise<GridReport> {
  const t0 = performance.now();
  const plan = planGrid(units);
  const handlerPath = await resolveHandlerPath(opts.handler);
  const handlerUrl = pathToFileURL(handlerPath).href;
  const workers = resolveWorkerCount(opts.workers);
  const codeHash = opts.codeHash ?? (await handlerCodeHash(handlerPath));
  const keys = unitKeys(plan, codeHash);
  const shardOf = opts.shard ? assignShards(units, opts.shard.count) : undefined;
  const label = `${opts.label ?? 'grid'}${opts.shard ? ` shard ${formatShard(opts.shard)}` : ''}`;
  const log = opts.log ?? (() => {});
  const store = new ArtifactStore(opts.storeRoot, { onEvent: (e) => { if (e.type === 'corrupt') log(describeCorrupt(e).trimEnd()); } });
  const priority = criticalPath(plan);
  const position = new Map(plan.order.map((u, i) => [u.id, i]));

  // This shard's units, plus the deps of other shards that they read from the store.
  const mine = new Set(units.filter((u) => !shardOf || shardOf.get(u.id) === opts.shard!.index).map((u) => u.id));
  // An `everyShard` prerequisite of one of this shard's units is this shard's too (transitively).
  for (const id of [...mine]) {
    const stack = [...(plan.byId.get(id)!.deps ?? [])];
    while (stack.length > 0) {
      const d = plan.byId.get(stack.pop()!)!;
      if (d.everyShard && !mine.has(d.id)) {
        mine.add(d.id);
        stack.push(...(d.deps ?? []));
      }
    }
  }
  const needed = new Set(mine);
  for (const id of mine) for (const d of plan.byId.get(id)!.deps ?? []) needed.add(d);

  const results: Record<string, JsonValue> = {};
  const uses = new Map<string, string[] | null>();
  const ran: string[] = [];
  const cached: string[] = [];
  const skipReasons: Record<string, string> = {};
  const external: string[] = [];
  const failures: Array<{ unitId: string; kind: string; error: Error }> = [];
  const running = new Map<string, string>();
  let settled = 0;
  let stopping = false;

  const bar = (opts.progress ?? silentProgress).start(label, mine.size, 'units');
  const refresh = () => bar.update(settled, { fields: Object.fromEntries(running) });
  const emit = (e: GridEvent) => opts.onEvent?.(e);
  const settle = () => {
    settled++;
    refresh();
  };

  const onMessage = (m: UnitMessage) => {
    emit(m);
    if (m.type === 'progress') {
      // Shown after the unit's id (formatFields), so the label only when it adds to the id.
      const task = taskLabel(m.unitId, m.label);
      if (running.has(m.unitId)) running.set(m.unitId, `${task ? `${task} ` : ''}${m.done}/${m.total}${m.unit ? ` ${m.unit}` : ''}`);
      refresh();
    } else if (m.type === 'progress-done') {
      const task = taskLabel(m.unitId, m.label);
      log(`${label}: [${m.unitId}] ${task ? `${task} ` : ''}done${m.summary ? `: ${m.summary}` : ''}`);
    } else {
      log(`${label}: [${m.unitId}] ${m.message}`);
    }
  };

  let pool: Promise<Piscina<WorkerTask, UnitOutcome>> | undefined;
  const onAbort = () => {
    stopping = true;
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const dispatch = async (u: GridUnit, deps: Record<string, JsonValue>): Promise<UnitOutcome> => {
    const key = keys.get(u.id)!;
    if (workers === 1) {
      return executeUnit({ handlerUrl, handlerConfig: opts.handlerConfig ?? null, unit: u, key, deps, storeRoot: opts.storeRoot, send: onMessage, signal: opts.signal });
    }
    // Created on the first miss (a run where everything is cached starts no thread at all),
    // once: two units may reach this point together.
    pool ??= import('piscina').then(
      ({ Piscina }) =>
        new Piscina<WorkerTask, UnitOutcome>({
          filename: new URL('./worker.mjs', import.meta.url).href,
          maxThreads: workers,
          minThreads: 0,
          // Keep idle workers (and their initialised backends) while units wait for deps.
          idleTimeout: 60_000,
          // worker.mjs registers tsx itself; inheriting e.g. node --test flags would not help.
          execArgv: [],
          atomics: 'disabled',
        }),
    );
    const piscina = await pool;
    const { port1, port2 } = new MessageChannel();
    port1.on('message', onMessage);
    const closed = new Promise<void>((r) => port1.once('close', () => r()));
    try {
      const task: WorkerTask = { handlerUrl, handlerConfig: opts.handlerConfig ?? null, unit: u, key, deps, storeRoot: opts.storeRoot, port: port2 };
      return await piscina.run(task, { transferList: [port2], signal: opts.signal });
    } finally {
      // The worker closes its end after its last message; a crashed worker may never do so.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, 1000)))]);
      clearTimeout(timer);
      port1.close();
    }
  };

  const findStored = async (key: ArtifactKey): Promise<StoredUnit | undefined> => {
    let stored = await readStoredUnit(store, key);
    if (stored !== undefined || !opts.waitForShards) return stored;
    const deadline = Date.now() + opts.waitForShards.timeoutMs;
    while (stored === undefined && Date.now() < deadline && !stopping) {
      await delay(opts.waitForShards.pollMs ?? 2000);
      stored = await readStoredUnit(store, key);
    }
    return stored;
  };

  const resolveExternal = async (u: GridUnit): Promise<Outcome> => {
    const stored = await findStored(keys.get(u.id)!);
    if (stored === undefined) {
      return { ok: false, reason: `waiting for shard ${shardOf!.get(u.id)}/${opts.shard!.count} (unit "${u.id}" is not in the store yet)` };
    }
    results[u.id] = stored.value;
    uses.set(u.id, stored.uses);
    external.push(u.id);
    emit({ type: 'external', unitId: u.id });
    log(`${label}: from store ${u.id} (shard ${shardOf!.get(u.id)}/${opts.shard!.count})`);
    return { ok: true };
  };

  const skip = (u: GridUnit, reason: string): Outcome => {
    skipReasons[u.id] = reason;
    emit({ type: 'skipped', unitId: u.id, reason });
    log(`${label}: skipped ${u.id}: ${reason}`);
    settle();
    return { ok: false, reason };
  };

  const resolveMine = async (u: GridUnit, depOutcomes: Outcome[]): Promise<Outcome> => {
    const blocked = depOutcomes.find((o): o is { ok: false; reason: string } => !o.ok);
    if (blocked) return skip(u, blocked.reason);
    const key = keys.get(u.id)!;
    const stored = await readStoredUnit(store, key);
    if (stored !== undefined) {
      results[u.id] = stored.value;
      uses.set(u.id, stored.uses);
      cached.push(u.id);
      emit({ type: 'cached', unitId: u.id });
      log(`${label}: cached ${u.id}`);
      settle();
      return { ok: true };
    }
    await slots.acquire(priority.get(u.id)!, position.get(u.id)!);
    try {
      if (stopping) {
        const why = failures[0] ? `unit "${failures[0].unitId}" failed` : 'the run was aborted';
        return skip(u, `not started: ${why}`);
      }
      const deps: Record<string, JsonValue> = {};
      for (const d of u.deps ?? []) deps[d] = results[d]!;
      emit({ type: 'start', unitId: u.id, kind: u.kind });
      log(`${label}: start ${u.id} [${u.kind}]`);
      running.set(u.id, 'started');
      refresh();
      const t = performance.now();
      try {
        const out = await dispatch(u, deps);
        results[u.id] = out.result;
        uses.set(u.id, out.uses);
        const ms = performance.now() - t;
        if (out.hit) {
          cached.push(u.id);
          emit({ type: 'cached', unitId: u.id });
          log(`${label}: cached ${u.id} (stored meanwhile by another run)`);
        } else {
          ran.push(u.id);
          emit({ type: 'ran', unitId: u.id, ms });
          log(`${label}: done ${u.id} in ${(ms / 1000).toFixed(1)}s`);
        }
        running.delete(u.id);
        settle();
        return { ok: true };
      } catch (err) {
        running.delete(u.id);
        // A cancelled run is not the unit's fault: say so instead of blaming it.
        if (opts.signal?.aborted) return skip(u, 'the run was aborted');
        const error = err instanceof Error ? err : new Error(String(err));
        failures.push({ unitId: u.id, kind: u.kind, error });
        stopping = true;
        emit({ type: 'failed', unitId: u.id, message: error.message });
        log(`${label}: FAILED ${u.id}: ${error.message}`);
        settle();
        return { ok: false, reason: `dependency "${u.id}" failed` };
      }
    } finally {
      slots.release();
    }
  };

  const slots = new Slots(workers);
  const outcomes = new Map<string, Promise<Outcome>>();
  try {
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('grid run aborted');
    // plan.order is topological, so every dep's promise exists before its dependents'.
    for (const u of plan.order) {
      if (!needed.has(u.id)) continue;
      const p = mine.has(u.id)
        ? Promise.all((u.deps ?? []).map((d) => outcomes.get(d)!)).then((deps) => resolveMine(u, deps))
        : resolveExternal(u);
      outcomes.set(u.id, p);
    }
    await Promise.all(outcomes.values());
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await (await pool)?.destroy();
  }

  const inOrder = (ids: Iterable<string>) => [...ids].sort((a, b) => position.get(a)! - position.get(b)!);
  const known = inOrder(Object.keys(results));
  const report: GridReport = {
    results: Object.fromEntries(known.map((id) => [id, results[id]!])),
    keys: Object.fromEntries(known.map((id) => [id, artifactId(keys.get(id)!)])),
    chains: keyChains(plan, keys, uses),
    ran: inOrder(ran),
    cached: inOrder(cached),
    skipped: inOrder(Object.keys(skipReasons)),
    skipReasons,
    external: inOrder(external),
    otherShards: plan.order.filter((u) => !needed.has(u.id)).map((u) => u.id),
    shard: opts.shard,
    workers,
    codeHash,
    wallMs: performance.now() - t0,
  };
  bar.done(`${report.ran.length} ran, ${report.cached.length} cached, ${report.skipped.length} skipped, ${failures.length} failed`);
  if (failures.length > 0) throw new GridRunError(failures, report, opts.storeRoot);
  if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('grid run aborted');
  return report;
}
