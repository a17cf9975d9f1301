import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  GridRunError,
  assignShards,
  chainOf,
  handlerCodeHash,
  parseShard,
  planGrid,
  resolveWorkerCount,
  runGrid,
  unitKeys,
  type GridEvent,
  type GridUnit,
  type RunGridOptions,
} from '../src/engine/grid/index.ts';
import { hashValue, sha256 } from '../src/engine/util/hash.ts';
import { ArtifactStore, artifactId } from '../src/engine/store/artifacts.ts';
import { silentProgress, type ProgressReporter } from '../src/engine/util/progress.ts';
import { UserError } from '../src/engine/util/errors.ts';

const HANDLER = fileURLToPath(new URL('./fixtures/grid/handler.ts', import.meta.url));
const NO_EXECUTE = fileURLToPath(new URL('./fixtures/grid/no-execute.ts', import.meta.url));

/** The shape of the real grid: per temperature a teacher -> student -> attack chain, plus a summary of all. */
function distillationGrid(): GridUnit[] {
  const units: GridUnit[] = [];
  for (const T of [1, 2, 5, 10]) {
    const group = `T${T}`;
    units.push({ id: `T${T}/teacher`, kind: 'teacher', inputs: { T, n: T, rounds: 3000 }, group, cost: 3 });
    units.push({ id: `T${T}/student`, kind: 'student', inputs: { T, n: 10 * T, rounds: 3000 }, deps: [`T${T}/teacher`], group, cost: 3 });
    units.push({ id: `T${T}/fgsm`, kind: 'fgsm', inputs: { T, n: 100 * T }, deps: [`T${T}/student`], group });
  }
  units.push({ id: 'summary', kind: 'summary', inputs: { n: 0 }, deps: units.filter((u) => u.kind === 'fgsm').map((u) => u.id) });
  return units;
}

async function scratch(t: { after: (fn: () => Promise<void>) => void }): Promise<{ dir: string; store: string; logFile: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'reprobook-grid-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const logFile = join(dir, 'executions.log');
  process.env.GRID_FIXTURE_LOG = logFile;
  process.env.GRID_FIXTURE_DIR = dir;
  await writeFile(logFile, '');
  return { dir, store: join(dir, 'store'), logFile };
}

async function logLines(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8')).split('\n').filter(Boolean);
}

const executed = (lines: string[]) => lines.filter((l) => l.startsWith('begin ')).map((l) => l.split(' ')[1]!);

function quiet(extra: Partial<RunGridOptions> & { storeRoot: string }): RunGridOptions {
  return { handler: HANDLER, progress: silentProgress, log: () => {}, ...extra };
}

test('parseShard reads i/n (1-based) and rejects anything else with a UserError', () => {
  assert.deepEqual(parseShard('2/4'), { index: 2, count: 4 });
  assert.deepEqual(parseShard(' 1 / 1 '), { index: 1, count: 1 });
  for (const bad of ['0/2', '3/2', '2', 'a/b', '1/0', '-1/2', '1/2/3', '']) {
    assert.throws(() => parseShard(bad), (e: unknown) => e instanceof UserError && e.message.includes(`"${bad}"`) && /i\/n/.test(e.hint ?? ''), bad);
  }
});

test('resolveWorkerCount: default to the cores, reject non-positive or fractional counts', () => {
  assert.ok(resolveWorkerCount() >= 1);
  assert.equal(resolveWorkerCount('3'), 3);
  for (const bad of [0, -1, 1.5, 'two']) assert.throws(() => resolveWorkerCount(bad), UserError);
});

