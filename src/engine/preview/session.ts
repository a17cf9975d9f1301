import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { startServer, type PreviewServer } from './server.ts';

/**
 * `reprobook preview`: build once, serve the site, and rebuild when an input of the build
 * changes; the cache decides what actually re-runs, so a prose edit renders in about a second.
 *
 * Inputs only, as Observable Framework watches a page's sources and what they load: the
 * notebooks and report folders, the config and lockfile, and the files the last build read
 * (the modules its cells import, its data, the report's images and bibliography). A log the
 * user redirects into the project, the tool's own state, any other file: no rebuild.
 *
 * Builds never overlap. An input changing during a build stops it (its running cell too: a
 * fix to `while (true) {}` must not wait for the cell's time limit) and builds again. The
 * site goes to a temporary folder, so a preview never replaces a built _site/; the folder is
 * made once the port is ours and removed when the preview stops, even during its first build.
 */

export interface PreviewBuild {
  warnings: string[];
  runError?: Error;
  /** The project files this build read, relative to the root: they are watched from now on. */
  inputs: string[];
}

export interface PreviewOptions {
  root: string;
  host: string;
  port: number;
  /** One build into `out`: the same step `reprobook build` runs (without the PDF). Aborting `signal` stops it. */
  build: (out: string, signal: AbortSignal) => Promise<PreviewBuild>;
  log: (line: string) => void;
  /** Debounce for bursts of file events (an editor's save is several). */
  debounceMs?: number;
  /** Aborting stops the preview (Ctrl-C): the running build, the watcher and the server; the temporary site is removed. */
  stop?: AbortSignal;
}

export interface PreviewSession {
  url: string;
  server: PreviewServer;
  close(): Promise<void>;
  /** Settles once the preview has stopped and cleaned up. */
  closed: Promise<void>;
}

/** Watched whatever the last build read: where a project's sources are, and what every key covers. */
const ALWAYS = ['notebooks', 'report', 'reprobook.config.yaml', 'package-lock.json', 'pnpm-lock.yaml', 'yarn.lock'];
/** Never inputs: the tool's state, installed packages, git. */
const NEVER = new Set(['.reprobook', 'node_modules', '.git']);
/** The reason a superseded build is stopped with (it shows in the stopped cell's error). */
const RESTART = 'preview (an input changed)';

/** A message for the page: paths in the project's terms, none of this machine's folders. */
export function shareable(message: string, root: string, out: string): string {
  return message.split(out).join('<preview site>').split(root + sep).join('').split(root).join('.');
}

export async function startPreview(o: PreviewOptions): Promise<PreviewSession> {
  let out = '';
  let lastError: string | undefined;
  // The port first: a port in use must leave nothing behind.
  const server = await startServer({ siteDir: () => out, host: o.host, port: o.port, lastError: () => lastError });
  out = await mkdtemp(join(tmpdir(), 'reprobook-preview-'));

  const inputs = new Set<string>(ALWAYS);
  const rel = (path: string) => relative(o.root, path).split(sep).join('/');
  const isInput = (r: string): boolean => {
    for (const i of inputs) if (r === i || r.startsWith(`${i}/`)) return true;
    return false;
  };

  let building: Promise<void> | null = null;
  let current: AbortController | null = null;
  let again = false;
  let stopping = false;

  const buildOnce = async () => {
    const t0 = Date.now();
    const controller = new AbortController();
    current = controller;
    try {
      const r = await o.build(out, controller.signal);
      if (controller.signal.aborted) return;
      for (const i of r.inputs) inputs.add(i);
      // A failing notebook is shown in its page; the banner is for a build that produced no site.
      lastError = undefined;
      for (const w of r.warnings) o.log(`warning: ${w}`);
      o.log(`preview: built in ${((Date.now() - t0) / 1000).toFixed(1)}s${r.runError ? ' (a notebook failed: its page shows the error)' : ''}`);
      server.broadcast('reload', {});
    } catch (err) {
      if (controller.signal.aborted) return;
      lastError = shareable((err as Error).message + ((err as { hint?: string }).hint ? `\nfix: ${(err as { hint?: string }).hint}` : ''), o.root, out);
      o.log(`preview: the build failed: ${lastError}`);
      server.broadcast('failed', { message: lastError });
    } finally {
      current = null;
    }
  };
  const rebuild = (): Promise<void> => {
    if (building) {
      again = true;
      current?.abort(RESTART);
      return building;
    }
    building = (async () => {
      do {
        again = false;
        await buildOnce();
      } while (again && !stopping);
      building = null;
    })();
    return building;
  };

  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | null = null;
  let closing: Promise<void> | null = null;
  let closedNow = () => {};
  const closed = new Promise<void>((r) => { closedNow = r; });
  const close = () => closing ??= (async () => {
    stopping = true;
    clearTimeout(timer);
    current?.abort('the preview stopping');
    await watcher?.close();
    while (building) await building;
    await server.close();
    await rm(out, { recursive: true, force: true });
    closedNow();
  })();
  o.stop?.addEventListener('abort', () => void close(), { once: true });

  // Watching starts before the first build, so that an edit during it (the fix to a cell
  // that never ends) restarts it. Every folder but the tool's state is watched, so that a
  // file becomes an input the moment a build reads it; an event counts only for an input
  // (a folder's own events do not: its files have theirs).
  watcher = watch(o.root, { ignoreInitial: true, ignored: (path: string) => NEVER.has(rel(path).split('/')[0]!) });
  watcher.on('all', (event, path) => {
    if (stopping || event === 'addDir' || event === 'unlinkDir' || !isInput(rel(path))) return;
    o.log(`preview: ${rel(path)} changed`);
    clearTimeout(timer);
    timer = setTimeout(() => void rebuild(), o.debounceMs ?? 100);
  });
  await new Promise<void>((r) => watcher!.once('ready', () => r()));
  if (!stopping) await rebuild();
  return { url: server.url, server, close, closed };
}
