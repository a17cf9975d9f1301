import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProject } from '../src/engine/notebook/project.ts';
import { loadExecutedNotebook, loadResults } from '../src/engine/store/executed.ts';
import { parseNotebookSource, NotebookFormatError } from '../src/engine/notebook/markdown-format.ts';
import { parseProjectConfig } from '../src/engine/notebook/config.ts';
import { parseDuration, resolveLimits } from '../src/engine/notebook/timeouts.ts';

/**
 * Issue 12, items 3 and 4: each notebook runs in a worker thread of its own (isolation.ts),
 * so what one notebook does to the global environment cannot reach another, a busy cell
 * can be stopped by its time limit or by Ctrl-C / SIGTERM, and a stopped run leaves a
 * consistent store naming the notebook and cell.
 */

const REPO = join(import.meta.dirname, '..');

/** A project of notebooks given as front matter lines (after the title) and cells. */
async function project(notebooks: Record<string, { front?: string; cells: string[] }>, config?: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-isolation-'));
  await mkdir(join(root, 'notebooks'));
  for (const [name, nb] of Object.entries(notebooks)) {
    const cells = nb.cells.map((c) => `\`\`\`ts\n${c}\n\`\`\`\n`).join('\n');
    await writeFile(join(root, 'notebooks', `${name}.md`), `---\ntitle: ${name}\n${nb.front ?? ''}---\n\n${cells}`);
  }
  if (config) await writeFile(join(root, 'reprobook.config.yaml'), config);
  return root;
}

function reprobook(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/engine/cli/main.ts'), ...args], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stderr: r.stderr };
}

