import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildSite } from '../src/engine/report/site.ts';
import { MANIFEST_FILE } from '../src/engine/report/site-output.ts';
import { acquireProjectLock, projectLockPath } from '../src/engine/util/project-lock.ts';
import { UserError } from '../src/engine/util/errors.ts';
import { makeFixtureRoot } from './fixtures/report/fixture-root.ts';
import { formatWarning } from '../src/engine/report/warnings.ts';

/**
 * Issue 12, items 1 and 8: a build writes only into a folder of its own, deletes only what
 * an earlier build listed, and waits for another build of the same project.
 */

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cliArgs = ['--import', import.meta.resolve('tsx'), join(repoRoot, 'src/engine/cli/main.ts')];

async function projectWithNotebook(): Promise<string> {
  const root = await makeFixtureRoot();
  await mkdir(join(root, 'notebooks'), { recursive: true });
  await writeFile(join(root, 'notebooks', 'a.md'), '---\ntitle: A\n---\n\n```ts\n1 + 1\n```\n');
  await mkdir(join(root, 'src'));
  return root;
}

test('build --out . in a project root is refused and deletes nothing', async () => {
  const root = await projectWithNotebook();
  try {
    const r = spawnSync(process.execPath, [...cliArgs, 'build', '--profile', 'smoke', '--no-pdf', '--no-run', '--out', '.'], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /--out \.: the output folder is the project root/);
    assert.match(r.stderr, /fix: write the site to a folder of its own/);
    assert.equal(await readFile(join(root, 'notebooks', 'a.md'), 'utf8'), '---\ntitle: A\n---\n\n```ts\n1 + 1\n```\n');
    assert.ok(!existsSync(join(root, 'index.html')));
    assert.ok(!existsSync(join(root, 'notebooks', 'a.html')));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('an output folder that is or contains the root, notebooks/, report/ or src/ is refused', async () => {
  const root = await projectWithNotebook();
  try {
    for (const out of [root, dirname(root), join(root, 'notebooks'), join(root, 'src'), join(root, 'report')]) {
      await assert.rejects(buildSite({ root, profile: 'smoke', out }), (e: unknown) =>
        e instanceof UserError && /the output folder (is|contains)/.test(e.message) && /--out/.test(e.hint ?? ''), out);
    }
    assert.ok(existsSync(join(root, 'notebooks', 'a.md')));
    await buildSite({ root, profile: 'smoke', out: join(root, '_site') });
    assert.ok(existsSync(join(root, '_site', 'index.html')));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a rebuild deletes only the files its manifest lists, and never overwrites a file it did not write', async () => {
  const root = await makeFixtureRoot();
  const out = join(root, 'docs');
  try {
    await buildSite({ root, profile: 'smoke', out });
    const manifest = JSON.parse(await readFile(join(out, MANIFEST_FILE), 'utf8')) as { files: string[] };
    assert.ok(manifest.files.includes('notebooks/02-baseline.html') && manifest.files.includes('index.html'));
    assert.ok(manifest.files.some((f) => f.startsWith('assets/katex/fonts/')));
    await writeFile(join(out, 'notes.md'), 'mine');
    await writeFile(join(out, 'notebooks', 'mine.html'), 'mine too');
    // The notebook 02-baseline is gone from the project: its page goes, the user's files stay.
    await rm(join(root, '.reprobook', 'executed', 'smoke', '02-baseline.json'));
    await buildSite({ root, profile: 'smoke', out });
    assert.ok(!existsSync(join(out, 'notebooks', '02-baseline.html')));
    assert.ok(existsSync(join(out, 'notebooks', '04-fgsm.html')));
    assert.equal(await readFile(join(out, 'notes.md'), 'utf8'), 'mine');
    assert.equal(await readFile(join(out, 'notebooks', 'mine.html'), 'utf8'), 'mine too');

    // A manifest cut short: the build says so among its warnings (not on stderr behind the
    // caller's back) and still replaces only a site reprobook generated there.
    await writeFile(join(out, MANIFEST_FILE), '{"format": 1, "fil');
    const cut = await buildSite({ root, profile: 'smoke', out });
    assert.ok(cut.warnings.map(formatWarning).some((w) => w.includes(`${join(out, MANIFEST_FILE)} is unreadable`)), cut.warnings.map(formatWarning).join('\n'));
    assert.equal(await readFile(join(out, 'notes.md'), 'utf8'), 'mine');

    const fresh = join(root, 'elsewhere');
    await mkdir(fresh);
    await writeFile(join(fresh, 'index.html'), '<p>my own page</p>');
    await assert.rejects(buildSite({ root, profile: 'smoke', out: fresh }), (e: unknown) =>
      e instanceof UserError && /index\.html already exists and was not written by a reprobook build/.test(e.message));
    assert.equal(await readFile(join(fresh, 'index.html'), 'utf8'), '<p>my own page</p>');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a build waits while another build of the same project holds the lock', async () => {
  const root = await makeFixtureRoot();
  const release = await acquireProjectLock(root, { command: 'test' });
  try {
    const child = spawn(process.execPath, [...cliArgs, 'build', '--root', root, '--profile', 'smoke', '--no-pdf', '--no-run', '--out', join(root, 'a')], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const waiting = new Promise<void>((res) => child.stderr.on('data', (d) => { stderr += d; if (stderr.includes('waiting for another build')) res(); }));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    await Promise.race([waiting, exited]);
    assert.match(stderr, new RegExp(`waiting for another build of this project \\(pid ${process.pid} `));
    assert.ok(!existsSync(join(root, 'a', 'index.html')), 'nothing written while the other build holds the lock');
    await release();
    assert.equal(await exited, 0, stderr);
    assert.ok(existsSync(join(root, 'a', 'index.html')));
    assert.ok(!existsSync(projectLockPath(root)), 'the lock is released at the end');
  } finally {
    await release();
    await rm(root, { recursive: true, force: true });
  }
});

test('the project lock: a second holder waits for the first; a dead holder\'s lock is taken over', async () => {
  const root = await makeFixtureRoot();
  try {
    const first = await acquireProjectLock(root, { command: 'one', pollMs: 10 });
    let waitedFor: number | undefined;
    let onWait!: () => void;
    const waited = new Promise<void>((res) => { onWait = res; });
    const second = acquireProjectLock(root, { command: 'two', pollMs: 10, onWait: (h) => { waitedFor = h.pid; onWait(); } });
    await waited;
    assert.equal(waitedFor, process.pid);
    await first();
    const releaseSecond = await second;
    await releaseSecond();

    // A build killed with SIGKILL leaves its lock behind; its process is gone, so it is stale.
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const { hostname } = await import('node:os');
    await writeFile(projectLockPath(root), JSON.stringify({ pid: Number(dead.stdout.trim()), host: hostname(), startedAt: '', command: 'build', token: 'dead' }));
    let waitedAgain = false;
    const third = await acquireProjectLock(root, { command: 'three', onWait: () => { waitedAgain = true; } });
    assert.equal(waitedAgain, false);
    assert.match(await readFile(projectLockPath(root), 'utf8'), /"command":"three"/);
    await third();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
