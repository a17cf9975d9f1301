import { UserError } from '../util/errors.ts';
import { readResultsFile } from '../results/file.ts';
import { setOwn } from '../util/own.ts';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import lockfile from 'proper-lockfile';
import type { ExecutedNotebook, ResultsFile } from '../core/records.ts';
import { getEnvironment } from '../core/environment.ts';
import { checkProfileName } from '../util/names.ts';

/**
 * Where executed notebooks and results live under <root>/.reprobook, and how they are
 * written: atomically (write-file-atomic renames a complete temporary file into place), so
 * a killed run or a concurrent one never leaves a half-written file. A failed run is kept
 * beside the last good one (under failed/) instead of replacing it.
 */

export interface NotebookFile {
  /** File name without extension: the notebook's id. */
  name: string;
  /** Root-relative path with '/' separators, e.g. notebooks/02-train.md. */
  path: string;
  /** Absolute path. */
  file: string;
}

/** The folder name of a profile's records; every path built from a profile name goes through here. */
export function profileDir(profile: string | null): string {
  return profile === null ? 'default' : checkProfileName(profile);
}

/**
 * `.reprobook/executed/<profile>/<name>.json` holds the last good run; a failed run goes to
 * `.reprobook/executed/<profile>/failed/<name>.json`, out of the way of readers that list
 * the good runs (use loadExecuted() to see failures too).
 */
export function executedPath(root: string, profile: string | null, name: string, failed = false): string {
  const dir = join(root, '.reprobook', 'executed', profileDir(profile));
  return failed ? join(dir, 'failed', `${name}.json`) : join(dir, `${name}.json`);
}

export function resultsPath(root: string, profile: string | null): string {
  return join(root, '.reprobook', 'results', `${profileDir(profile)}.json`);
}

/** The notebooks of a project: <root>/notebooks/*.md in file-name order. */
export async function listNotebooks(root: string): Promise<NotebookFile[]> {
  let names: string[];
  try {
    names = (await readdir(join(root, 'notebooks'), { withFileTypes: true })).filter((e) => e.isFile() && e.name.endsWith('.md')).map((e) => e.name);
  } catch {
    return [];
  }
  return names.sort().map((n) => ({ name: n.slice(0, -3), path: `notebooks/${n}`, file: join(root, 'notebooks', n) }));
}

/** A stored run that could not be read; it counts as absent (a cache miss). */
export interface UnreadableRecord {
  path: string;
  reason: string;
}

/**
 * An executed record, or null when absent or unreadable. A record cut short (a full disk, a
 * truncate, a copy interrupted) must not block every command, the one that would rewrite it
 * included: it is a cache miss, reported through `unreadable` so that the caller says so once.
 */
export async function readExecutedRecord(path: string, unreadable?: UnreadableRecord[]): Promise<ExecutedNotebook | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let reason: string;
  try {
    const v = JSON.parse(text) as ExecutedNotebook | null;
    if (v && typeof v === 'object' && v.format === 'reprobook.executed/1' && typeof v.cacheKey === 'string') return v;
    reason = `not an executed notebook (format ${JSON.stringify((v as { format?: unknown } | null)?.format)})`;
  } catch (err) {
    reason = (err as Error).message;
  }
  unreadable?.push({ path, reason });
  return null;
}

/** The last good run and the last failed run (newer than the good one) of a notebook. */
export async function loadExecutedNotebook(root: string, profile: string | null, name: string): Promise<{ good: ExecutedNotebook | null; failed: ExecutedNotebook | null; unreadable: UnreadableRecord[] }> {
  const unreadable: UnreadableRecord[] = [];
  return {
    good: await readExecutedRecord(executedPath(root, profile, name), unreadable),
    failed: await readExecutedRecord(executedPath(root, profile, name, true), unreadable),
    unreadable,
  };
}

/**
 * The latest state of every current notebook for a profile, in file-name order: a failed
 * run when the last attempt failed (so that the report shows the error), else the last good
 * run. Notebooks never run are absent.
 */
export async function loadExecuted(root: string, profile: string | null, unreadable?: UnreadableRecord[]): Promise<ExecutedNotebook[]> {
  const out: ExecutedNotebook[] = [];
  for (const nb of await listNotebooks(root)) {
    const { good, failed, unreadable: bad } = await loadExecutedNotebook(root, profile, nb.name);
    unreadable?.push(...bad);
    const latest = failed ?? good;
    if (latest) out.push(latest);
  }
  return out;
}

