import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import MarkdownIt from 'markdown-it';
import type { ExecutedNotebook, ResultsFile } from '../core/records.ts';
import { gitState } from '../core/environment.ts';
import {
  buildResults, listNotebooks, loadExecuted, loadResults, profileDir, resultsPath, type UnreadableRecord,
} from '../store/executed.ts';
import { UserError } from '../util/errors.ts';
import { parseClaimsFile, type ClaimsFile } from '../results/claims.ts';
import { currentFingerprints, frozenStaleness } from '../freeze/freeze.ts';
import { freezeFingerprint, loadFrozenRun } from '../freeze/record.ts';
import { checkStyle, loadBibliography, type Bibliography } from './bibliography.ts';
import { splitFrontMatter, type MarkdownSource } from './markdown.ts';
import { ProjectFiles } from './project-files.ts';
import { toManifestPath } from './site-output.ts';
import { projectName } from '../core/project.ts';
import type { ReportWarning } from './warnings.ts';

/**
 * Everything a build of the report reads, read here and nowhere else: the run being
 * reported (its results file and executed notebooks), the other profiles' runs the report
 * cites (from this machine's store, or from their frozen records), the report's Markdown,
 * bibliography, claims and style, and the project's images its Markdown shows (checked to lie
 * inside the project). `renderSite` turns this into files without touching the disk.
 */

/** One profile's run as the report sees it. */
export interface ReportRun {
  profile: string | null;
  results: ResultsFile;
  executed: ExecutedNotebook[];
  /** 'build': the run being built; 'store': another profile's run on this machine; 'frozen': a frozen record. */
  origin: 'build' | 'store' | 'frozen';
  frozen?: { commit: string | null; frozenAt: string; dir: string };
  /** Notebooks whose code, parameters or data have changed since the run (their values are stale). */
  stale: Set<string>;
}

export interface ReportSource {
  /** Project-relative path ('report/index.md'). */
  file: string;
  text: string;
  front: Record<string, unknown>;
  body: string;
  /** Lines before the body (the front matter): body line n is file line n + bodyOffset. */
  bodyOffset: number;
}

export interface ReportInputs {
  root: string;
  /** The project's name (package.json's, else its folder's). */
  title: string;
  run: ReportRun;
  /** Other profiles' runs the report cites, by profile name (absent: no run here, no frozen record). */
  cited: Map<string, ReportRun>;
  /** Profiles the report names that have no run here and no frozen record. */
  missingProfiles: string[];
  report: ReportSource | null;
  bibliography?: Bibliography;
  claims: ClaimsFile;
  /** The project's report/style.css, checked. */
  style?: string;
  /** Every local Markdown image: `${file}\0${src}` → its path in the site. */
  images: Map<string, string>;
  /** Files to copy into the site: site path → project file. */
  copies: Map<string, string>;
  /** Every notebook of the project, by name. */
  notebooks: string[];
  git?: { commit: string; dirty: boolean };
  /** Project files read (relative to the root): what a preview watches. */
  read: string[];
  warnings: ReportWarning[];
}

export interface LoadOptions {
  /** The environment the notebooks run with (for staleness: the fingerprints of what is cited). */
  env?: Record<string, string | undefined>;
}

/** The key of a local image in `ReportInputs.images`. */
export const imageKey = (file: string, src: string) => `${file}\0${src}`;

/**
 * The run being built: the latest run of every current notebook (a failed one when the last
 * attempt failed, so that the report shows the error) and the results file, read through the
 * store (store/executed.ts), the one reader of what the runner wrote.
 */
async function loadBuildRun(root: string, profile: string | null, warnings: ReportWarning[]): Promise<ReportRun> {
  const unreadable: UnreadableRecord[] = [];
  // An unreadable record leaves its notebook out of this report (with a warning) instead of
  // failing the build; running the notebook rewrites it.
  const executed = await loadExecuted(root, profile, unreadable);
  for (const u of unreadable) warnings.push({ rule: 'unreadable-record', message: `${u.path} is unreadable (${u.reason}); its notebook is left out of the report: run it again (\`reprobook run\`) to rewrite it` });
  for (const nb of executed) if (nb.status === 'error') warnings.push({ rule: 'notebook-failed', message: `notebook ${nb.notebook.name} failed in this run; its page shows the error` });
  let results = await loadResults(root, profile);
  if (!results) {
    if (executed.length === 0) {
      throw new UserError(
        `nothing to build: no executed notebooks in ${join(root, '.reprobook', 'executed', profileDir(profile))} and no results file ${resultsPath(root, profile)}`,
        `run the notebooks first: \`reprobook run --root ${root}${profile ? ` --profile ${profile}` : ''}\` (or drop --no-run)`,
      );
    }
    warnings.push({ rule: 'no-results-file', message: `no results file for profile "${profileDir(profile)}": results.json was assembled from the executed notebooks` });
    results = await buildResults(root, profile);
  }
  return { profile, results, executed, origin: 'build', stale: new Set() };
}

