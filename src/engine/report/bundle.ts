import { existsSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import JSZip from 'jszip';
import { toIpynb } from '../notebook/ipynb.ts';
import type { ResultsFile } from '../core/records.ts';
import { loadExecuted } from '../store/executed.ts';
import { UserError } from '../util/errors.ts';
import { isSafeRelative, MANIFEST_FILE, readManifest, realpathLoose, SOURCE_DIRS, within } from './site-output.ts';

/**
 * `reprobook bundle`: what a reviewer needs, offline, in one zip: the built site (with
 * report.pdf and report.html when they were built), results.json, the provenance of the
 * run and of every notebook, and the executed notebooks as Jupyter .ipynb files.
 *
 * The site part is the files the build wrote, as its manifest lists them, never whatever else
 * lies in the folder (a user's notes, earlier zips). Every entry name is checked, since some
 * come from stored records a hand may have edited. The zip is marked as the bundle's own
 * (its comment), so that `--out` replaces only a zip bundle wrote and never another file.
 */

const BUNDLE_COMMENT = 'reprobook bundle';

/** A zip entry name that unpacks inside the folder it is unpacked in, on any platform. */
function checkEntryName(name: string): string {
  if (!isSafeRelative(name) || /[\\:\u0000-\u001f]/.test(name)) {
    throw new UserError(`the bundle would hold an entry named ${JSON.stringify(name)}, which would unpack outside its folder`,
      'a stored record was edited by hand: run the notebooks again (reprobook build --force) to rewrite them');
  }
  return name;
}

export async function buildBundle(root: string, siteDir: string): Promise<{ zip: Buffer; files: string[] }> {
  const listed = existsSync(join(siteDir, 'index.html')) && existsSync(join(siteDir, 'results.json'))
    ? await readManifest(siteDir, () => {})
    : null;
  if (!listed) {
    throw new UserError(`no built site in ${siteDir} (or no readable ${MANIFEST_FILE}, the list of what the build wrote)`, 'run `reprobook build` first (add --self-contained for the one-file report.html), or pass --site DIR');
  }
  const results = JSON.parse(await readFile(join(siteDir, 'results.json'), 'utf8')) as ResultsFile;
  const zip = new JSZip();
  const add = (name: string, data: string | Buffer) => zip.file(checkEntryName(name), data);
  const realSite = await realpath(siteDir);
  for (const rel of listed) {
    const abs = join(siteDir, rel);
    // Listed but not written (a PDF whose printing failed), or replaced by a link out of the site.
    if (!existsSync(abs)) continue;
    if (!within(realSite, await realpath(abs)) || !(await stat(abs)).isFile()) {
      throw new UserError(`${abs} is not the file the build wrote there (it is a folder or links outside the site)`, 'build again (reprobook build) to rewrite the site');
    }
    add(`site/${rel}`, await readFile(abs));
  }
  add('results.json', JSON.stringify(results, null, 2));
  for (const top of ['report.pdf', 'report.html']) if (listed.includes(top) && existsSync(join(siteDir, top))) add(top, await readFile(join(siteDir, top)));
  const executed = await loadExecuted(root, results.profile ?? null);
  add('provenance.json', JSON.stringify({
    run: results.provenance,
    notebooks: executed.map((e) => ({ name: e.notebook.name, path: e.notebook.path, status: e.status, cacheKey: e.cacheKey, cacheKeyInputs: e.cacheKeyInputs, params: e.params, startedAt: e.startedAt, wallTimeMs: e.wallTimeMs, environment: e.environment })),
  }, null, 2));
  for (const e of executed) add(`notebooks/${e.notebook.name}.ipynb`, JSON.stringify(toIpynb(e), null, 1));
  const files = Object.keys(zip.files).filter((n) => !zip.files[n]!.dir).sort();
  return { zip: await zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE', comment: BUNDLE_COMMENT }), files };
}

/**
 * `bundle --out`, refused before anything is zipped when it lies in the project's sources or
 * state (build --out's rule, site-output.ts) or names an existing file that is not a zip this
 * command wrote (`--out notebooks/a.md` once replaced the notebook by a zip).
 */
export async function checkBundleOut(root: string, out: string, shown: string): Promise<void> {
  const realOut = await realpathLoose(out);
  const realRoot = await realpathLoose(root);
  for (const d of SOURCE_DIRS) {
    if (within(join(realRoot, d), realOut)) {
      throw new UserError(`--out ${shown}: the zip would be written in the project's ${d}/ folder; bundle never writes among the project's own files`,
        `write it elsewhere: drop --out (the default is ${join(root, 'report-bundle.zip')}) or name a new file outside ${d}/`);
    }
  }
  if (!existsSync(out)) return;
  if ((await stat(out)).isDirectory()) throw new UserError(`--out ${shown} is a folder`, `name the zip file to write, e.g. --out ${join(shown, 'report-bundle.zip')}`);
  try {
    // JSZip reads the archive's comment, though its types do not say so.
    if ((await JSZip.loadAsync(await readFile(out)) as JSZip & { comment?: string }).comment === BUNDLE_COMMENT) return;
  } catch {
    // Not a zip at all.
  }
  throw new UserError(`--out ${shown} already exists and was not written by reprobook bundle; it is left as it is`,
    `name a new file, or move ${relative(process.cwd(), out) || out} away first`);
}
