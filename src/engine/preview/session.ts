import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { startServer, type PreviewServer } from './server.ts';

/**
 * `reprobook preview`: build once, serve the site, and rebuild when a project file changes
 * (notebooks, report, config, and any other file of the project, which covers the modules
 * the notebooks import); the cache decides what actually re-runs, so a prose edit renders
 * in about a second. Builds never overlap: changes during a build start one more after it.
 * The site goes to a temporary folder, so a preview never replaces a built _site/.
 */

export interface PreviewOptions {
  root: string;
  host: string;
  port: number;
  /** One build into `out`: the same step `reprobook build` runs (without the PDF). */
  build: (out: string) => Promise<{ warnings: string[]; runError?: Error }>;
  log: (line: string) => void;
  /** Debounce for bursts of file events (an editor's save is several). */
  debounceMs?: number;
}

export interface PreviewSession {
  url: string;
  server: PreviewServer;
  close(): Promise<void>;
}

/** Folders whose changes are the preview's own or never change a build. */
const IGNORED = new Set(['.reprobook', '_site', 'node_modules', '.git']);

export async function startPreview(o: PreviewOptions): Promise<PreviewSession> {
  const out = await mkdtemp(join(tmpdir(), 'reprobook-preview-'));
  let lastError: string | undefined;
  const server = await startServer({ siteDir: () => out, host: o.host, port: o.port, lastError: () => lastError });
  let building: Promise<void> | null = null;
  let again = false;

  const buildOnce = async () => {
    const t0 = Date.now();
    try {
      const r = await o.build(out);
      // A failing notebook is shown in its page; the banner is for a build that produced no site.
      lastError = undefined;
      for (const w of r.warnings) o.log(`warning: ${w}`);
      o.log(`preview: built in ${((Date.now() - t0) / 1000).toFixed(1)}s${r.runError ? ' (a notebook failed: its page shows the error)' : ''}`);
      server.broadcast('reload', {});
    } catch (err) {
      lastError = (err as Error).message + ((err as { hint?: string }).hint ? `\nfix: ${(err as { hint?: string }).hint}` : '');
      o.log(`preview: the build failed: ${lastError}`);
      server.broadcast('failed', { message: lastError });
    }
  };
  const rebuild = (): Promise<void> => {
    if (building) {
      again = true;
      return building;
    }
    building = (async () => {
      do {
        again = false;
        await buildOnce();
      } while (again);
      building = null;
    })();
    return building;
  };

  await rebuild();
  let timer: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(o.root, {
    ignoreInitial: true,
    ignored: (path: string) => IGNORED.has(relative(o.root, path).split(sep)[0] ?? ''),
  });
  watcher.on('all', (_event, path) => {
    o.log(`preview: ${relative(o.root, path)} changed`);
    clearTimeout(timer);
    timer = setTimeout(() => void rebuild(), o.debounceMs ?? 100);
  });
  await new Promise<void>((r) => watcher.once('ready', () => r()));
  return {
    url: server.url,
    server,
    close: async () => {
      clearTimeout(timer);
      await watcher.close();
      while (building) await building;
      await server.close();
      await rm(out, { recursive: true, force: true });
    },
  };
}
