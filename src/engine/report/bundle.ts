import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import JSZip from 'jszip';
import { toIpynb } from '../notebook/ipynb.ts';
import type { ResultsFile } from '../notebook/types.ts';
import { loadExecuted } from '../store/executed.ts';
import { UserError } from '../util/errors.ts';

/**
 * `reprobook bundle`: what a reviewer needs, offline, in one zip: the built site (with
 * report.pdf and report.html when they were built), results.json, the provenance of the
 * run and of every notebook, and the executed notebooks as Jupyter .ipynb files.
 */

export async function buildBundle(root: string, siteDir: string): Promise<{ zip: Buffer; files: string[] }> {
  if (!existsSync(join(siteDir, 'index.html')) || !existsSync(join(siteDir, 'results.json'))) {
    throw new UserError(`no built site in ${siteDir}`, 'run `reprobook build` first (add --self-contained for the one-file report.html), or pass --site DIR');
  }
  const results = JSON.parse(await readFile(join(siteDir, 'results.json'), 'utf8')) as ResultsFile;
  const zip = new JSZip();
  for (const f of (await readdir(siteDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile())) {
    const abs = join(f.parentPath, f.name);
    zip.file(`site/${abs.slice(siteDir.length + 1).split('\\').join('/')}`, await readFile(abs));
  }
  zip.file('results.json', JSON.stringify(results, null, 2));
  for (const top of ['report.pdf', 'report.html']) if (existsSync(join(siteDir, top))) zip.file(top, await readFile(join(siteDir, top)));
  const executed = await loadExecuted(root, results.profile ?? null);
  zip.file('provenance.json', JSON.stringify({
    run: results.provenance,
    notebooks: executed.map((e) => ({ name: e.notebook.name, path: e.notebook.path, status: e.status, cacheKey: e.cacheKey, cacheKeyInputs: e.cacheKeyInputs, params: e.params, startedAt: e.startedAt, wallTimeMs: e.wallTimeMs, environment: e.environment })),
  }, null, 2));
  for (const e of executed) zip.file(`notebooks/${e.notebook.name}.ipynb`, JSON.stringify(toIpynb(e), null, 1));
  const files = Object.keys(zip.files).filter((n) => !zip.files[n]!.dir).sort();
  return { zip: await zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' }), files };
}
