import type { ArtifactEvent, ArtifactStore } from '../store/artifacts.ts';
import type { ProgressReporter } from '../util/progress.ts';

/**
 * The experiment grid's domain: units of work, the handler that does them, and what a
 * run reports. Units and results cross thread boundaries and land in the artifact store,
 * so they are plain JSON.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** One independent piece of the grid: one model to train, one evaluation of it. */
export interface GridUnit {
  /** Unique name within the grid, e.g. `lr0.1/train`. Used in messages and in `ctx.deps`. */
  id: string;
  /** What the handler should do, e.g. `train`, `evaluate`. Part of the cache key. */
  kind: string;
  /** Everything that can change the result (seed, learning rate, epochs...). Part of the cache key. */
  inputs: Record<string, JsonValue>;
  /** Units whose results this one needs; they run first and their results arrive in `ctx.deps`. */
  deps?: string[];
  /**
   * Units with the same group always land in the same shard (default: the unit's own id), so
   * a chain like teacher -> student -> attacks can be kept on one machine.
   */
  group?: string;
  /** Relative cost (default 1): balances shards and runs long critical paths first. */
  cost?: number;
  /**
   * A prerequisite that every shard computes itself when one of its units needs it and the
   * store does not hold it yet, instead of waiting for the shard it belongs to (a shared root
   * of many groups, e.g. a warm start). Its key is the same everywhere, so two shards storing
   * it is harmless; the price is computing it once per shard that needs it.
   */
  everyShard?: boolean;
}

export type CorruptArtifact = Extract<ArtifactEvent, { type: 'corrupt' }>;

/** 1-based: `--shard 2/4` is { index: 2, count: 4 }. */
export interface ShardSpec {
  index: number;
  count: number;
}

/** Forwarded to the parent process: progress and log lines of a running unit. */
export type UnitMessage =
  | { type: 'progress'; unitId: string; label: string; done: number; total: number; unit?: string; fields?: Record<string, string | number> }
  | { type: 'progress-done'; unitId: string; label: string; summary?: string }
  | { type: 'log'; unitId: string; message: string };

/** What a handler's `execute` receives besides the unit. */
export interface UnitContext {
  unit: GridUnit;
  /** Root of the shared content-addressed store: the only state shared between workers. */
  storeRoot: string;
  /** An ArtifactStore on `storeRoot`, for the unit's own large artifacts (weights, arrays). */
  store: ArtifactStore;
  /** Results of `unit.deps`, by unit id. */
  deps: Record<string, JsonValue>;
  /** Progress reporter whose bars and lines are shown by the parent, labelled with the unit. */
  progress: ProgressReporter;
  /** A line for the run's log, prefixed with the unit id by the parent. */
  log(message: string): void;
  /** Aborted when the run is cancelled (inline runs; a worker is simply terminated). */
  signal: AbortSignal;
  /** Artifact id under which this unit's result is memoised. */
  resultId: string;
}

/** The module a run's `handler` option points at. See src/engine/grid/index.ts for how to write one. */
export interface GridHandler {
  /** Called once per worker thread (once per process inline) before its first unit, with the run's handlerConfig. */
  init?(config: JsonValue): void | Promise<void>;
  execute(unit: GridUnit, ctx: UnitContext): Promise<JsonValue>;
}

/**
 * What a run reports as it goes, to its listeners: the caller's `onEvent`, the log and the
 * progress line (listeners.ts) hear the same events.
 */
export type GridEvent =
  | { type: 'start'; unitId: string; kind: string }
  | { type: 'ran'; unitId: string; ms: number }
  /** Found in the store; `meanwhile`: stored by another run after this one looked and before it ran the unit. */
  | { type: 'cached'; unitId: string; meanwhile?: true }
  /** Result of a unit of another shard (`shard`), read from the store. */
  | { type: 'external'; unitId: string; shard: number }
  | { type: 'skipped'; unitId: string; reason: string }
  | { type: 'failed'; unitId: string; message: string }
  /** A stored result this run looked up was corrupt: moved aside, and the unit recomputed. */
  | { type: 'corrupt'; artifact: CorruptArtifact }
  | UnitMessage;

export interface GridReport {
  /** Result of every unit known after the run: ran, cached, or read from another shard. */
  results: Record<string, JsonValue>;
  /** The artifact id of each of those results. */
  keys: Record<string, string>;
  /**
   * Per unit with a result, every artifact id its result rests on: its own, those it read or
   * stored (a model), and its deps' chains. null where a unit in the chain was stored before
   * reprobook recorded what units use. A notebook publishes a value with the chains of the
   * units it came from, and `reprobook verify` recomputes exactly those.
   */
  chains: Record<string, string[] | null>;
  /** Computed by this run. */
  ran: string[];
  /** Of this shard, found in the store. */
  cached: string[];
  /** Of this shard, not run because a dependency (of another shard) is not in the store yet. */
  skipped: string[];
  /** Why each skipped unit was skipped. */
  skipReasons: Record<string, string>;
  /** Of other shards, read from the store because a unit of this shard needs them. */
  external: string[];
  /** Of other shards and not needed here. */
  otherShards: string[];
  shard?: ShardSpec;
  workers: number;
  /** The handler code hash that is part of every result key. */
  codeHash: string;
  wallMs: number;
}
