/**
 * The experiment grid: independent units of work (a model to train, an attack on one
 * trained model, one simulation run) run in parallel on a pool of worker threads, with the artifact store
 * as the only shared state, and the same results as a serial run.
 *
 * ## Running a grid
 *
 *   import { runGrid, parseShard } from './index.ts';
 *   const report = await runGrid(units, {
 *     handler: fileURLToPath(new URL('./grid-handler.ts', import.meta.url)),
 *     storeRoot: '.reprobook/artifacts',
 *     workers: 2,                      // default os.availableParallelism(); 1 = inline, serial
 *     shard: parseShard('1/2'),        // optional: this machine's half of the units
 *   });
 *   report.results['T10/student']      // every unit's JSON result, by id
 *
 * A unit is plain JSON: `{ id, kind, inputs, deps?, group?, cost? }` (see unit.ts). Units
 * run after their deps, independent ones in parallel, longest remaining chain first. Each
 * unit's result is memoised in the store under a key made of its kind, its inputs, the
 * handler's code hash (the handler file and every project module it imports, plus the
 * versions of the npm packages it imports) and the keys of its deps: a re-run, or a run
 * resumed after a crash, only computes what is missing. A unit that throws fails the run
 * with a GridRunError naming it; units already finished stay stored.
 *
 * ## Sharding (`--shard i/n`)
 *
 * Each of n machines sharing a store directory runs `shard: { index: i, count: n }`: a
 * deterministic share of the units (whole groups; balanced by cost). A unit whose dep
 * belongs to another shard reads that dep's result from the store; if it is not there yet,
 * the unit is skipped ("waiting for shard k/n", see report.skipReasons), or waits for it
 * with `waitForShards: { timeoutMs }`. Give a chain the same `group` (e.g. `T10` for the
 * teacher, the student and the attacks at T = 10) so that it never waits across machines,
 * and mark a root that many groups share (a warm start) `everyShard`: each shard that
 * needs it computes it when it is not stored yet.
 * A final unsharded run then finds every unit in the store and only assembles the results.
 *
 * ## Writing a handler
 *
 * A handler is a TypeScript ESM module (loaded in each worker through tsx, so it may import
 * project modules with `.ts` extensions as usual) that exports:
 *
 *   export async function init(): Promise<void> { ... }   // optional; once per worker thread
 *                                                        // (once per process when inline)
 *   export async function execute(unit: GridUnit, ctx: UnitContext): Promise<JsonValue> {
 *     switch (unit.kind) {
 *       case 'teacher': { ... return { modelId, accuracy }; }
 *       case 'student': { const teacher = ctx.deps[`T${unit.inputs.T}/teacher`]; ... }
 *     }
 *     throw new Error(`unknown unit kind ${unit.kind}`);
 *   }
 *
 * Rules that keep parallel, sharded and resumed runs identical to a serial one:
 * - The result must depend only on `unit.inputs`, `ctx.deps` and the code. Seed every
 *   random source from the inputs; never read the clock, Math.random, or global state that
 *   another unit could have changed (a worker runs many units one after the other).
 * - Return small JSON (ids, metrics). It must survive JSON unchanged, by the store's one rule
 *   (storableJson, as for memoJson): NaN, a typed array or a Map fails the unit, naming the
 *   part. The value read back from the store is what this run and a cached one return. Store large things (weights, arrays)
 *   yourself with `ctx.store.getOrCreate({ kind, inputs }, writeDir)` under a key built
 *   from the same inputs (and e.g. `ctx.resultId`), and return the entry id.
 * - Do not write anywhere else: the store is the only shared state.
 * - Anything outside the project code that changes the result (backend name, data files'
 *   hashes, profile parameters) belongs in `unit.inputs`.
 * - Report progress through `ctx.progress` (a ProgressReporter, so code written for
 *   createProgress() works unchanged) and messages through `ctx.log`; the parent shows
 *   them labelled with the unit. Do not write to stdout from a worker.
 * - `init()` is where per-thread set-up goes, e.g. `await tf.setBackend('wasm')`: each
 *   worker thread has its own tfjs and its own backend.
 * - Throw an Error with a clear message on failure; the run reports it with the unit id.
 */

export { runGrid, resolveWorkerCount, GridRunError, type RunGridOptions } from './run-grid.ts';
export { parseShard, formatShard, assignShards } from './shard.ts';
export { planGrid, unitKeys, criticalPath, keyChains, chainOf, type GridPlan } from './graph.ts';
export { handlerCodeHash, handlerFingerprint } from './code-hash.ts';
export type {
  GridEvent,
  GridHandler,
  GridReport,
  GridUnit,
  JsonValue,
  ShardSpec,
  UnitContext,
  UnitMessage,
} from './unit.ts';
