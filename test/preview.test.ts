import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Issue 14, item 1: `reprobook preview` serves the site, rebuilds on a real file edit and
 * tells the open page to reload; a failing cell shows in the page; a taken port and Ctrl-C
 * are handled. Driven with a real HTTP client (fetch, and the page's event stream).
 */

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function startPreview(root: string, ...args: string[]): { child: ChildProcess; url: Promise<string>; stderr: () => string } {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(repoRoot, 'src/engine/cli/main.ts'), 'preview', '--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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

test('a port in use is named, with the flag to pick another; a bad port is refused', { timeout: 60_000 }, async () => {
  const root = await project();
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as { port: number }).port;
  try {
    const p = startPreview(root, '--port', String(port));
    await p.url.catch(() => undefined);
    assert.equal(await exited(p.child), 1);
    assert.match(p.stderr(), new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use[\\s\\S]*--port ${port + 1}`));
    const bad = startPreview(root, '--port', 'http');
    await bad.url.catch(() => undefined);
    assert.equal(await exited(bad.child), 1);
    assert.match(bad.stderr(), /--port http is not a port number/);
  } finally {
    blocker.close();
    await rm(root, { recursive: true, force: true });
  }
});