export async function writeExecuted(root: string, executed: ExecutedNotebook): Promise<string> {
  const ok = executed.status === 'ok';
  const path = executedPath(root, executed.profile, executed.notebook.name, !ok);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFileAtomic(path, JSON.stringify(executed, null, 1));
  if (ok) await rm(executedPath(root, executed.profile, executed.notebook.name, true), { force: true });
  return path;
}

/**
 * Store a run that was written as good and then failed (a cell's timer or promise raised an
 * error after the notebook finished): it moves to failed/, and the good record goes, so the
 * next run re-runs the notebook instead of finding it cached. Synchronous because it runs
 * from an error handler, possibly while the process is about to exit.
 */
export function storeLateFailureSync(root: string, executed: ExecutedNotebook, wasStoredAsGood: boolean): void {
  const path = executedPath(root, executed.profile, executed.notebook.name, true);
  mkdirSync(join(path, '..'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(executed, null, 1));
  renameSync(tmp, path);
  if (wasStoredAsGood) rmSync(executedPath(root, executed.profile, executed.notebook.name), { force: true });
}

export async function clearFailed(root: string, profile: string | null, name: string): Promise<void> {
  await rm(executedPath(root, profile, name, true), { force: true });
}

/** Build the results file from the last good run of every current notebook (pure but for reads). */
export async function buildResults(root: string, profile: string | null): Promise<ResultsFile> {
  const file: ResultsFile = {
    profile,
    provenance: { generatedAt: new Date().toISOString(), environment: getEnvironment(root), notebooks: [] },
    results: {},
    sources: {},
  };
  const data: Record<string, string> = {};
  const goods: ExecutedNotebook[] = [];
  for (const nb of await listNotebooks(root)) {
    // An unreadable record was reported when its notebook was run; here it is just absent.
    const good = await readExecutedRecord(executedPath(root, profile, nb.name));
    if (!good) continue;
    goods.push(good);
    file.provenance.notebooks.push({
      name: good.notebook.name, path: good.notebook.path, cacheKey: good.cacheKey, wallTimeMs: good.wallTimeMs, params: good.params, startedAt: good.startedAt,
    });
    Object.assign(data, (good.cacheKeyInputs.data ?? {}) as Record<string, string>);
    // A later notebook publishing the same name wins: notebooks run in file-name order.
    for (const r of good.results) {
      setOwn(file.results, r.name, r.value);
      setOwn(file.sources, r.name, {
        notebook: r.notebook, cellIndex: r.cellIndex,
        ...(r.cellLabel === undefined ? {} : { cellLabel: r.cellLabel }),
        ...(r.artifacts === undefined ? {} : { artifacts: r.artifacts }),
      });
      if (r.count) setOwn((file.counts ??= {}), r.name, r.count);
      else if (file.counts) delete file.counts[r.name];
    }
  }
  if (Object.keys(data).length) file.provenance.data = data;
  // Notebooks run in worker threads of their own (isolation.ts): the backend they loaded is
  // in their records, not in this process. The last notebook's, as when they shared one.
  if (file.provenance.environment.backend === undefined) {
    const backend = goods.map((g) => g.environment?.backend).filter((b): b is string => typeof b === 'string').at(-1);
    if (backend !== undefined) file.provenance.environment.backend = backend;
  }
  return file;
}

/**
 * Collect all notebooks' published results into <root>/.reprobook/results/<profile>.json.
 * A lock serialises concurrent collectors so that the last one reads every finished run.
 */
export async function collectResults(root: string, profile: string | null): Promise<ResultsFile> {
  const path = resultsPath(root, profile);
  await mkdir(join(path, '..'), { recursive: true });
  const release = await lockfile.lock(join(path, '..'), { lockfilePath: `${path}.lock`, retries: { retries: 50, minTimeout: 50, maxTimeout: 1000 }, stale: 30000 });
  try {
    const results = await buildResults(root, profile);
    await writeFileAtomic(path, JSON.stringify(results, null, 2));
    return results;
  } finally {
    await release();
  }
}

export async function loadResults(root: string, profile: string | null): Promise<ResultsFile | null> {
  return readResultsFile(resultsPath(root, profile), `the results of profile ${profileDir(profile)} (${resultsPath(root, profile)})`);
}
