import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { projectName } from '../core/project.ts';
import type { ExecutedNotebook, ResultsFile } from '../core/records.ts';
import { hashValue } from '../util/hash.ts';
import { UserError } from '../util/errors.ts';
import { checkProfileName } from '../util/names.ts';

/**
 * A frozen run (Quarto's `_freeze/`, made to go stale visibly): the record of one profile's
 * run committed into the repository, so that a build anywhere can cite its values, embed its
 * cells and link its provenance without re-running it, and without its trained artifacts.
 *
 *   report/frozen/<profile>/record.json           what was published, where, and on what
 *   report/frozen/<profile>/notebooks/<name>.json  each notebook's executed record (its cells' outputs)
 *
 * Each notebook carries the fingerprint of what its values rest on: its code cells, its
 * parameters, the code it imports (the engine's code fingerprint: local sources and npm
 * versions) and the project's data checksums. A build recomputes it; when it has moved, the
 * values that notebook published are shown as "frozen at <commit>, code changed since".
 * Build outputs (a compiled addon), the lockfile's bytes and the machine's environment
 * variables are left out on purpose: a fresh clone rebuilds those, and that is no reason
 * to distrust a record of the same code and data.
 */

export const FROZEN_FORMAT = 'reprobook.frozen/1';

export interface FrozenNotebook {
  name: string;
  path: string;
  title: string;
  /** freezeFingerprint of the run's cache-key inputs. */
  fingerprint: string;
  /** The run's full cache key, for reference (it also covers the lockfile and build outputs). */
  cacheKey: string;
}

export interface FrozenRecord {
  format: typeof FROZEN_FORMAT;
  /** The project it belongs to (package.json's name, else its folder's). */
  project: string;
  profile: string;
  frozenAt: string;
  /** The commit the run's code was at (`+dirty` when the tree had uncommitted changes), or null outside git. */
  commit: string | null;
  /** Everything the run published: a results file (so `diff` and `verify` read it as one). */
  results: ResultsFile;
  notebooks: FrozenNotebook[];
}

/** A frozen record with its notebooks' executed records. */
export interface FrozenRun {
  record: FrozenRecord;
  executed: ExecutedNotebook[];
  /** Where it was read from. */
  dir: string;
}

/** The inputs of a notebook's cache key that a frozen value rests on (see the module comment). */
const FINGERPRINT_INPUTS = ['format', 'notebook', 'cells', 'params', 'imports', 'data'] as const;

/** The fingerprint of what a notebook's values rest on, from its cache-key inputs. */
export function freezeFingerprint(cacheKeyInputs: Record<string, unknown>): string {
  return hashValue(Object.fromEntries(FINGERPRINT_INPUTS.map((k) => [k, cacheKeyInputs[k] ?? null])));
}

export function frozenDir(root: string, profile: string): string {
  return join(root, 'report', 'frozen', checkProfileName(profile));
}

/** The profiles with a frozen record in this project. */
export async function frozenProfiles(root: string): Promise<string[]> {
  try {
    const entries = await readdir(join(root, 'report', 'frozen'), { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && existsSync(join(root, 'report', 'frozen', e.name, 'record.json'))).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

function bad(file: string, what: string): never {
  throw new UserError(`frozen record ${file}: ${what}`, 'freeze the profile again (`reprobook freeze --profile NAME` after a build of it), or delete the folder to cite no frozen run');
}

/** Check a parsed record.json; every problem names the file and the field. */
export function checkFrozenRecord(value: unknown, file: string, project: string, profile: string): FrozenRecord {
  const v = value as Partial<FrozenRecord> | null;
  if (!v || typeof v !== 'object' || Array.isArray(v)) bad(file, 'not a JSON object');
  if (v.format !== FROZEN_FORMAT) bad(file, `format ${JSON.stringify(v.format)} is not ${FROZEN_FORMAT}`);
  if (v.project !== project) {
    throw new UserError(`frozen record ${file} belongs to project "${String(v.project)}", not to this one ("${project}")`,
      'a frozen record is only valid in the project that made it: remove the folder, or freeze this project\'s own run');
  }
  if (v.profile !== profile) bad(file, `it records profile "${String(v.profile)}" but sits in the folder of "${profile}"`);
  if (typeof v.frozenAt !== 'string') bad(file, '"frozenAt" is missing');
  if (v.commit !== null && typeof v.commit !== 'string') bad(file, '"commit" must be a string or null');
  const r = v.results as Partial<ResultsFile> | undefined;
  if (!r || typeof r !== 'object' || !r.results || typeof r.results !== 'object' || !r.sources || typeof r.sources !== 'object') bad(file, '"results" is not a results file (results, sources)');
  if (!Array.isArray(v.notebooks) || v.notebooks.some((n) => !n || typeof n.name !== 'string' || typeof n.fingerprint !== 'string' || typeof n.path !== 'string')) {
    bad(file, '"notebooks" must list { name, path, title, fingerprint, cacheKey }');
  }
  return v as FrozenRecord;
}

/**
 * The frozen run of `profile`, or null when the project has none. A record that does not
 * parse, belongs to another project or lacks a notebook's executed record is an error
 * naming the file: it never silently counts as "not run".
 */
export async function loadFrozenRun(root: string, profile: string, project?: string): Promise<FrozenRun | null> {
  const dir = frozenDir(root, profile);
  const file = join(dir, 'record.json');
  if (!existsSync(file)) return null;
  const shown = relative(root, file) || file;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    bad(shown, `does not parse (${(err as Error).message})`);
  }
  const record = checkFrozenRecord(parsed, shown, project ?? projectName(root), profile);
  const executed: ExecutedNotebook[] = [];
  for (const nb of record.notebooks) {
    const path = join(dir, 'notebooks', `${nb.name}.json`);
    let ex: Partial<ExecutedNotebook> | null;
    try {
      ex = JSON.parse(await readFile(path, 'utf8')) as Partial<ExecutedNotebook>;
    } catch (err) {
      bad(relative(root, path), `the executed record of notebook ${nb.name} is missing or does not parse (${(err as Error).message})`);
    }
    if (!ex || ex.format !== 'reprobook.executed/1' || !Array.isArray(ex.cells) || ex.notebook?.name !== nb.name) {
      bad(relative(root, path), `not the executed record of notebook ${nb.name}`);
    }
    executed.push(ex as ExecutedNotebook);
  }
  return { record, executed, dir };
}
