import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePort } from '../src/engine/cli/options.ts';
import { acquireProjectLock } from '../src/engine/util/project-lock.ts';
import { UserError } from '../src/engine/util/errors.ts';

/**
 * Issue 14, item 1: `reprobook preview` serves the site, rebuilds on a real file edit and
 * tells the open page to reload; a failing cell shows in the page; a taken port and Ctrl-C
 * are handled. Driven with a real HTTP client (fetch, and the page's event stream).
 */

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function startPreview(root: string, ...args: string[]): { child: ChildProcess; url: Promise<string>; stderr: () => string } {
  return startPreviewIn({}, root, ...args);
}

function startPreviewIn(env: Record<string, string>, root: string, ...args: string[]): { child: ChildProcess; url: Promise<string>; stderr: () => string } {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(repoRoot, 'src/engine/cli/main.ts'), 'preview', '--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = new Promise<string>((res, rej) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /preview: (http:\/\/\S+)/.exec(out);
      if (m) res(m[1]!);
    });
    child.on('exit', (code) => rej(new Error(`preview exited with ${code}: ${err}`)));
  });
  return { child, url, stderr: () => err };
}

const exited = (child: ChildProcess) => new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.on('exit', (code) => r(code))));

/** The next named event on the page's event stream. */
async function nextEvent(url: string, name: string, timeoutMs = 60_000): Promise<string> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const res = await fetch(new URL('/__reprobook/events', url), { signal: ctl.signal });
    const reader = res.body!.getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('event stream closed');
      buf += new TextDecoder().decode(value);
      const m = new RegExp(`event: ${name}\\ndata: (.*)\\n`).exec(buf);
      if (m) return m[1]!;
    }
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
}

async function project(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-preview-'));
  await mkdir(join(root, 'notebooks'));
  await writeFile(join(root, 'notebooks', '01-a.md'), '---\ntitle: A\n---\n\nFirst prose.\n\n```ts\npublish("x", 1 + 1);\n```\n');
  await writeFile(join(root, 'notebooks', '02-broken.md'), '---\ntitle: Broken\n---\n\n```ts\nthrow new Error("this cell is broken on purpose");\n```\n');
  return root;
}

test('preview serves the site, rebuilds on an edit and reloads the page; a failing cell shows in the page; Ctrl-C stops it', { timeout: 180_000 }, async () => {
  const root = await project();
  const p = startPreview(root, '--port', '0');
  try {
    const url = await p.url;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'localhost by default');
    const index = await fetch(url);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type')!, /text\/html/);
    const page = await (await fetch(new URL('notebooks/01-a.html', url))).text();
    assert.match(page, /First prose\./);
    assert.match(page, /EventSource\("\/__reprobook\/events"\)/, 'the preview adds its reload script');
    const broken = await (await fetch(new URL('notebooks/02-broken.html', url))).text();
    assert.match(broken, /class="cell-error"[\s\S]*this cell is broken on purpose/, 'the failing cell is shown in its page');
    assert.equal((await fetch(new URL('/..%2f..%2fetc/passwd', url))).status, 403, 'nothing outside the site');

    // A real edit of the prose: a reload event, and the new text served.
    const reload = nextEvent(url, 'reload');
    await new Promise((r) => setTimeout(r, 300));
    await writeFile(join(root, 'notebooks', '01-a.md'), (await readFile(join(root, 'notebooks', '01-a.md'), 'utf8')).replace('First prose.', 'Edited prose.'));
    await reload;
    assert.match(await (await fetch(new URL('notebooks/01-a.html', url))).text(), /Edited prose\./);
    assert.match(p.stderr(), /01-a: cached/, 'a prose edit re-runs nothing');
    assert.doesNotMatch(await readFile(join(root, '.reprobook', 'results', 'default.json'), 'utf8').catch(() => ''), /EventSource/);

    // A mistake that stops the build itself (an embed of a missing cell): the open page is told, with the fix.
    const failed = nextEvent(url, 'failed');
    await new Promise((r) => setTimeout(r, 300));
    await mkdir(join(root, 'report'));
    await writeFile(join(root, 'report', 'index.md'), '# R\n\n{{embed 01-a#fig-none}}\n');
    assert.match(JSON.parse(await failed).message, /report\/index\.md:3: .*no cell labelled "fig-none"/);

    p.child.kill('SIGINT');
    assert.equal(await exited(p.child), 0, p.stderr());
    assert.match(p.stderr(), /preview: stopping/);
  } finally {
    p.child.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  }
});

