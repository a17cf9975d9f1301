import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readResultsFile, type ResultsFile } from '../results/file.ts';
import { resultsPath } from '../store/executed.ts';
import { UserError } from '../util/errors.ts';
import { isSimpleName } from '../util/names.ts';
import { listSaved } from './history.ts';
import { frozenProfiles, loadFrozenRun } from '../freeze/record.ts';

/**
 * What `reprobook diff` compares, from what the user typed:
 *   - a path to a results.json file (`_site/results.json`, an attachment from a colleague);
 *   - a profile name (`quick`): that profile's results in the store now;
 *   - `PROFILE~N`: the results the N-th most recent build of that profile reported (`quick~1`
 *     is the last build, `quick~2` the one before), kept by `reprobook build`;
 *   - `frozen:PROFILE`: the profile's frozen run committed in report/frozen/ (freeze/record.ts).
 */

export interface LoadedRun {
  label: string;
  file: ResultsFile;
}

/** A results file that must exist (the user named it). */
async function mustRead(path: string, what: string): Promise<ResultsFile> {
  const file = await readResultsFile(path, what);
  if (!file) throw new UserError(`${what} does not exist (${path})`, 'pass the path of a results.json, a profile name, or PROFILE~N');
  return file;
}

async function knownProfiles(root: string): Promise<string[]> {
  const names = new Set<string>();
  for (const d of ['results', 'history']) {
    try {
      for (const f of await readdir(join(root, '.reprobook', d))) names.add(f.replace(/\.json$/, ''));
    } catch {
      // No runs of that kind yet.
    }
  }
  return [...names].sort();
}

export async function loadRun(root: string, arg: string, cwd: string = process.cwd()): Promise<LoadedRun> {
  if (arg.startsWith('frozen:')) {
    const name = arg.slice('frozen:'.length);
    if (!isSimpleName(name)) throw new UserError(`"${arg}": "${name}" is not a profile name`, 'e.g. reprobook diff frozen:paper-headline paper-headline');
    const frozen = await loadFrozenRun(root, name);
    if (!frozen) throw new UserError(`no frozen run of profile "${name}" in ${join(root, 'report', 'frozen')}`, `frozen runs here: ${(await frozenProfiles(root)).join(', ') || 'none'} (reprobook freeze --profile ${name} makes one)`);
    return { label: `${arg} (frozen at ${frozen.record.commit?.slice(0, 12) ?? 'no commit'})`, file: frozen.record.results };
  }
  if (arg.endsWith('.json') || arg.includes('/')) {
    const path = resolve(cwd, arg);
    if (!existsSync(path)) throw new UserError(`results file ${arg} does not exist`, 'pass the path of a results.json, a profile name, or PROFILE~N');
    return { label: arg, file: await mustRead(path, `results file ${arg}`) };
  }
  const m = /^([^~]+)(?:~(\d+))?$/.exec(arg);
  const name = m?.[1] ?? '';
  if (!m || !isSimpleName(name)) {
    throw new UserError(`"${arg}" is neither a results file, a profile name nor PROFILE~N`, 'e.g. reprobook diff quick~2 quick, or reprobook diff old/results.json _site/results.json');
  }
  const profile = name === 'default' ? null : name;
  const known = async () => `profiles with runs here: ${(await knownProfiles(root)).join(', ') || 'none (run reprobook build first)'}`;
  if (m[2] === undefined) {
    const path = resultsPath(root, profile);
    if (!existsSync(path)) throw new UserError(`no run of profile "${name}" in ${join(root, '.reprobook')}`, `run \`reprobook build --profile ${name}\` first; ${await known()}`);
    return { label: name, file: await mustRead(path, `the results of profile ${name}`) };
  }
  const n = Number(m[2]);
  const saved = await listSaved(root, profile);
  if (n < 1 || n > saved.length) {
    throw new UserError(`${arg}: profile "${name}" has ${saved.length} saved build${saved.length === 1 ? '' : 's'}`, saved.length ? `use ${name}~1 (the last build) to ${name}~${saved.length}` : `build it first (\`reprobook build --profile ${name}\`); ${await known()}`);
  }
  return { label: arg, file: await mustRead(saved[n - 1]!, `saved build ${arg}`) };
}