/**
 * Another profile's run, as the report cites it: this machine's own run when it is complete
 * and of the code as it is now; else the frozen record (report/frozen/<profile>/); else this
 * machine's run as it is; null when there is neither. Either way, the notebooks whose code,
 * parameters or data have changed since are listed as stale.
 */
export async function loadCitedRun(root: string, profile: string, env: Record<string, string | undefined>): Promise<ReportRun | null> {
  const now = await currentFingerprints(root, profile, env);
  const frozen = await loadFrozenRun(root, profile);
  const executed = (await loadExecuted(root, profile)).filter((e) => e.status === 'ok');
  const results = await loadResults(root, profile);
  const localStale = new Set([...now.keys()].filter((name) => {
    const e = executed.find((x) => x.notebook.name === name);
    return !e || freezeFingerprint(e.cacheKeyInputs) !== now.get(name)!.fingerprint;
  }));
  if (results && localStale.size === 0) return { profile, results, executed, origin: 'store', stale: localStale };
  if (frozen) {
    return {
      profile, results: frozen.record.results, executed: frozen.executed, origin: 'frozen',
      frozen: { commit: frozen.record.commit, frozenAt: frozen.record.frozenAt, dir: frozen.dir },
      stale: await frozenStaleness(root, frozen, env),
    };
  }
  return results ? { profile, results, executed, origin: 'store', stale: localStale } : null;
}

/** The report's bibliography: the front matter's `bibliography:` (relative to report/), else report/references.bib, else references.json. */
async function loadReportBibliography(files: ProjectFiles, report: ReportSource): Promise<Bibliography | undefined> {
  const root = files.root;
  const style = checkStyle(report.front['citation-style'], report.file);
  const named = report.front.bibliography;
  if (named !== undefined) {
    const path = typeof named === 'string' ? join(root, 'report', named) : '';
    if (!path || !existsSync(path)) throw new UserError(`${report.file}: bibliography ${JSON.stringify(named)} does not exist in report/`, 'name a .bib or CSL-JSON .json file in report/, or drop the key to use report/references.bib');
    const line = report.text.split('\n').findIndex((l) => /^bibliography\s*:/.test(l)) + 1;
    return loadBibliography(files.inside(path, `${report.file}:${line}`), style);
  }
  for (const f of ['references.bib', 'references.json']) {
    if (existsSync(join(root, 'report', f))) return loadBibliography(files.inside(join(root, 'report', f), `report/${f}`), style);
  }
  if (existsSync(join(root, 'report', 'references.yaml'))) {
    throw new UserError('report/references.yaml is no longer read: the bibliography is BibTeX or CSL-JSON', 'convert it to report/references.bib (one @type{key, …} entry per reference, in the same order)');
  }
  return undefined;
}

