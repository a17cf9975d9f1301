import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadExecutedNotebook } from '../src/engine/store/executed.ts';

/**
 * Issue 12, items 2 and 6: a cell cannot end the build quietly (process.exit, a promise that
 * never settles), and errors its timers and promises raise after it finished fail its
 * notebook, named by notebook line, instead of crashing the build or vanishing.
 * Each project runs in its own process: these cells would end or wedge a test runner.
 */

const REPO = join(import.meta.dirname, '..');

async function project(notebooks: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-guard-'));
  await mkdir(join(root, 'notebooks'));
  for (const [name, code] of Object.entries(notebooks)) {
    // Cell code starts on line 8 of the file.
    await writeFile(join(root, 'notebooks', `${name}.md`), `---\ntitle: ${name}\n---\n\nProse.\n\n\`\`\`ts\n${code}\n\`\`\`\n`);
  }
  return root;
}

function reprobook(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/engine/cli/main.ts'), ...args], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stderr: r.stderr };
}

test('a cell calling process.exit(0) or process.exit(3), or awaiting a promise that never settles, fails the build naming notebook and cell', async () => {
  const root = await project({
    a: 'const x = 1;\nprocess.exit(0);',
    b: 'try { process.exit(3); } catch { /* a cell cannot swallow it */ }\n"still here"',
    c: 'await new Promise(() => {});\npublish("never", 1);',
    d: 'publish("after", 2);\n"ok"',
  });
  try {
    const r = reprobook('build', '--root', root, '--no-pdf');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /a: FAILED .* at notebooks\/a\.md:9 \(cell 1, line 2\): ProcessExit: process\.exit\(0\) was called/);
    assert.match(r.stderr, /b: FAILED .* at notebooks\/b\.md:8 \(cell 1, line 1\): ProcessExit: process\.exit\(3\) was called/);
    assert.match(r.stderr, /c: FAILED .* at notebooks\/c\.md:8 \(cell 1\): StalledCell: the cell awaits a promise that never settles/);
    // The other notebooks still ran, and the run said how it ended.
    assert.match(r.stderr, /d: ran in/);
    assert.doesNotMatch(r.stderr, /the process ended/, 'the cells given up on do not count as still running at exit');
    assert.match(r.stderr, /error: the site was built, but running the notebooks failed: notebooks\/a\.md:9 .*; notebooks\/b\.md:8 .*; notebooks\/c\.md:8 /);
    for (const name of ['a', 'b', 'c']) {
      const { good, failed } = await loadExecutedNotebook(root, null, name);
      assert.equal(good, null, `${name} is not stored as ok`);
      assert.equal(failed?.status, 'error');
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('errors from timers and promises after a cell finished fail that notebook, with the Markdown line, and are not cached as ok', async () => {
  const root = await project({
    a: 'setTimeout(() => Promise.reject(new Error("late rejection")), 300);\n"done"',
    b: 'setTimeout(() => {\n  throw new Error("late throw");\n}, 50);\n"done"',
  });
  try {
    const first = reprobook('run', '--root', root);
    assert.equal(first.status, 1, first.stderr);
    assert.match(first.stderr, /a: FAILED after it finished, at notebooks\/a\.md:8 \(cell 1, line 1\): Error: late rejection/);
    assert.match(first.stderr, /b: FAILED after it finished, at notebooks\/b\.md:9 \(cell 1, line 2\): Error: late throw/);
    assert.doesNotMatch(first.stderr, /\n\s+at .*node:internal/, 'no raw Node trace');
    for (const name of ['a', 'b']) {
      const { good, failed } = await loadExecutedNotebook(root, null, name);
      assert.equal(good, null, `${name} is not stored as ok`);
      assert.equal(failed?.status, 'error');
      assert.equal(failed?.cells[0]?.error?.fileLine, name === 'a' ? 8 : 9);
    }
    // The next build runs them again rather than reusing a run that failed, and fails the same way.
    const second = reprobook('build', '--root', root, '--no-pdf');
    assert.equal(second.status, 1, second.stderr);
    assert.match(second.stderr, /a: running/);
    assert.match(second.stderr, /b: running/);
    assert.match(second.stderr, /a: FAILED after it finished, at notebooks\/a\.md:8 \(cell 1, line 1\): Error: late rejection/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("an earlier cell's error that surfaces while a later cell runs stops the notebook, attributed to the earlier cell", async () => {
  const root = await project({
    // Cell 1's promise chain fails only when cell 2 releases it.
    a: 'const gate = new Promise((r) => { globalThis.release = r; }).then(() => {\n  throw new Error("from cell 1");\n});\n```\n\n```ts\nrelease();\nawait new Promise((r) => setTimeout(r, 200));\npublish("two", 2);',
  });
  try {
    const r = reprobook('run', '--root', root);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /a: FAILED after .* at notebooks\/a\.md:9 \(cell 1, line 2\): Error: from cell 1/);
    const { failed } = await loadExecutedNotebook(root, null, 'a');
    assert.equal(failed?.cells[0]?.error?.message, 'from cell 1');
    assert.equal(failed?.results.length, 0, 'cell 2 did not get to publish');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
