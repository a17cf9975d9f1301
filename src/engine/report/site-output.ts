import { copyFile, mkdir, readFile, realpath, rm, rmdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { UserError } from '../util/errors.ts';

/**
 * Where a build may write, and what it may delete there.
 *
 * A build's output folder can hold the user's own files (`--out docs`, `--out .`), so the
 * build never clears folders: it deletes only files listed in the manifest of the last build
 * (`.reprobook-site.json` in the output folder), and refuses to overwrite a file it did not
 * write. The manifest is rewritten *before* any file is written, listing the old and new files
 * together, so that a build killed half-way leaves nothing unlisted for the next build to trip on.
 */

export const MANIFEST_FILE = '.reprobook-site.json';
const MANIFEST_FORMAT = 'reprobook.site-manifest/1';

/** What to write at a path relative to the output folder. */
export type OutputSource = { content: string } | { copyFrom: string };

interface Manifest {
  format: typeof MANIFEST_FORMAT;
  /** Paths relative to the output folder, '/'-separated. */
  files: string[];
}

/** `inner` is `outer` or lies below it. */
export function within(outer: string, inner: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);
}

/** realpath of the longest existing prefix of `p` (the output folder may not exist yet). */
export async function realpathLoose(p: string): Promise<string> {
  const abs = resolve(p);
  let head = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      return join(await realpath(head), ...tail.reverse());
    } catch {
      const up = dirname(head);
      if (up === head) return abs;
      tail.push(head.slice(up.length).replace(/^[\\/]/, ''));
      head = up;
    }
  }
}

/** The project's folders of sources and state: nothing a command writes may land in them. */
export const SOURCE_DIRS = ['notebooks', 'report', 'src', '.reprobook'];

/**
 * Refuse an output folder that is, or contains, the project root or one of the folders the
 * project's sources live in: writing a site there would mix generated pages with the files
 * they are generated from (`--out .` once replaced notebooks/*.md by .html pages).
 */
export async function checkOutDir(root: string, out: string, shown: string = out): Promise<void> {
  const realOut = await realpathLoose(out);
  const realRoot = await realpathLoose(root);
  for (const d of ['', ...SOURCE_DIRS]) {
    const p = d ? join(realRoot, d) : realRoot;
    if (within(realOut, p)) {
      const what = d ? `the project's ${d}/ folder (${p})` : `the project root (${p})`;
      throw new UserError(
        `--out ${shown}: the output folder ${realOut === p ? 'is' : 'contains'} ${what}; a build must not write over the project's own files`,
        `write the site to a folder of its own: drop --out (the default is ${join(root, '_site')}) or name a new folder`,
      );
    }
  }
}

/** The files the last build wrote into `out`, as its manifest lists them; null when there is no readable manifest. */
export async function readManifest(out: string, warn: (line: string) => void): Promise<string[] | null> {
  let text: string;
  try {
    text = await readFile(join(out, MANIFEST_FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const m = JSON.parse(text) as Manifest;
    if (m.format === MANIFEST_FORMAT && Array.isArray(m.files)) return m.files.filter((f) => typeof f === 'string' && isSafeRelative(f));
  } catch {
    // A manifest cut short by a kill: fall through, as if absent.
  }
  warn(`${join(out, MANIFEST_FILE)} is unreadable; only a site reprobook generated there is replaced`);
  return null;
}

async function writeManifest(out: string, files: Iterable<string>): Promise<void> {
  const m: Manifest = { format: MANIFEST_FORMAT, files: [...new Set(files)].sort() };
  await writeFileAtomic(join(out, MANIFEST_FILE), `${JSON.stringify(m, null, 1)}\n`);
}

/** A manifest entry must stay inside the output folder, whatever the file says. */
export function isSafeRelative(rel: string): boolean {
  return rel !== '' && !rel.startsWith('/') && !rel.split('/').some((s) => s === '..' || s === '' || s === '.');
}

/**
 * Sites built before manifests existed: a folder whose index.html says reprobook generated
 * it is taken to own the paths a build writes, so that upgrading does not refuse the
 * default _site/. Any other existing file is the user's.
 */
async function legacyOwned(out: string, paths: string[]): Promise<string[]> {
  try {
    const index = await readFile(join(out, 'index.html'), 'utf8');
    if (!index.includes('<meta name="generator" content="reprobook">')) return [];
  } catch {
    return [];
  }
  return paths.filter((p) => existsSync(join(out, p)));
}

/**
 * Write `files` (relative path → source) into `out`, replacing the previous build's files.
 * `later` names files the caller writes afterwards (report.pdf): they are cleared and
 * listed too. Throws UserError, before touching anything, when a path to write exists and
 * was not written by a build.
 */
export async function writeOutput(out: string, files: Map<string, OutputSource>, later: string[], warn: (line: string) => void): Promise<void> {
  const mine = [...files.keys(), ...later];
  for (const p of mine) if (!isSafeRelative(p)) throw new Error(`internal: output path ${p} leaves the output folder`);
  await mkdir(out, { recursive: true });
  const previous = (await readManifest(out, warn)) ?? (await legacyOwned(out, mine));
  const owned = new Set(previous);
  const foreign = mine.filter((p) => !owned.has(p) && existsSync(join(out, p)));
  if (foreign.length) {
    throw new UserError(
      `${join(out, foreign[0]!)}${foreign.length > 1 ? ` (and ${foreign.length - 1} more)` : ''} already exists and was not written by a reprobook build; the build will not overwrite it`,
      'move that file away, or pass --out with an empty (or new) folder',
    );
  }
  // Listed first, written second: a kill at any point leaves every file we wrote listed.
  await writeManifest(out, [...previous, ...mine]);
  for (const p of previous) await rm(join(out, p), { force: true });
  await removeEmptyDirs(out, previous);
  for (const [p, src] of files) {
    const dest = join(out, p);
    await mkdir(dirname(dest), { recursive: true });
    if ('content' in src) await writeFile(dest, src.content);
    else await copyFile(src.copyFrom, dest);
  }
  await writeManifest(out, mine);
}

/** Remove the folders that held listed files once they are empty; a folder with a user's file stays. */
async function removeEmptyDirs(out: string, files: string[]): Promise<void> {
  const dirs = new Set<string>();
  for (const f of files) {
    let d = dirname(f);
    while (d !== '.' && d !== '') {
      dirs.add(d);
      d = dirname(d);
    }
  }
  // Deepest first, so that a parent is tried after its children.
  for (const d of [...dirs].sort((a, b) => b.split('/').length - a.split('/').length)) {
    try {
      await rmdir(join(out, d));
    } catch {
      // Not empty (the user's files) or already gone.
    }
  }
}

/** `rel` in '/'-separated form, for manifest entries built from file-system paths. */
export function toManifestPath(base: string, file: string): string {
  return relative(base, file).split(sep).join('/');
}
