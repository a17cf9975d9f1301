import { artifactId, type ArtifactKey, type ArtifactStore } from '../store/artifacts.ts';
import type { Dispatcher } from './dispatch.ts';
import { readStoredUnit, type StoredUnit } from './execute.ts';
import { criticalPath, keyChains, type GridPlan } from './graph.ts';
import type { ShardShare } from './shard.ts';
import type { GridEvent, GridReport, JsonValue, GridUnit, ShardSpec } from './unit.ts';

/**
 * The order of a run: every unit it needs, after its deps. A unit of this run is found in the
 * store or dispatched, at most `slots` at a time, longest remaining chain first; a unit of
 * another shard is read from the store (or waited for). What happens is emitted as events,
 * and tallied for the report. A failure stops new units from starting; so does the signal.
 */

export interface ScheduleInput {
  plan: GridPlan;
  keys: Map<string, ArtifactKey>;
  share: ShardShare;
  shard: ShardSpec | undefined;
  /** The run's store, for results already there (this run's, or another shard's). */
  store: ArtifactStore;
  dispatcher: Dispatcher;
  /** How many units may run at once (the worker count). */
  slots: number;
  emit: (event: GridEvent) => void;
  signal?: AbortSignal;
  /** How long to wait for a dep computed by another shard before skipping; default: do not wait. */
  waitForShards?: { timeoutMs: number; pollMs?: number };
}

/** What a run did, unit by unit. */
export interface GridTally {
  results: Record<string, JsonValue>;
  uses: Map<string, string[] | null>;
  ran: string[];
  cached: string[];
  skipReasons: Record<string, string>;
  external: string[];
  failures: Array<{ unitId: string; kind: string; error: Error }>;
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

export async function scheduleUnits(input: ScheduleInput): Promise<GridTally> {
  const { plan, keys, share, store, emit } = input;
  const tally: GridTally = { results: {}, uses: new Map(), ran: [], cached: [], skipReasons: {}, external: [], failures: [] };
  const priority = criticalPath(plan);
  const position = new Map(plan.order.map((u, i) => [u.id, i]));
  const slots = new Slots(input.slots);
  let stopping = false;
  const onAbort = () => {
    stopping = true;
  };
  input.signal?.addEventListener('abort', onAbort, { once: true });

  const keep = (u: GridUnit, stored: StoredUnit, list: string[]) => {
    tally.results[u.id] = stored.value;
    tally.uses.set(u.id, stored.uses);
    list.push(u.id);
  };

  const findStored = async (key: ArtifactKey): Promise<StoredUnit | undefined> => {
    let stored = await readStoredUnit(store, key);
    if (stored !== undefined || !input.waitForShards) return stored;
    const deadline = Date.now() + input.waitForShards.timeoutMs;
    while (stored === undefined && Date.now() < deadline && !stopping) {
      await delay(input.waitForShards.pollMs ?? 2000);
      stored = await readStoredUnit(store, key);
    }
    return stored;
  };

  const resolveExternal = async (u: GridUnit): Promise<Outcome> => {
    const stored = await findStored(keys.get(u.id)!);
    const shard = share.shardOf(u.id);
    if (stored === undefined) return { ok: false, reason: `waiting for shard ${shard}/${input.shard!.count} (unit "${u.id}" is not in the store yet)` };
    keep(u, stored, tally.external);
    emit({ type: 'external', unitId: u.id, shard });
    return { ok: true };
  };

  const skip = (u: GridUnit, reason: string): Outcome => {
    tally.skipReasons[u.id] = reason;
    emit({ type: 'skipped', unitId: u.id, reason });
    return { ok: false, reason };
  };

  const dispatch = async (u: GridUnit): Promise<Outcome> => {
    const deps: Record<string, JsonValue> = {};
    for (const d of u.deps ?? []) deps[d] = tally.results[d]!;
    emit({ type: 'start', unitId: u.id, kind: u.kind });
    const t = performance.now();
    try {
      const out = await input.dispatcher.run(u, keys.get(u.id)!, deps);
      keep(u, { value: out.result, uses: out.uses }, out.hit ? tally.cached : tally.ran);
      emit(out.hit ? { type: 'cached', unitId: u.id, meanwhile: true } : { type: 'ran', unitId: u.id, ms: performance.now() - t });
      return { ok: true };
    } catch (err) {
      // A cancelled run is not the unit's fault: say so instead of blaming it.
      if (input.signal?.aborted) return skip(u, 'the run was aborted');
      const error = err instanceof Error ? err : new Error(String(err));
      tally.failures.push({ unitId: u.id, kind: u.kind, error });
      stopping = true;
      emit({ type: 'failed', unitId: u.id, message: error.message });
      return { ok: false, reason: `dependency "${u.id}" failed` };
    }
  };

  const resolveMine = async (u: GridUnit, depOutcomes: Outcome[]): Promise<Outcome> => {
    const blocked = depOutcomes.find((o): o is { ok: false; reason: string } => !o.ok);
    if (blocked) return skip(u, blocked.reason);
    const stored = await readStoredUnit(store, keys.get(u.id)!);
    if (stored !== undefined) {
      keep(u, stored, tally.cached);
      emit({ type: 'cached', unitId: u.id });
      return { ok: true };
    }
    await slots.acquire(priority.get(u.id)!, position.get(u.id)!);
    try {
      if (!stopping) return await dispatch(u);
      return skip(u, `not started: ${tally.failures[0] ? `unit "${tally.failures[0].unitId}" failed` : 'the run was aborted'}`);
    } finally {
      slots.release();
    }
  };

  const outcomes = new Map<string, Promise<Outcome>>();
  try {
    // plan.order is topological, so every dep's promise exists before its dependents'.
    for (const u of plan.order) {
      if (!share.needed.has(u.id)) continue;
      const p = share.mine.has(u.id)
        ? Promise.all((u.deps ?? []).map((d) => outcomes.get(d)!)).then((deps) => resolveMine(u, deps))
        : resolveExternal(u);
      outcomes.set(u.id, p);
    }
    await Promise.all(outcomes.values());
  } finally {
    input.signal?.removeEventListener('abort', onAbort);
  }
  return tally;
}

/** The report of a run from its tally: every list in the plan's order. */
export function gridReport(plan: GridPlan, keys: Map<string, ArtifactKey>, share: ShardShare, tally: GridTally, run: Pick<GridReport, 'shard' | 'workers' | 'codeHash' | 'wallMs'>): GridReport {
  const position = new Map(plan.order.map((u, i) => [u.id, i]));
  const inOrder = (ids: Iterable<string>) => [...ids].sort((a, b) => position.get(a)! - position.get(b)!);
  const known = inOrder(Object.keys(tally.results));
  return {
    results: Object.fromEntries(known.map((id) => [id, tally.results[id]!])),
    keys: Object.fromEntries(known.map((id) => [id, artifactId(keys.get(id)!)])),
    chains: keyChains(plan, keys, tally.uses),
    ran: inOrder(tally.ran),
    cached: inOrder(tally.cached),
    skipped: inOrder(Object.keys(tally.skipReasons)),
    skipReasons: tally.skipReasons,
    external: inOrder(tally.external),
    otherShards: plan.order.filter((u) => !share.needed.has(u.id)).map((u) => u.id),
    shard: run.shard,
    workers: run.workers,
    codeHash: run.codeHash,
    wallMs: run.wallMs,
  };
}
