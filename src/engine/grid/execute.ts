import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArtifactStore, artifactId, describeCorrupt, storableJson, type ArtifactKey } from '../store/artifacts.ts';
import type { ProgressReporter, ProgressTask } from '../util/progress.ts';
import type { GridHandler, GridUnit, JsonValue, UnitContext, UnitMessage } from './unit.ts';

/**
 * Running one unit, the same way in a worker thread and inline: load the handler (init
 * once per thread), build its context, and memoise its result in the store. The result
 * is written by whoever computes it, so a unit that finished is stored even if the run
 * fails later, and a second writer of the same key (another shard) is harmless.
 */

export const RESULT_FILE = 'value.json';
/**
 * Beside a unit's result: the ids of the artifacts the unit read or stored while computing it
 * (a trained model, say). With the unit's deps, this is the chain of keys a result rests on,
 * which `reprobook verify` recomputes; the key alone does not say what the handler fetched.
 */
export const USES_FILE = 'uses.json';

/** A stored unit: its result and the artifacts it used (null: stored before uses were recorded). */
export interface StoredUnit {
  value: JsonValue;
  uses: string[] | null;
}

/** One handler module per URL and config per thread, initialised once: `init` may set up a tfjs backend. */
const handlers = new Map<string, Promise<GridHandler>>();

export function loadHandler(url: string, config: JsonValue = null): Promise<GridHandler> {
  const id = `${url}\n${JSON.stringify(config)}`;
  let p = handlers.get(id);
  if (!p) {
    p = (async () => {
      const mod = (await import(url)) as Partial<GridHandler> & { default?: Partial<GridHandler> };
      // Accept `export default { execute }` too; named exports are the documented form.
      const h = typeof mod.execute === 'function' ? mod : mod.default;
      if (!h || typeof h.execute !== 'function') {
        throw new Error(`grid handler ${url} does not export execute(unit, ctx)`);
      }
      if (typeof h.init === 'function') await h.init(config);
      return h as GridHandler;
    })();
    handlers.set(id, p);
    // A failed import or init is not cached, so that the message is the same for every unit.
    p.catch(() => handlers.delete(id));
  }
  return p;
}

async function readUnitEntry(dir: string): Promise<StoredUnit> {
  const value = JSON.parse(await readFile(join(dir, RESULT_FILE), 'utf8')) as JsonValue;
  let uses: string[] | null = null;
  try {
    uses = JSON.parse(await readFile(join(dir, USES_FILE), 'utf8')) as string[];
  } catch { /* an entry from before uses were recorded */ }
  return { value, uses };
}

/** A unit previously stored under `key`, or undefined. */
export async function readStoredUnit(store: ArtifactStore, key: ArtifactKey): Promise<StoredUnit | undefined> {
  const entry = await store.get(key);
  return entry ? readUnitEntry(entry.dir) : undefined;
}

/** A ProgressReporter whose tasks are forwarded as messages (to the parent thread). */
export function forwardingProgress(unitId: string, send: (m: UnitMessage) => void, throttleMs = 200): ProgressReporter {
  return {
    start(label: string, total: number, unit?: string): ProgressTask {
      let last = 0;
      send({ type: 'progress', unitId, label, done: 0, total, unit });
      return {
        update(done, u) {
          const now = Date.now();
          // Messages are cheap but a training loop may update every batch: keep the parent calm.
          if (now - last < throttleMs && done < total) return;
          last = now;
          send({ type: 'progress', unitId, label, done, total, unit, fields: u?.fields });
        },
        done(summary) {
          send({ type: 'progress-done', unitId, label, summary });
        },
      };
    },
  };
}

export interface UnitRun {
  handlerUrl: string;
  /** Passed to the handler's init() (RunGridOptions.handlerConfig). */
  handlerConfig: JsonValue;
  unit: GridUnit;
  key: ArtifactKey;
  deps: Record<string, JsonValue>;
  storeRoot: string;
  send: (m: UnitMessage) => void;
  signal?: AbortSignal;
}

export interface UnitOutcome {
  result: JsonValue;
  uses: string[] | null;
  /** True when another process stored the result between the parent's check and now. */
  hit: boolean;
}

export async function executeUnit(run: UnitRun): Promise<UnitOutcome> {
  // A quarantined entry is reported through the unit's log, to whoever runs the grid.
  const used = new Set<string>();
  const store = new ArtifactStore(run.storeRoot, {
    onEvent: (e) => {
      if (e.type === 'hit' || e.type === 'stored') used.add(e.id);
      // A removed entry (a superseded training snapshot) is nothing the result rests on.
      if (e.type === 'removed') used.delete(e.id);
      if (e.type === 'corrupt') run.send({ type: 'log', unitId: run.unit.id, message: describeCorrupt(e).trimEnd() });
    },
  });
  const handler = await loadHandler(run.handlerUrl, run.handlerConfig);
  const entry = await store.getOrCreate(run.key, async (dir) => {
    const ctx: UnitContext = {
      unit: run.unit,
      storeRoot: run.storeRoot,
      store,
      deps: run.deps,
      progress: forwardingProgress(run.unit.id, run.send),
      log: (message) => run.send({ type: 'log', unitId: run.unit.id, message: String(message) }),
      signal: run.signal ?? new AbortController().signal,
      resultId: artifactId(run.key),
    };
    const value = await handler.execute(run.unit, ctx);
    if (value === undefined) throw new Error('execute() returned undefined; a unit\'s result must be a JSON value (return null for "nothing")');
    await writeFile(join(dir, RESULT_FILE), storableJson(value, 'the result of execute()'));
    await writeFile(join(dir, USES_FILE), JSON.stringify([...used].sort()));
  });
  // Read back what was stored even on a fresh run: results are then identical to cached
  // ones (JSON semantics), and to a concurrent writer's if its rename won.
  const { value, uses } = await readUnitEntry(entry.dir);
  return { result: value, uses, hit: entry.hit };
}