test('a port in use is named, with the flag to pick another, and leaves no temporary folder; a bad port is refused', { timeout: 60_000 }, async () => {
  const root = await project();
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as { port: number }).port;
  const tmp = await mkdtemp(join(tmpdir(), 'reprobook-preview-tmp-'));
  try {
    const p = startPreviewIn({ TMPDIR: tmp }, root, '--port', String(port));
    await p.url.catch(() => undefined);
    assert.equal(await exited(p.child), 1);
    assert.match(p.stderr(), new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use[\\s\\S]*--port ${port + 1}`));
    assert.deepEqual((await readdir(tmp)).filter((f) => f.startsWith('reprobook-preview-')), [], 'no temporary site left behind');
    const bad = startPreview(root, '--port', 'http');
    await bad.url.catch(() => undefined);
    assert.equal(await exited(bad.child), 1);
    assert.match(bad.stderr(), /--port "http" is not a port number/);
  } finally {
    blocker.close();
    await rm(root, { recursive: true, force: true });
    await rm(tmp, { recursive: true, force: true });
  }
});

// ---- Issue 22, item 5 ----

const BUSY = '---\ntitle: A\n---\n\nStuck.\n\n```ts\nwhile (true) {}\n```\n';
const FIXED = '---\ntitle: A\n---\n\nFixed prose.\n\n```ts\npublish("x", 5);\n```\n';

/** Resolves when the output so far matches `re`. */
function waitFor(output: () => string, re: RegExp, timeoutMs = 60_000): Promise<void> {
  return new Promise((res, rej) => {
    const t0 = Date.now();
    const tick = setInterval(() => {
      if (re.test(output())) { clearInterval(tick); res(); } else if (Date.now() - t0 > timeoutMs) { clearInterval(tick); rej(new Error(`no ${re} in:\n${output()}`)); }
    }, 50);
  });
}

async function busyProject(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-preview-'));
  await mkdir(join(root, 'notebooks'));
  await writeFile(join(root, 'notebooks', '01-a.md'), BUSY);
  return root;
}

test('an edit to a notebook whose cell is stuck stops that run and builds again', { timeout: 120_000 }, async () => {
  const root = await busyProject();
  const p = startPreview(root, '--port', '0');
  try {
    await waitFor(p.stderr, /01-a: running/);
    await new Promise((r) => setTimeout(r, 500));
    await writeFile(join(root, 'notebooks', '01-a.md'), FIXED);
    const url = await Promise.race([p.url, new Promise<string>((_, rej) => setTimeout(() => rej(new Error(`no restart:\n${p.stderr()}`)), 60_000))]);
    assert.match(await (await fetch(new URL('notebooks/01-a.html', url))).text(), /Fixed prose\./);
    assert.match(p.stderr(), /stopped by preview/, p.stderr());
  } finally {
    p.child.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  }
});

test('Ctrl-C during the first build stops the build and the preview, and removes its temporary site', { timeout: 60_000 }, async () => {
  const root = await busyProject();
  const tmp = await mkdtemp(join(tmpdir(), 'reprobook-preview-tmp-'));
  const p = startPreviewIn({ TMPDIR: tmp }, root, '--port', '0');
  p.url.catch(() => {}); // It never serves: stopped during its first build.
  try {
    await waitFor(p.stderr, /01-a: running/);
    assert.equal((await readdir(tmp)).filter((f) => f.startsWith('reprobook-preview-')).length, 1, 'the temporary site exists while it runs');
    p.child.kill('SIGINT');
    const code = await Promise.race([exited(p.child), new Promise<string>((r) => setTimeout(() => r('still running'), 20_000))]);
    assert.equal(code, 0, p.stderr());
    assert.match(p.stderr(), /preview: stopping/);
    assert.deepEqual((await readdir(tmp)).filter((f) => f.startsWith('reprobook-preview-')), []);
  } finally {
    p.child.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
    await rm(tmp, { recursive: true, force: true });
  }
});

test('preview rebuilds for its inputs only: not for a log it writes into the project, nor for its own state; an imported module is an input', { timeout: 120_000 }, async () => {
  const root = await project();
  await mkdir(join(root, 'lib'));
  await writeFile(join(root, 'lib', 'm.ts'), 'export const m = 1;\n');
  await writeFile(join(root, 'notebooks', '03-imports.md'), '---\ntitle: I\n---\n\n```ts\nimport { m } from "../lib/m.ts";\npublish("m", m);\n```\n');
  const p = startPreview(root, '--port', '0');
  try {
    const url = await p.url;
    const builds = () => (p.stderr().match(/preview: built in/g) ?? []).length;
    const before = builds();
    for (let i = 0; i < 3; i++) {
      await writeFile(join(root, 'preview.err'), `${p.stderr()}\n${i}`);
      await writeFile(join(root, 'notes.txt'), `not an input ${i}`);
      await writeFile(join(root, '.reprobook', `scratch-${i}`), 'state');
      await new Promise((r) => setTimeout(r, 400));
    }
    assert.equal(builds(), before, `no rebuild for files that are not inputs:\n${p.stderr()}`);
    assert.doesNotMatch(p.stderr(), /(preview\.err|notes\.txt|scratch-\d) changed/);

    const reload = nextEvent(url, 'reload');
    await new Promise((r) => setTimeout(r, 300));
    await writeFile(join(root, 'lib', 'm.ts'), 'export const m = 2;\n');
    await reload;
    assert.match(p.stderr(), /lib\/m\.ts changed/);
    assert.match(p.stderr(), /03-imports: running/);
  } finally {
    p.child.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  }
});

test('preview takes the project lock for each build: it waits while a build holds it', { timeout: 120_000 }, async () => {
  const root = await project();
  const release = await acquireProjectLock(root, { command: 'build (test)' });
  const p = startPreview(root, '--port', '0');
  let released = false;
  try {
    await waitFor(p.stderr, /waiting for another build of this project/);
    await new Promise((r) => setTimeout(r, 1000));
    assert.doesNotMatch(p.stderr(), /01-a: running/, 'nothing runs while the lock is held');
    await release();
    released = true;
    await p.url;
  } finally {
    if (!released) await release();
    p.child.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  }
});

/** A GET with this Host header (fetch would not send a foreign one). */
function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((res, rej) => {
    const u = new URL(url);
    const req = request({ hostname: u.hostname, port: u.port, path: '/', headers: { host } }, (r) => { r.resume(); res(r.statusCode!); });
    req.on('error', rej);
    req.end();
  });
}

test('preview answers only requests addressed to this machine (DNS rebinding), and its events name no absolute path', { timeout: 120_000 }, async () => {
  const root = await project();
  const p = startPreview(root, '--port', '0');
  try {
    const url = await p.url;
    const port = new URL(url).port;
    assert.equal(await getWithHost(url, `evil.example:${port}`), 403);
    assert.equal(await getWithHost(url, 'evil.example'), 403);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) assert.equal(await getWithHost(url, host), 200, host);

    // A build that fails with a message naming the project's folder: the page is told, in the project's terms.
    const failed = nextEvent(url, 'failed');
    await new Promise((r) => setTimeout(r, 300));
    for (const f of ['01-a.md', '02-broken.md']) await unlink(join(root, 'notebooks', f));
    const message = JSON.parse(await failed).message as string;
    assert.match(message, /no notebooks found/);
    assert.ok(!message.includes(root) && !message.includes(tmpdir()), message);
  } finally {
    p.child.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  }
});

test('--port takes a decimal integer from 0 to 65535 and nothing else', () => {
  assert.equal(parsePort('3000'), 3000);
  assert.equal(parsePort('0'), 0);
  assert.equal(parsePort('65535'), 65535);
  for (const bad of ['', ' ', '0x50', '1e3', '80.0', '-1', '65536', '+80', ' 80', '８０', 'http']) {
    assert.throws(() => parsePort(bad), (e: unknown) => e instanceof UserError && e.message.includes(`--port ${JSON.stringify(bad)}`), bad);
  }
});