test('planGrid orders deps first and names the unit in every mistake', () => {
  const plan = planGrid([
    { id: 'b', kind: 'k', inputs: {}, deps: ['a'] },
    { id: 'a', kind: 'k', inputs: {} },
  ]);
  assert.deepEqual(plan.order.map((u) => u.id), ['a', 'b']);
  assert.throws(() => planGrid([{ id: 'a', kind: 'k', inputs: {} }, { id: 'a', kind: 'k', inputs: {} }]), /"a" is used twice/);
  assert.throws(() => planGrid([{ id: 'a', kind: 'k', inputs: {}, deps: ['zz'] }]), /"a" depends on unknown unit "zz"/);
  assert.throws(
    () => planGrid([
      { id: 'a', kind: 'k', inputs: {}, deps: ['c'] },
      { id: 'b', kind: 'k', inputs: {}, deps: ['a'] },
      { id: 'c', kind: 'k', inputs: {}, deps: ['b'] },
    ]),
    /cycle: a -> c -> b -> a/,
  );
  assert.throws(() => planGrid([{ id: 'a', kind: '', inputs: {} }]), /"a" has no kind/);
});

test('assignShards: deterministic, whole groups, every unit in exactly one shard, balanced', () => {
  const units = distillationGrid();
  const a = assignShards(units, 2);
  assert.deepEqual([...a], [...assignShards([...units].reverse(), 2)].sort((x, y) => units.findIndex((u) => u.id === x[0]) - units.findIndex((u) => u.id === y[0])));
  for (const T of [1, 2, 5, 10]) {
    assert.equal(a.get(`T${T}/teacher`), a.get(`T${T}/student`));
    assert.equal(a.get(`T${T}/teacher`), a.get(`T${T}/fgsm`));
  }
  const perShard = [1, 2].map((s) => units.filter((u) => a.get(u.id) === s).length);
  assert.deepEqual(perShard.sort(), [6, 7]);
  assert.equal(new Set(assignShards(units, 1).values()).size, 1);
});

test('workers=1 and workers=2 give identical results; deps run first; a second run computes nothing', async (t) => {
  const { dir, logFile } = await scratch(t);
  const units = distillationGrid();

  const serial = await runGrid(units, quiet({ storeRoot: join(dir, 'serial'), workers: 1 }));
  const serialLog = await logLines(logFile);
  await writeFile(logFile, '');
  const parallel = await runGrid(units, quiet({ storeRoot: join(dir, 'parallel'), workers: 2 }));
  const parallelLog = await logLines(logFile);

  assert.deepEqual(parallel.results, serial.results);
  assert.equal(Object.keys(serial.results).length, units.length);
  assert.equal(serial.codeHash, parallel.codeHash);
  // The values themselves: a chain's n adds up along its deps, the digest is the fixture's.
  assert.deepEqual(serial.results['T2/fgsm'], { ...(serial.results['T2/fgsm'] as object), n: 200 + 20 + 2, deps: ['T2/student'] });
  assert.equal(
    (serial.results['T1/teacher'] as { digest: string }).digest,
    Array.from({ length: 3000 }).reduce<string>((h) => sha256(h), hashValue({ inputs: units[0]!.inputs, deps: {} })),
  );

  for (const [report, lines, workers] of [[serial, serialLog, 1], [parallel, parallelLog, 2]] as const) {
    assert.equal(report.workers, workers);
    assert.deepEqual([...report.ran].sort(), units.map((u) => u.id).sort());
    assert.deepEqual(executed(lines).sort(), units.map((u) => u.id).sort(), 'each unit executed exactly once');
    for (const u of units) {
      for (const d of u.deps ?? []) {
        assert.ok(lines.indexOf(lines.find((l) => l.startsWith(`end ${d} `))!) < lines.indexOf(lines.find((l) => l.startsWith(`begin ${u.id} `))!), `${d} before ${u.id}`);
      }
    }
  }
  // Inline runs in this thread; the pool in worker threads that started without the
  // parent's tsx loader (execArgv empty): worker.mjs's own registration loaded the .ts.
  assert.ok(executed(serialLog).length > 0 && serialLog.filter((l) => l.startsWith('begin ')).every((l) => l.endsWith(' 0')));
  const workerInits = parallelLog.filter((l) => l.startsWith('init '));
  assert.ok(workerInits.length >= 1 && workerInits.length <= 2, `one init per worker: ${workerInits.join('; ')}`);
  assert.ok(workerInits.every((l) => l.endsWith(' -')), `workers run with no inherited loader flags: ${workerInits.join('; ')}`);
  const threads = new Set(parallelLog.filter((l) => l.startsWith('begin ')).map((l) => l.split(' ')[2]));
  assert.ok(!threads.has('0'), 'no unit ran on the main thread');
  assert.equal(new Set(workerInits.map((l) => l.split(' ')[1])).size, workerInits.length, 'init is called once per worker');

  await writeFile(logFile, '');
  const again = await runGrid(units, quiet({ storeRoot: join(dir, 'parallel'), workers: 2 }));
  assert.deepEqual(again.ran, []);
  assert.deepEqual([...again.cached].sort(), units.map((u) => u.id).sort());
  assert.deepEqual(again.results, serial.results);
  assert.deepEqual(await logLines(logFile), [], 'a fully cached run starts no worker and executes nothing');
});