test('what a notebook does to globals, Math or prototypes does not reach the next one: a full run and a run of one notebook publish the same', async () => {
  const root = await project({
    a: { cells: ['globalThis.leak = 42;\nMath.random = () => 0.5;\n(Array.prototype as any).leaked = true;\nprocess.env.REPROBOOK_LEAK = "yes";\n(await import("../probe-state.ts")).setBackend("test-backend");\npublish("a.set", true);'] },
    b: { cells: ['publish("b.seen", [String((globalThis as any).leak), Math.random() === 0.5, String(([] as any).leaked), String(process.env.REPROBOOK_LEAK)]);\n(await import("../probe-state.ts")).setBackend("test-backend");'] },
  }, 'plugin: plugin.ts\n');
  // The project plugin's environment() describes each run from the notebook's own thread:
  // the module state a cell set is the state the probe reads.
  await writeFile(join(root, 'probe-state.ts'), 'let backend: string | undefined;\nexport function setBackend(b: string) { backend = b; }\nexport function getBackend() { return backend; }\n');
  await writeFile(join(root, 'plugin.ts'), "import { getBackend } from './probe-state.ts';\nexport function environment() { const b = getBackend(); return b ? { backend: b } : {}; }\n");
  try {
    const full = await runProject({ root, quietArtifacts: true });
    assert.ok(full.ok);
    const fresh = ['undefined', false, 'undefined', 'undefined'];
    assert.deepEqual(full.results.results['b.seen'], fresh, 'b does not see what a set');
    const alone = await runProject({ root, notebooks: ['b'], force: true, quietArtifacts: true });
    assert.equal(alone.outcomes[0]!.status, 'ran');
    assert.deepEqual(alone.results.results['b.seen'], fresh, 'the same values whether or not a ran before b');
    assert.equal((globalThis as { leak?: unknown }).leak, undefined, 'nor does the calling process');
    // The backend a notebook loaded is recorded from its own thread (through the project
    // plugin), and reaches results.json.
    assert.equal(full.results.provenance.environment.backend, 'test-backend');
    assert.equal(alone.results.provenance.environment.backend, 'test-backend');
    assert.notEqual(Math.random(), 0.5);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('time limits: parsed from front matter, config and cell options; bad values are named by file:line', () => {
  assert.equal(parseDuration(90), 90_000);
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('none'), null);
  assert.equal(parseDuration('soon'), undefined);
  assert.equal(parseDuration(0), undefined);
  const doc = parseNotebookSource('---\ntitle: t\ntimeout:\n  cell: 10m\n---\n\n```ts\n1\n```\n\n```ts\n//| timeout: none\n2\n```\n', 'notebooks/t.md');
  const config = parseProjectConfig('timeout:\n  cell: 5m\n  notebook: 2h\n');
  const limits = resolveLimits(doc, config);
  assert.deepEqual(limits.cells.map((l) => l.ms), [600_000, null]);
  assert.equal(limits.notebook.ms, 7_200_000);
  assert.match(limits.notebook.from, /reprobook\.config\.yaml/);
  assert.equal(resolveLimits(parseNotebookSource('```ts\n1\n```\n', 'notebooks/u.md'), {}).cells[0]!.ms, 3_600_000, 'the default: an hour a cell');
  assert.throws(() => parseNotebookSource('---\ntitle: t\ntimeout:\n  cell: soon\n---\n', 'notebooks/t.md'),
    (e: unknown) => e instanceof NotebookFormatError && /^notebooks\/t\.md:4: timeout\.cell: "soon" is not a duration/.test(e.message) && /none/.test(e.hint ?? ''));
  assert.throws(() => parseNotebookSource('```ts\n//| timeout: later\n1\n```\n', 'notebooks/t.md'), /notebooks\/t\.md:2: cell option 'timeout': 'later' is not a duration/);
  assert.throws(() => parseProjectConfig('timeout:\n  cells: 1m\n'), /reprobook\.config\.yaml:2: unknown timeout key 'cells'/);
});

test('a cell or notebook over its time limit is stopped, even a busy one, named by notebook and cell; the others run and the store stays consistent', async () => {
  const root = await project({
    a: { front: 'timeout:\n  cell: 2s\n  notebook: none\n', cells: ['publish("a.before", 1);\nconsole.log("cell 1 ran");', 'while (true) {}'] },
    // A long cell that says so: no limit on it, under a notebook whose cells have one second.
    b: { front: 'timeout:\n  cell: 1s\n  notebook: none\n', cells: ['//| timeout: none\nawait new Promise((r) => setTimeout(r, 1500));\npublish("b.slept", true);'] },
    // The limits of reprobook.config.yaml: the whole notebook gets two seconds.
    c: { cells: ['publish("c.before", 1);', 'for (;;) {}'] },
  }, 'timeout:\n  cell: none\n  notebook: 2s\n');
  try {
    const r = reprobook('run', '--root', root);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /a: FAILED after .* at notebooks\/a\.md:\d+ \(cell 2\): Timeout: cell 2 ran longer than 2s, its time limit, and was stopped; raise it \(timeout\.cell in the front matter of notebooks\/a\.md\), or set it to 'none'/);
    assert.match(r.stderr, /b: ran in/);
    assert.match(r.stderr, /c: FAILED after .* at notebooks\/c\.md:\d+ \(cell 2\): Timeout: the notebook ran longer than 2s, its time limit, and was stopped in cell 2; raise it \(timeout\.notebook in reprobook\.config\.yaml\)/);
    for (const name of ['a', 'c']) {
      const { good, failed } = await loadExecutedNotebook(root, null, name);
      assert.equal(good, null, `${name} is not stored as ok`);
      assert.equal(failed?.status, 'error');
      assert.equal(failed?.cells.length, 2);
      assert.equal(failed?.cells[1]?.error?.name, 'Timeout');
      assert.equal(failed?.results[0]?.name, `${name}.before`, 'what the finished cells published is in the failed record');
    }
    const { failed } = await loadExecutedNotebook(root, null, 'a');
    assert.deepEqual(failed?.cells[0]?.outputs, [{ type: 'stream', name: 'stdout', text: 'cell 1 ran\n' }]);
    const results = await loadResults(root, null);
    assert.deepEqual(results?.results, { 'b.slept': true }, 'results.json holds the runs that finished, and only those');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

/**
 * Issue 23, item 5: library code leaves the process alone. runProject installed SIGINT and
 * SIGTERM handlers that could call process.exit, and set process.exitCode for a late failure;
 * the CLI owns both now (cli/run-control.ts), and runProject takes an AbortSignal and reports.
 */
test('runProject installs no signal handler and sets no exit code: an abort stops the running cell and the result says so; a late failure is reported to the caller', async () => {
  const root = await project({
    a: { cells: ['setTimeout(() => {\n  throw new Error("late");\n}, 50);\npublish("a.done", 1);'] },
    b: { cells: ['publish("b.before", 1);', 'import { writeFileSync } from "node:fs";\nwriteFileSync(`${notebook.root}/busy`, "");\nwhile (true) {}'] },
  });
  const listeners = () => [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
  const before = { listeners: listeners(), exitCode: process.exitCode };
  const controller = new AbortController();
  const late: string[] = [];
  try {
    const running = runProject({ root, quietArtifacts: true, signal: controller.signal, onLateFailure: (name) => late.push(name) });
    // b's cell spins until stopped, and a's timer fails 50 ms after a finished: wait for both.
    for (let i = 0; i < 600 && !(existsSync(join(root, 'busy')) && late.length > 0); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(existsSync(join(root, 'busy')), 'the busy cell started');
    assert.deepEqual(late, ['a'], 'the late failure of a reached the caller');
    assert.deepEqual(listeners(), before.listeners, 'no signal handler while it runs');
    controller.abort('SIGTERM');
    const r = await running;
    assert.deepEqual(r.interrupted, { by: 'SIGTERM', where: 'notebooks/b.md cell 2 (its run is stored as failed)' });
    assert.equal(r.ok, false);
    assert.equal(r.outcomes[1]?.error?.message, 'stopped by SIGTERM while cell 2 was running');
    assert.deepEqual(r.results.results, {}, 'a failed late, so results.json does not keep what it published');
    assert.equal(r.outcomes[0]?.status, 'failed');
    assert.deepEqual(listeners(), before.listeners);
    assert.equal(process.exitCode, before.exitCode, 'the exit code is the caller\'s');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
  test(`${signal} stops a busy cell within seconds, names it, stores the run as failed and exits ${code}`, async () => {
    const root = await project({
      a: { cells: ['publish("a.done", 1);'] },
      b: { cells: ['publish("b.before", 1);', 'import { writeFileSync } from "node:fs";\nwriteFileSync(`${notebook.root}/busy`, "");\nwhile (true) {}'] },
    });
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/engine/cli/main.ts'), 'run', '--root', root], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    try {
      for (let i = 0; i < 600 && !existsSync(join(root, 'busy')); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(existsSync(join(root, 'busy')), `the busy cell started\n${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
      child.kill(signal);
      // Generous: the point is that it ends at all (before, only SIGKILL ended it).
      const status = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000).unref())]);
      assert.notEqual(status, 'hung', `the run ignored ${signal}\n${stderr}`);
      assert.equal(status, code, stderr);
      assert.match(stderr, new RegExp(`b: FAILED after .* at notebooks/b\\.md:\\d+ \\(cell 2\\): Interrupted: stopped by ${signal}`));
      assert.match(stderr, new RegExp(`reprobook: error: interrupted by ${signal}: stopped notebooks/b\\.md cell 2`));
      const a = await loadExecutedNotebook(root, null, 'a');
      assert.equal(a.good?.status, 'ok', 'the notebook that finished is stored');
      const b = await loadExecutedNotebook(root, null, 'b');
      assert.equal(b.good, null);
      assert.equal(b.failed?.cells[1]?.error?.name, 'Interrupted');
      assert.equal(b.failed?.results[0]?.name, 'b.before');
      assert.deepEqual(JSON.parse(await readFile(join(root, '.reprobook', 'results', 'default.json'), 'utf8')).results, { 'a.done': 1 });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await rm(root, { recursive: true, force: true });
    }
  });
}