/** The profiles a report's Markdown cites (`{{result P:NAME}}`, `{{embed P:NB#LABEL}}`), in order of appearance. */
export function citedProfiles(markdown: string): string[] {
  const out: string[] = [];
  for (const m of markdown.matchAll(/\{\{\s*(?:result|embed)\s+([A-Za-z][\w-]*):/g)) if (!out.includes(m[1]!)) out.push(m[1]!);
  return out;
}

/** The local images (`![a](path)`, no scheme) of some Markdown, with the 0-based line of their block. */
export function localImageRefs(markdown: string): Array<{ src: string; line: number }> {
  const out: Array<{ src: string; line: number }> = [];
  for (const block of new MarkdownIt({ html: false }).parse(markdown, {})) {
    for (const t of block.children ?? []) {
      if (t.type !== 'image') continue;
      const src = t.attrGet('src') ?? '';
      if (!src || src.startsWith('#') || /^[a-z][a-z\d+.-]*:/i.test(src)) continue;
      out.push({ src, line: block.map?.[0] ?? 0 });
    }
  }
  return out;
}

/** Every piece of Markdown a run's notebook pages show: prose blocks and Markdown outputs. */
function notebookMarkdown(executed: ExecutedNotebook[]): Array<{ markdown: string; source: MarkdownSource }> {
  const out: Array<{ markdown: string; source: MarkdownSource }> = [];
  for (const nb of executed) {
    const doc = nb.notebook;
    for (const b of doc.blocks) if (b.kind === 'prose') out.push({ markdown: b.markdown, source: { file: doc.path, line: b.line } });
    for (const cell of nb.cells) {
      const block = doc.blocks.find((b) => b.kind === 'code' && b.index === cell.index);
      for (const o of cell.outputs) {
        if (o.type !== 'stream' && o.item.kind === 'markdown') {
          out.push({ markdown: o.item.markdown, source: { file: doc.path, line: block?.line ?? 1, output: `an output of cell ${cell.index + 1}` } });
        }
      }
    }
  }
  return out;
}

export async function loadReport(rootIn: string, profile: string | null, opts: LoadOptions = {}): Promise<ReportInputs> {
  const root = resolve(rootIn);
  const env = opts.env ?? { ...process.env };
  const warnings: ReportWarning[] = [];
  const run = await loadBuildRun(root, profile, warnings);
  // The project's own report/, or (without one) an index of its own notebooks: never this
  // repository's paper, references or claims. Each file is the project's own, not a link to
  // one elsewhere (project-files.ts).
  const files = new ProjectFiles(root);
  const own = (name: string) => (existsSync(join(root, 'report', name)) ? files.inside(join(root, 'report', name), `report/${name}`) : null);
  // The report's entry is report/index.md (as a site's), else report/paper.md.
  const entry = own('index.md') ?? own('paper.md');
  let report: ReportSource | null = null;
  if (entry) {
    const text = await readFile(entry, 'utf8');
    const { data, body } = splitFrontMatter(text);
    report = { file: toManifestPath(files.realRoot, entry), text, front: data, body, bodyOffset: text.slice(0, text.length - body.length).split('\n').length - 1 };
  }
  const bibliography = report ? await loadReportBibliography(files, report) : undefined;
  const claimsPath = report ? own('claims.yaml') : null;
  const claims: ClaimsFile = claimsPath ? parseClaimsFile(await readFile(claimsPath, 'utf8'), 'report/claims.yaml') : { claims: [], profiles: [] };
  const stylePath = own('style.css');
  const style = stylePath ? files.checkStyle(await readFile(stylePath, 'utf8'), 'report/style.css') : undefined;

  // The other profiles the report cites, in the order it names them.
  const wanted = [...new Set([
    ...(report ? citedProfiles(report.body) : []),
    ...claims.profiles,
    ...claims.claims.flatMap((c) => (c.profile ? [c.profile] : [])),
  ])].filter((p) => p !== profile);
  const cited = new Map<string, ReportRun>();
  const missingProfiles: string[] = [];
  for (const p of wanted) {
    let r: ReportRun | null;
    try {
      r = await loadCitedRun(root, p, env);
    } catch (err) {
      if (!(err instanceof UserError) || !/unknown profile/.test(err.message)) throw err;
      const line = report ? report.text.split('\n').findIndex((l) => l.includes(`${p}:`)) + 1 : 0;
      throw new UserError(`${line > 0 ? `${report!.file}:${line}` : 'report/claims.yaml'}: profile ${p} is cited but does not exist (${err.message})`, err.hint ?? 'name a profile of reprobook.config.yaml');
    }
    if (r) cited.set(p, r);
    else missingProfiles.push(p);
  }

  // Every local image any page shows, checked and placed now, so that rendering reads nothing.
  const images = new Map<string, string>();
  const markdowns = [
    ...(report ? [{ markdown: report.body, source: { file: report.file, line: report.bodyOffset + 1 } as MarkdownSource }] : []),
    ...notebookMarkdown(run.executed),
    ...[...cited.values()].flatMap((r) => notebookMarkdown(r.executed)),
  ];
  for (const { markdown, source } of markdowns) {
    for (const ref of localImageRefs(markdown)) {
      const line = source.output ? source.line : source.line + ref.line;
      images.set(imageKey(source.file, ref.src), files.markdownImage(ref.src, source, line));
    }
  }
  const git = gitState(root);
  return {
    root, title: entry ? '' : projectName(root), run, cited, missingProfiles, report,
    ...(bibliography ? { bibliography } : {}), claims, ...(style !== undefined ? { style } : {}),
    images, copies: files.copies,
    notebooks: (await listNotebooks(root)).map((n) => n.name),
    ...(git ? { git } : {}),
    read: [...files.read].map((f) => toManifestPath(files.realRoot, f)),
    warnings,
  };
}