test('independent units really run at the same time with workers=2', async (t) => {
  const { dir } = await scratch(t);
  const units: GridUnit[] = [
    { id: 'left', kind: 'rendezvous', inputs: { partner: 'right', rounds: 10 } },
    { id: 'right', kind: 'rendezvous', inputs: { partner: 'left', rounds: 10 } },
  ];
  const report = await runGrid(units, quiet({ storeRoot: join(dir, 'store'), workers: 2 }));
  assert.deepEqual(report.ran, ['left', 'right']);
});

test('changing inputs upstream recomputes the dependents too (keys chain through deps)', async (t) => {
  const { store, logFile } = await scratch(t);
  const units = distillationGrid();
  await runGrid(units, quiet({ storeRoot: store, workers: 1 }));
  await writeFile(logFile, '');
  const changed = units.map((u) => (u.id === 'T5/teacher' ? { ...u, inputs: { ...u.inputs, rounds: 3001 } } : u));
  const report = await runGrid(changed, quiet({ storeRoot: store, workers: 1 }));
  assert.deepEqual(report.ran, ['T5/teacher', 'T5/student', 'T5/fgsm', 'summary']);
  assert.deepEqual(executed(await logLines(logFile)), ['T5/teacher', 'T5/student', 'T5/fgsm', 'summary']);
});

test('shards 1/2 and 2/2 run side by side cover every unit once; the final unsharded run only assembles', async (t) => {
  const { store, logFile } = await scratch(t);
  const units = distillationGrid();
  const wait = { timeoutMs: 60_000, pollMs: 20 };
  const [s1, s2] = await Promise.all([
    runGrid(units, quiet({ storeRoot: store, workers: 1, shard: parseShard('1/2'), waitForShards: wait })),
    runGrid(units, quiet({ storeRoot: store, workers: 1, shard: parseShard('2/2'), waitForShards: wait })),
  ]);
  const all = units.map((u) => u.id).sort();
  assert.deepEqual([...s1.ran, ...s2.ran].sort(), all, 'every unit ran in exactly one shard');
  assert.deepEqual(executed(await logLines(logFile)).sort(), all);
  assert.ok(s1.ran.length > 0 && s2.ran.length > 0);
  // The summary needs every chain, so the shard that owns it read the other's from the store.
  const owner = s1.ran.includes('summary') ? s1 : s2;
  assert.ok(owner.external.length > 0 && owner.external.every((id) => id.endsWith('/fgsm')));

  await writeFile(logFile, '');
  const final = await runGrid(units, quiet({ storeRoot: store, workers: 2 }));
  assert.deepEqual(final.ran, []);
  assert.equal(final.cached.length, units.length);
  assert.deepEqual(await logLines(logFile), []);
  const serial = await runGrid(units, quiet({ storeRoot: join(store, '..', 'serial'), workers: 1 }));
  assert.deepEqual(final.results, serial.results);
});

