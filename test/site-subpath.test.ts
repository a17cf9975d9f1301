import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';
import { launchChrome } from '../src/engine/report/pdf.ts';
import { contentType } from '../src/engine/util/content-types.ts';
import { needs } from './helpers/requirements.ts';
import { scaffoldProject } from './helpers/project.ts';

/**
 * Issue 24, item 3: a built site works where GitHub Pages puts a project site, under a
 * sub-path (https://user.github.io/project/). A static server holds `_site` under /project/
 * only; Chromium opens the index and follows every link of every page it reaches. No request
 * may fail, and none may leave the prefix (a root-relative link, /assets/..., would work
 * at a domain's root and break here).
 */

const PREFIX = '/project/';
const browserNeeds = await needs('chromium');

interface StaticHost {
  server: Server;
  base: string;
  /** Every path asked for, and those answered 404. */
  requested: string[];
  missing: string[];
}

/** `site` served under PREFIX, as a static host does (a folder's index.html for the folder), nothing outside it. */
async function serveUnderPrefix(site: string): Promise<StaticHost> {
  const host = { requested: [] as string[], missing: [] as string[] } as StaticHost;
  host.server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
    host.requested.push(path);
    const file = normalize(join(site, path.slice(PREFIX.length), path.endsWith('/') ? 'index.html' : ''));
    const inside = path.startsWith(PREFIX) && (file === site || file.startsWith(site + sep));
    (inside ? readFile(file) : Promise.reject(new Error('outside')))
      .then((body) => res.writeHead(200, { 'content-type': contentType(file) }).end(body))
      .catch(() => {
        host.missing.push(path);
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      });
  });
  await new Promise<void>((r) => host.server.listen(0, '127.0.0.1', r));
  host.base = `http://127.0.0.1:${(host.server.address() as AddressInfo).port}${PREFIX}`;
  return host;
}

test('the site works under a sub-path: every link followed in Chromium, nothing missing, no request outside the prefix', { timeout: 300_000, ...browserNeeds }, async (t) => {
  const root = await scaffoldProject(t, 'project');
  // Built twice, so that the footer links the previous build's comparison (diff.html) too.
  for (let i = 0; i < 2; i++) {
    const built = spawnSync(join(root, 'node_modules', '.bin', 'reprobook'), ['build'], { cwd: root, encoding: 'utf8', timeout: 240_000 });
    assert.equal(built.status, 0, `${built.stdout}\n${built.stderr}`);
  }
  const host = await serveUnderPrefix(join(root, '_site'));
  t.after(() => new Promise<void>((r) => host.server.close(() => r())));
  const browser = await launchChrome();
  t.after(() => browser.close());
  const page = await browser.newPage();
  const outside: string[] = [];
  page.on('request', (r) => { if (!r.url().startsWith(host.base)) outside.push(r.url()); });
  const failed: string[] = [];
  page.on('requestfailed', (r) => failed.push(`${r.url()} (${r.failure()?.errorText})`));

  const queue = [host.base];
  const visited = new Set<string>();
  /** Ids each HTML page has, and the fragments links ask of it. */
  const ids = new Map<string, Set<string>>();
  const fragments: Array<{ from: string; page: string; id: string }> = [];
  const external = new Set<string>();
  while (queue.length > 0) {
    const url = queue.shift()!;
    if (visited.has(url)) continue;
    visited.add(url);
    if (!/\/$|\.html$/.test(new URL(url).pathname)) {
      const r = await page.request.get(url);
      assert.equal(r.status(), 200, `${url}: ${r.status()}`);
      continue;
    }
    // networkidle, not load: a web font is asked for after load, and the next page's navigation
    // would abort it (net::ERR_ABORTED), which is the test's doing, not a fault of the site.
    const response = await page.goto(url, { waitUntil: 'networkidle' });
    assert.equal(response?.status(), 200, url);
    const found = await page.evaluate(() => ({
      ids: [...document.querySelectorAll('[id]')].map((e) => e.id),
      links: [...document.querySelectorAll('a[href]')].map((a) => (a as HTMLAnchorElement).href),
    }));
    ids.set(url, new Set(found.ids));
    for (const link of found.links) {
      const target = new URL(link);
      if (target.origin !== new URL(host.base).origin) {
        external.add(link);
        continue;
      }
      const hash = decodeURIComponent(target.hash.slice(1));
      target.hash = '';
      if (hash) fragments.push({ from: url, page: target.href, id: hash });
      if (!visited.has(target.href)) queue.push(target.href);
    }
  }

  // Chromium asks the origin for /favicon.ico on its own when a page names no icon: the
  // browser's habit, not a link of the site (GitHub Pages answers it for the user's domain).
  const asked = (paths: string[]) => paths.filter((p) => p !== '/favicon.ico');
  assert.deepEqual(asked(host.missing), [], 'no 404');
  assert.deepEqual(failed, [], 'no failed request');
  assert.deepEqual(outside, [], 'no request leaves the prefix');
  assert.deepEqual(asked(host.requested).filter((p) => !p.startsWith(PREFIX)), [], 'the server was asked for nothing outside the prefix');
  for (const f of fragments) {
    const targetIds = ids.get(f.page);
    assert.ok(!targetIds || targetIds.has(f.id), `${f.from} links to ${f.page}#${f.id}, which has no such id`);
  }
  for (const link of external) assert.match(link, /^https:\/\/doi\.org\//, `an outside link (only the bibliography's DOIs are expected): ${link}`);
  const pages = [...visited].map((u) => u.slice(host.base.length));
  for (const p of ['', 'notebooks/01-estimate.html', 'notebooks/02-convergence.html', 'report.pdf', 'diff.html']) assert.ok(pages.includes(p), `${p || 'index'} was reached: ${pages.join(', ')}`);
});
