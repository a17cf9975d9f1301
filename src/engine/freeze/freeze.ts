import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loadProjectConfig } from '../notebook/config.ts';
import { parseNotebook } from '../notebook/markdown-format.ts';
import { resolveParams, validateRequest } from '../notebook/params.ts';
import { computeCacheKey } from '../notebook/cache.ts';
import { withProjectParameters } from '../notebook/project.ts';
import { gitState } from '../core/environment.ts';
import { buildResults, executedPath, listNotebooks, readExecutedRecord } from '../store/executed.ts';
import { UserError } from '../util/errors.ts';
import { projectName } from '../core/project.ts';
import { FROZEN_FORMAT, freezeFingerprint, frozenDir, type FrozenRecord, type FrozenRun } from './record.ts';

/**
 * `reprobook freeze`: write a profile's run into the repository (record.ts), and tell which of
 * a frozen run's notebooks the code has moved past since.
 */

/** What each notebook of the project would rest on now, under `profile`: its freeze fingerprint. */
export async function currentFingerprints(root: string, profile: string, env: Record<string, string | undefined>): Promise<Map<string, { fingerprint: string; path: string; title: string }>> {
  const config = await loadProjectConfig(root);
  const files = await listNotebooks(root);
  const docs = [];
  for (const f of files) docs.push(withProjectParameters(await parseNotebook(f.file, f.path), config));
  const request = { profile, overrides: {} };
  validateRequest(config, docs, request);
  const out = new Map<string, { fingerprint: string; path: string; title: string }>();
  for (const doc of docs) {
    const { inputs } = await computeCacheKey(root, doc, resolveParams(config, doc, request), config, env);
    out.set(doc.name, { fingerprint: freezeFingerprint(inputs), path: doc.path, title: doc.frontMatter.title });
  }
  return out;
}

export interface FreezeOptions {
  env?: Record<string, string | undefined>;
  now?: Date;
}

/**
 * Freeze the last good run of `profile`: every notebook of the project must have one, and it
 * must be a run of the code and data as they are now (else the record would be stale the
 * moment it is written). The folder is replaced in one rename; nothing is written on refusal.
 */
export async function freezeProfile(root: string, profile: string, opts: FreezeOptions = {}): Promise<{ dir: string; record: FrozenRecord }> {
  const env = opts.env ?? { ...process.env };
  const now = await currentFingerprints(root, profile, env);
  const problems: string[] = [];
  const notebooks: FrozenRecord['notebooks'] = [];
  const executed = [];
  for (const [name, current] of now) {
    const good = await readExecutedRecord(executedPath(root, profile, name));
    if (!good || good.status !== 'ok') {
      problems.push(`${name}: no good run of profile ${profile}`);
      continue;
    }
    const fingerprint = freezeFingerprint(good.cacheKeyInputs);
    if (fingerprint !== current.fingerprint) {
      problems.push(`${name}: its last run (${good.startedAt}) is of older code, parameters or data`);
      continue;
    }
    notebooks.push({ name, path: current.path, title: current.title, fingerprint, cacheKey: good.cacheKey });
    executed.push(good);
  }
  if (problems.length > 0) {
    throw new UserError(`cannot freeze profile ${profile}: ${problems.join('; ')}`, `run \`reprobook build --profile ${profile}\` (it re-runs only what changed), then freeze again`);
  }
  const git = gitState(root);
  const record: FrozenRecord = {
    format: FROZEN_FORMAT,
    project: projectName(root),
    profile,
    frozenAt: (opts.now ?? new Date()).toISOString(),
    commit: git ? `${git.commit}${git.dirty ? '+dirty' : ''}` : null,
    results: await buildResults(root, profile),
    notebooks,
  };
  const dir = frozenDir(root, profile);
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await mkdir(join(tmp, 'notebooks'), { recursive: true });
  try {
    await writeFile(join(tmp, 'record.json'), `${JSON.stringify(record, null, 1)}\n`);
    for (const ex of executed) await writeFile(join(tmp, 'notebooks', `${ex.notebook.name}.json`), `${JSON.stringify(ex, null, 1)}\n`);
    const old = `${dir}.old-${process.pid}-${randomBytes(4).toString('hex')}`;
    await rename(dir, old).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });
    await rename(tmp, dir);
    await rm(old, { recursive: true, force: true });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return { dir, record };
}

/** Which of a frozen run's notebooks rest on code, parameters or data that have changed since (or no longer exist). */
export async function frozenStaleness(root: string, run: FrozenRun, env: Record<string, string | undefined> = { ...process.env }): Promise<Set<string>> {
  let now: Awaited<ReturnType<typeof currentFingerprints>>;
  try {
    now = await currentFingerprints(root, run.record.profile, env);
  } catch (err) {
    // The profile itself is gone from the config: every value of it is stale.
    if (err instanceof UserError) return new Set(run.record.notebooks.map((n) => n.name));
    throw err;
  }
  return new Set(run.record.notebooks.filter((n) => now.get(n.name)?.fingerprint !== n.fingerprint).map((n) => n.name));
}