test('a shard whose dep belongs to another shard not yet run skips it with "waiting for shard k"', async (t) => {
  const { store } = await scratch(t);
  const units = distillationGrid();
  const shardOf = assignShards(units, 2);
  const k = shardOf.get('summary')!;
  const other = 3 - k;
  const lines: string[] = [];
  const first = await runGrid(units, quiet({ storeRoot: store, workers: 1, shard: { index: k, count: 2 }, log: (l) => lines.push(l) }));
  assert.ok(first.skipped.includes('summary'));
  assert.match(first.skipReasons.summary!, new RegExp(`waiting for shard ${other}/2 \\(unit "T\\d+/fgsm" is not in the store yet\\)`));
  assert.ok(lines.some((l) => l.includes('skipped summary: waiting for shard')));
  assert.ok(first.otherShards.length > 0 && first.otherShards.every((id) => shardOf.get(id) === other));

  await runGrid(units, quiet({ storeRoot: store, workers: 1, shard: { index: other, count: 2 } }));
  const again = await runGrid(units, quiet({ storeRoot: store, workers: 1, shard: { index: k, count: 2 } }));
  assert.deepEqual(again.ran, ['summary']);
  assert.deepEqual(again.skipped, []);
});

test('an everyShard prerequisite (a shared warm start) is computed by any shard that needs it, so shards never wait on it', async (t) => {
  const { store, logFile } = await scratch(t);
  // Every chain starts from one root, as every network of a seed starts from its warm start.
  const units: GridUnit[] = [{ id: 'warm', kind: 'teacher', inputs: { n: 0, rounds: 100 }, group: 'T1', everyShard: true }];
  for (const T of [1, 2, 5, 10]) {
    const group = `T${T}`;
    units.push({ id: `T${T}/teacher`, kind: 'teacher', inputs: { T, n: T }, deps: ['warm'], group, cost: 3 });
    units.push({ id: `T${T}/student`, kind: 'student', inputs: { T, n: 10 * T }, deps: [`T${T}/teacher`, 'warm'], group, cost: 3 });
  }
  const shardOf = assignShards(units, 2);
  const other = 3 - shardOf.get('warm')!;
  // The shard that does not own the root runs first: it computes the root itself.
  const first = await runGrid(units, quiet({ storeRoot: store, workers: 1, shard: { index: other, count: 2 } }));
  assert.deepEqual(first.skipped, [], 'nothing waits for the other shard');
  assert.ok(first.ran.includes('warm'));
  const second = await runGrid(units, quiet({ storeRoot: store, workers: 1, shard: { index: 3 - other, count: 2 } }));
  assert.ok(second.cached.includes('warm'), 'the root is found stored, not computed twice');
  assert.deepEqual(second.skipped, []);
  const all = await runGrid(units, quiet({ storeRoot: store, workers: 1 }));
  assert.deepEqual(all.ran, [], 'the two shards covered the grid');
  assert.equal(executed(await logLines(logFile)).filter((id) => id === 'warm').length, 1);
});

for (const workers of [1, 2]) {
  test(`a failing unit fails the run naming the unit; finished units stay stored (workers=${workers})`, async (t) => {
    const { store, logFile } = await scratch(t);
    const units: GridUnit[] = [
      { id: 'ok-1', kind: 'teacher', inputs: { n: 1 } },
      { id: 'broken', kind: 'fail', inputs: { what: 'the student' }, deps: ['ok-1'] },
      { id: 'after-broken', kind: 'attack', inputs: { n: 3 }, deps: ['broken'] },
    ];
    const err = await runGrid(units, quiet({ storeRoot: store, workers })).then(
      () => assert.fail('the run should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof GridRunError);
    assert.match(err.message, /grid unit "broken" \(kind fail\) failed: boom in the student/);
    assert.match(err.hint, /1 finished units are stored/);
    assert.deepEqual(err.report.ran, ['ok-1']);
    assert.match(err.report.skipReasons['after-broken']!, /dependency "broken" failed/);

    await writeFile(logFile, '');
    const fixed = units.map((u) => (u.id === 'broken' ? { ...u, kind: 'student' } : u));
    const report = await runGrid(fixed, quiet({ storeRoot: store, workers }));
    assert.deepEqual(report.cached, ['ok-1']);
    assert.deepEqual(report.ran, ['broken', 'after-broken']);
    assert.deepEqual(executed(await logLines(logFile)), ['broken', 'after-broken']);
  });
}

test('progress and log lines from a worker reach the parent, labelled with the unit', async (t) => {
  const { store } = await scratch(t);
  const lines: string[] = [];
  const events: GridEvent[] = [];
  const report = await runGrid([{ id: 'only', kind: 'teacher', inputs: { rounds: 500 } }], {
    handler: HANDLER,
    storeRoot: store,
    workers: 2,
    progress: silentProgress,
    log: (l) => lines.push(l),
    onEvent: (e) => events.push(e),
    label: 'exp',
  });
  assert.deepEqual(report.ran, ['only']);
  assert.ok(lines.includes('exp: start only [teacher]'), lines.join('\n'));
  assert.ok(lines.includes('exp: [only] hello from only'), lines.join('\n'));
  assert.ok(lines.some((l) => /^exp: \[only\] rounds done: digest [0-9a-f]{8}$/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /^exp: done only in \d+\.\ds$/.test(l)), lines.join('\n'));
  const progress = events.filter((e) => e.type === 'progress');
  assert.ok(progress.length >= 2 && progress.every((e) => e.type === 'progress' && e.unitId === 'only' && e.total === 500));
  assert.deepEqual(events.map((e) => e.type).filter((x) => x !== 'progress'), ['start', 'progress-done', 'log', 'ran']);
});

test('the progress line and log name a running unit once: a task label that repeats the unit id is left out (issue 24, item 5)', async (t) => {
  const { store } = await scratch(t);
  const shown = new Map<string, string[]>();
  const progress: ProgressReporter = {
    start: () => ({
      update(_done, u) { for (const [id, text] of Object.entries(u?.fields ?? {})) shown.set(id, [...(shown.get(id) ?? []), String(text)]); },
      done() {},
    }),
  };
  const lines: string[] = [];
  await runGrid([
    { id: 'warmstart', kind: 'teacher', inputs: { rounds: 500, task: 'warmstart' } },
    { id: 'T30/teacher', kind: 'teacher', inputs: { rounds: 500, task: 'teacher T=30' } },
    // A student whose teacher is missing trains it first: that label says something the id does not.
    { id: 'T30/student', kind: 'student', inputs: { rounds: 500, task: 'teacher T=30' } },
  ], { handler: HANDLER, storeRoot: store, workers: 1, progress, log: (l) => lines.push(l), label: 'exp' });
  for (const id of ['warmstart', 'T30/teacher']) {
    assert.ok(shown.get(id)?.some((text) => /^\d+\/500 hashes$/.test(text)), `${id}: ${shown.get(id)?.join(' | ')}`);
    assert.ok(lines.some((l) => new RegExp(`^exp: \\[${id}\\] done: digest`).test(l)), lines.join('\n'));
  }
  assert.ok(shown.get('T30/student')?.some((text) => /^teacher T=30 \d+\/500 hashes$/.test(text)), shown.get('T30/student')?.join(' | '));
  assert.ok(lines.some((l) => l.startsWith('exp: [T30/student] teacher T=30 done: digest')), lines.join('\n'));
});

test('bad handlers are reported clearly', async (t) => {
  const { store } = await scratch(t);
  const units: GridUnit[] = [{ id: 'u', kind: 'teacher', inputs: {} }];
  await assert.rejects(runGrid(units, quiet({ storeRoot: store, handler: 'relative/handler.ts' })), (e: unknown) => e instanceof UserError && /not an absolute path/.test(e.message));
  await assert.rejects(runGrid(units, quiet({ storeRoot: store, handler: join(store, 'missing.ts') })), (e: unknown) => e instanceof UserError && /does not exist/.test(e.message));
  for (const workers of [1, 2]) {
    await assert.rejects(
      runGrid(units, quiet({ storeRoot: store, handler: NO_EXECUTE, workers })),
      (e: unknown) => e instanceof GridRunError && /grid unit "u".*no-execute\.ts does not export execute\(unit, ctx\)/.test(e.message),
    );
  }
});

test('the code hash covers the modules a handler imports, so editing one invalidates results', async (t) => {
  const { dir } = await scratch(t);
  const src = join(dir, 'src');
  await mkdir(src);
  await writeFile(join(src, 'helper.ts'), 'export const factor = 2;\n');
  await writeFile(join(src, 'handler.ts'), "import { factor } from './helper.ts';\nexport async function execute() { return factor; }\n");
  const before = await handlerCodeHash(join(src, 'handler.ts'));
  assert.equal(await handlerCodeHash(join(src, 'handler.ts')), before);
  await writeFile(join(src, 'helper.ts'), 'export const factor = 3;\n');
  assert.notEqual(await handlerCodeHash(join(src, 'handler.ts')), before);
});

test('a worker that dies, or a handler that returns no JSON, fails the run naming the unit', async (t) => {
  const { store } = await scratch(t);
  await assert.rejects(
    runGrid([{ id: 'dies', kind: 'crash', inputs: {} }], quiet({ storeRoot: store, workers: 2 })),
    (e: unknown) => e instanceof GridRunError && /grid unit "dies" \(kind crash\) failed: .*exited with code: 3/.test(e.message),
  );
  await assert.rejects(
    runGrid([{ id: 'void', kind: 'nothing', inputs: {} }], quiet({ storeRoot: store, workers: 1 })),
    (e: unknown) => e instanceof GridRunError && /grid unit "void" \(kind nothing\) failed: execute\(\) returned undefined; a unit's result must be a JSON value/.test(e.message),
  );
});

/**
 * Issue 23, item 3: one rule for JSON in the store. The grid stored a unit's NaN as null (so a
 * result read one way when computed and another when reused, had the grid not read it back)
 * where memoJson refused it; both now go through storableJson and refuse it, naming the part.
 */
test('a unit result that JSON would change is refused as memoJson refuses it, and nothing is stored', async (t) => {
  const { store } = await scratch(t);
  const unit: GridUnit = { id: 'rates', kind: 'nan', inputs: {} };
  for (const workers of [1, 2]) {
    await assert.rejects(runGrid([unit], quiet({ storeRoot: store, workers })), (e: unknown) =>
      e instanceof GridRunError && /grid unit "rates" \(kind nan\) failed: the result of execute\(\) cannot be stored as JSON unchanged: value\.rates\[1\] is NaN/.test(e.message));
  }
  const keys = unitKeys(planGrid([unit]), await handlerCodeHash(HANDLER));
  assert.equal(await new ArtifactStore(store).get(keys.get('rates')!), null, 'nothing stored');
  await assert.rejects(new ArtifactStore(store).memoJson({ kind: 'rates', inputs: {} }, async () => ({ rates: [0.5, NaN] })),
    /memoJson\(kind 'rates'\): the value cannot be stored as JSON unchanged: value\.rates\[1\] is NaN/);
});

for (const workers of [1, 2]) {
  test(`aborting a run stops it: no new unit starts, a running worker is stopped (workers=${workers})`, async (t) => {
    const { store, logFile } = await scratch(t);
    const controller = new AbortController();
    // Inline, only a handler that watches ctx.signal could stop early; this one does not,
    // so its sleep is short there. A worker is terminated mid-unit.
    const units: GridUnit[] = [
      { id: 'first', kind: 'teacher', inputs: { n: 1 } },
      { id: 'slow', kind: 'sleep', inputs: { ms: workers === 1 ? 200 : 60_000 }, deps: ['first'] },
      { id: 'last', kind: 'teacher', inputs: { n: 2 }, deps: ['slow'] },
    ];
    const onEvent = (e: GridEvent) => {
      if (e.type === 'log' && e.unitId === 'slow') controller.abort(new Error('stopped by the user'));
    };
    const run = runGrid(units, quiet({ storeRoot: store, workers, signal: controller.signal, onEvent }));
    await assert.rejects(run, /stopped by the user/);
    const ran = executed(await logLines(logFile));
    assert.ok(!ran.includes('last'), `nothing starts after the abort: ${ran.join(', ')}`);
    assert.ok(ran.includes('slow'), 'the abort came while "slow" was running');
    if (workers === 2) assert.ok(!(await logLines(logFile)).some((l) => l.startsWith('end slow ')), 'the worker running "slow" was stopped');
  });
}

/**
 * Issue 14, item 3: a unit's result rests on its own key, on what it stored or read (a model),
 * and on its deps' chains; the report gives that chain per unit, the same whether the unit
 * ran (inline or in a worker) or was found stored, and null for an entry stored before units
 * recorded what they use.
 */
test('the report gives each unit its chain of artifact keys', async (t) => {
  const { store, dir } = await scratch(t);
  const CHAIN = fileURLToPath(new URL('./fixtures/grid/chain-handler.ts', import.meta.url));
  const log = join(dir, 'chain.log');
  const units: GridUnit[] = [
    { id: 'a', kind: 'square', inputs: { x: 3, log } },
    { id: 'b', kind: 'square', inputs: { x: 4, log } },
    { id: 'sum', kind: 'plus', inputs: { k: 1, log }, deps: ['a', 'b'] },
    { id: 'c', kind: 'square', inputs: { x: 5, log } },
  ];
  const side = (x: number) => artifactId({ kind: 'side', inputs: { x } });
  const first = await runGrid(units, quiet({ storeRoot: store, handler: CHAIN, workers: 2 }));
  assert.equal(first.results.sum, 26);
  const { keys, chains } = first;
  assert.deepEqual(chains.a, [keys.a!, side(3)].sort());
  assert.deepEqual(chains.sum, [keys.a!, keys.b!, keys.sum!, side(3), side(4)].sort(), 'its deps\' chains, not c\'s');
  assert.deepEqual(chainOf(chains, ['sum', 'c']), [...chains.sum!, ...chains.c!].sort());

  const again = await runGrid(units, quiet({ storeRoot: store, handler: CHAIN, workers: 1 }));
  assert.deepEqual(again.cached.sort(), ['a', 'b', 'c', 'sum']);
  assert.deepEqual(again.chains, chains, 'a stored unit keeps its chain');

  // An entry from before units recorded their uses: no chain for it or anything resting on it.
  const old = join(dir, 'old-store');
  const codeHash = await handlerCodeHash(CHAIN);
  const oldKeys = unitKeys(planGrid(units), codeHash);
  await new ArtifactStore(old).put(oldKeys.get('a')!, (d) => writeFile(join(d, 'value.json'), '9'));
  const mixed = await runGrid(units, quiet({ storeRoot: old, handler: CHAIN, workers: 1 }));
  assert.equal(mixed.chains.a, null);
  assert.equal(mixed.chains.sum, null);
  assert.deepEqual(mixed.chains.b, [mixed.keys.b!, side(4)].sort());
  assert.equal(chainOf(mixed.chains, ['b', 'sum']), null);
});
