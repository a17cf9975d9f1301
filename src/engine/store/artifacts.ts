import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { canonicalJson, sha256 } from '../util/hash.ts';
import { UserError } from '../util/errors.ts';
import { jsonProblem } from '../util/json-value.ts';
import { processAlive } from '../util/process-alive.ts';

/**
 * A content-addressed store for expensive results (trained models, attack outcomes).
 *
 * Why this shape: a run can be killed at any instant (SIGKILL included). Each entry is
 * written into a private temporary directory, its manifest (with the SHA-256 of every
 * file) is written last, and the directory is renamed into place in one atomic step.
 * Readers only ever see complete entries, and verify the hashes before trusting one;
 * a corrupt entry is reported, moved aside and recomputed. Two concurrent writers of the
 * same key both compute, one rename wins, the loser's copy is discarded: no lock needed.
 * That holds across hosts sharing the store on a network file system (a cluster's shards):
 * a temporary directory is named `<id>.<pid>.<host>.<random>`, and only its own host can
 * tell whether the pid is alive.
 *
 * A store may borrow from others, read-only, as git's object alternates do: `alternates.json`
 * in its root lists other stores and, for each, the ids never to take from it. `reprobook
 * verify` uses this to recompute one number's chain of keys in a fresh store while the rest
 * of a notebook reads the user's store: excluded ids are computed anew, the rest is borrowed,
 * and nothing is ever written or quarantined in a borrowed store.
 */

/** Another host's unfinished write is removed only when it is this old: its pid means nothing here. */
const FOREIGN_TMP_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

/** A host name as one file-name segment (no dots, which separate the segments). */
export function hostTag(host: string): string {
  return host.replace(/[^A-Za-z0-9-]/g, '-') || 'host';
}

/** What determines an artifact: its kind and every input that can change its content. */
export interface ArtifactKey {
  kind: string;
  inputs: Record<string, unknown>;
}

export interface ArtifactManifest {
  id: string;
  key: ArtifactKey;
  createdAt: string;
  /** File name (relative to the entry directory) to SHA-256. */
  files: Record<string, string>;
}

export interface ArtifactEntry {
  id: string;
  dir: string;
  manifest: ArtifactManifest;
}

export type ArtifactEvent =
  /** `borrowedFrom`: the hit was read from an alternate store (its root), not this one. */
  | { type: 'hit'; id: string; kind: string; borrowedFrom?: string }
  | { type: 'miss'; id: string; kind: string }
  | { type: 'stored'; id: string; kind: string }
  /** An entry its writer no longer wants (e.g. a training snapshot superseded by the next). */
  | { type: 'removed'; id: string; kind: string }
  | { type: 'corrupt'; id: string; kind: string; reason: string; movedTo: string | null };

/** The one line a quarantine is reported with (by default on stderr; a notebook prints it above its cell). */
export function describeCorrupt(e: Extract<ArtifactEvent, { type: 'corrupt' }>): string {
  return `artifact ${e.kind} ${e.id.slice(0, 12)} is corrupt (${e.reason}); ${e.movedTo ? `moved to ${e.movedTo}` : 'removed'}; recomputing\n`;
}

/** Without a handler of its own, a store still says when it quarantines an entry: silence there hid tampering. */
function defaultOnEvent(e: ArtifactEvent): void {
  if (e.type === 'corrupt') process.stderr.write(describeCorrupt(e));
}

const MANIFEST = 'artifact.json';
const ALTERNATES = 'alternates.json';

/** Another store this one reads from (never writes to), except for the ids in `exclude`. */
export interface AlternateStore {
  root: string;
  exclude: string[];
}

/** Make the store at `root` borrow from `alternates` (written before any reader opens it). */
export async function writeAlternates(root: string, alternates: AlternateStore[]): Promise<void> {
  for (const a of alternates) if (!isAbsolute(a.root)) throw new Error(`alternate store ${a.root} must be an absolute path`);
  await mkdir(root, { recursive: true });
  await writeFile(join(root, ALTERNATES), JSON.stringify({ stores: alternates }, null, 2));
}

async function readAlternates(root: string): Promise<Array<{ root: string; exclude: Set<string> }>> {
  let text: string;
  try {
    text = await readFile(join(root, ALTERNATES), 'utf8');
  } catch {
    return [];
  }
  let stores: unknown;
  try {
    stores = (JSON.parse(text) as { stores?: unknown }).stores;
  } catch (err) {
    throw new UserError(`${join(root, ALTERNATES)} is not JSON (${(err as Error).message})`, 'delete the file: the store then reads only its own entries');
  }
  const valid = Array.isArray(stores) && stores.every((a) => a && typeof a.root === 'string' && isAbsolute(a.root) && Array.isArray(a.exclude) && a.exclude.every((x: unknown) => typeof x === 'string'));
  if (!valid) throw new UserError(`${join(root, ALTERNATES)} is malformed`, 'it must be { "stores": [{ "root": "/absolute/path", "exclude": ["<id>", ...] }] }, or be deleted');
  return (stores as AlternateStore[]).map((a) => ({ root: a.root, exclude: new Set(a.exclude) }));
}

export function artifactId(key: ArtifactKey): string {
  return sha256(canonicalJson(key));
}

/**
 * The artifact ids that several values rest on together (their chains of keys): the union,
 * sorted, or null when any chain is unknown (null or undefined), because a partial chain would
 * let `reprobook verify` reuse what it must recompute.
 */
export function unionOfChains(chains: ReadonlyArray<readonly string[] | null | undefined>): string[] | null {
  if (chains.some((c) => !c)) return null;
  return [...new Set(chains.flatMap((c) => c!))].sort();
}

async function olderThan(path: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs > ms;
  } catch {
    return false;
  }
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (e.isFile() && rel !== MANIFEST) out.push(rel);
  }
  return out.sort();
}


export class ArtifactStore {
  readonly root: string;
  private readonly onEvent: (e: ArtifactEvent) => void;

  private readonly host: string;
  private alternates: Promise<Array<{ root: string; exclude: Set<string> }>> | undefined;

  /** `host` names this writer in temporary directories (default: the machine's host name). */
  constructor(root: string, options: { onEvent?: (e: ArtifactEvent) => void; host?: string } = {}) {
    this.root = root;
    this.onEvent = options.onEvent ?? defaultOnEvent;
    this.host = hostTag(options.host ?? hostname());
  }

  dirFor(id: string, root = this.root): string {
    return join(root, 'objects', id.slice(0, 2), id);
  }

  /** The ids of the entries this store itself holds (not its alternates'), verified or not. */
  async ids(): Promise<string[]> {
    let prefixes: string[];
    try {
      prefixes = await readdir(join(this.root, 'objects'));
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const p of prefixes) for (const id of await readdir(join(this.root, 'objects', p)).catch(() => [])) if (/^[0-9a-f]{64}$/.test(id)) out.push(id);
    return out.sort();
  }

  /** Whether this store itself (not an alternate) holds a complete entry for `id`. */
  async holds(id: string): Promise<boolean> {
    return (await this.verify(id, this.dirFor(id)).catch(() => 'unreadable')) === null;
  }

  /**
   * A verified entry, or null when absent. A corrupt entry is moved aside and reported. An
   * entry found only in an alternate store carries `borrowedFrom`; a corrupt one there is
   * left alone (the store is not ours) and counts as absent.
   */
  async get(key: ArtifactKey): Promise<(ArtifactEntry & { borrowedFrom?: string }) | null> {
    const id = artifactId(key);
    const dir = this.dirFor(id);
    try {
      await stat(dir);
    } catch {
      return this.borrow(id);
    }
    const problem = await this.verify(id, dir);
    if (problem === null) {
      const manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as ArtifactManifest;
      return { id, dir, manifest };
    }
    // Reported by the process that moved it aside, so that concurrent readers say it once.
    const movedTo = await this.quarantine(dir);
    if (movedTo !== undefined) this.onEvent({ type: 'corrupt', id, kind: key.kind, reason: problem, movedTo });
    return null;
  }

  private async borrow(id: string): Promise<(ArtifactEntry & { borrowedFrom: string }) | null> {
    this.alternates ??= readAlternates(this.root);
    for (const alt of await this.alternates) {
      if (alt.exclude.has(id)) continue;
      const dir = this.dirFor(id, alt.root);
      if ((await this.verify(id, dir).catch(() => 'unreadable')) !== null) continue;
      const manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as ArtifactManifest;
      return { id, dir, manifest, borrowedFrom: alt.root };
    }
    return null;
  }

  /** Why the entry at `dir` cannot be trusted, or null when every file matches its manifest. */
  async verify(id: string, dir: string): Promise<string | null> {
    let manifest: ArtifactManifest;
    try {
      manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as ArtifactManifest;
    } catch (err) {
      return `manifest ${MANIFEST} unreadable (${(err as Error).message})`;
    }
    if (manifest.id !== id) return `manifest id ${manifest.id} does not match ${id}`;
    const present = await listFiles(dir);
    const expected = Object.keys(manifest.files).sort();
    if (present.join('\n') !== expected.join('\n')) {
      return `files differ from manifest (have ${present.join(', ')}; expected ${expected.join(', ')})`;
    }
    for (const name of expected) {
      const digest = sha256(await readFile(join(dir, name)));
      if (digest !== manifest.files[name]) return `${name}: sha256 ${digest} != manifest ${manifest.files[name]}`;
    }
    return null;
  }

  /** Where the entry went (null: deleted), or undefined when another process moved it first. */
  private async quarantine(dir: string): Promise<string | null | undefined> {
    const dest = join(this.root, 'corrupt', `${Date.now()}-${randomBytes(4).toString('hex')}`);
    await mkdir(join(this.root, 'corrupt'), { recursive: true });
    try {
      await rename(dir, dest);
      return dest;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      await rm(dir, { recursive: true, force: true });
      return null;
    }
  }

  /**
   * Store an entry: `write` fills a fresh temporary directory; the manifest is written
   * last and the directory renamed into place atomically.
   */
  async put(key: ArtifactKey, write: (dir: string) => Promise<void>): Promise<ArtifactEntry> {
    const id = artifactId(key);
    const tmp = join(this.root, 'tmp', `${id}.${process.pid}.${this.host}.${randomBytes(6).toString('hex')}`);
    await mkdir(tmp, { recursive: true });
    try {
      await write(tmp);
      const files: Record<string, string> = {};
      for (const name of await listFiles(tmp)) files[name] = sha256(await readFile(join(tmp, name)));
      const manifest: ArtifactManifest = { id, key, createdAt: new Date().toISOString(), files };
      await writeFile(join(tmp, MANIFEST), JSON.stringify(manifest, null, 2));
      const dir = this.dirFor(id);
      await mkdir(join(dir, '..'), { recursive: true });
      try {
        await rename(tmp, dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        // Someone else stored the same key first; theirs is as good as ours if it verifies.
        await rm(tmp, { recursive: true, force: true });
        const existing = await this.get(key);
        if (existing) return existing;
        return this.put(key, write);
      }
      this.onEvent({ type: 'stored', id, kind: key.kind });
      return { id, dir, manifest };
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Remove this store's entry for `key` (never an alternate's), when it is no longer wanted:
   * renamed into tmp/ first, as a dead writer's folder, so a kill midway leaves nothing a
   * reader could take for an entry. True when there was one.
   */
  async remove(key: ArtifactKey): Promise<boolean> {
    const id = artifactId(key);
    const trash = join(this.root, 'tmp', `${id}.${process.pid}.${this.host}.${randomBytes(6).toString('hex')}`);
    await mkdir(join(this.root, 'tmp'), { recursive: true });
    try {
      await rename(this.dirFor(id), trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    await rm(trash, { recursive: true, force: true });
    this.onEvent({ type: 'removed', id, kind: key.kind });
    return true;
  }

  /** The entry for `key`, computing and storing it on a miss. */
  async getOrCreate(key: ArtifactKey, write: (dir: string) => Promise<void>): Promise<ArtifactEntry & { hit: boolean }> {
    const found = await this.get(key);
    if (found) {
      this.onEvent(found.borrowedFrom ? { type: 'hit', id: found.id, kind: key.kind, borrowedFrom: found.borrowedFrom } : { type: 'hit', id: found.id, kind: key.kind });
      return { ...found, hit: true };
    }
    this.onEvent({ type: 'miss', id: artifactId(key), kind: key.kind });
    return { ...(await this.put(key, write)), hit: false };
  }

  /**
   * Remove temporary directories left by writers that died (a SIGKILLed run leaves its
   * half-written entry in tmp/). Only directories whose writer process is gone are removed,
   * so a concurrent live writer is never disturbed: on this host by its pid, on another host
   * (a shared store) only after a week. Returns how many were removed.
   */
  async cleanStaleTmp(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(join(this.root, 'tmp'));
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names) {
      const [, pidText, host] = name.split('.');
      const pid = Number(pidText);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      // Entries from before host names were recorded have 3 segments: treat them as local.
      const local = host === this.host || name.split('.').length === 3;
      if (local ? pid === process.pid || processAlive(pid) : !(await olderThan(join(this.root, 'tmp', name), FOREIGN_TMP_MAX_AGE_MS))) continue;
      await rm(join(this.root, 'tmp', name), { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  /**
   * Memoise a JSON value under `key`. The value returned is always the stored JSON read
   * back, on a miss as on a hit, so that a run that computes it and a run that reuses it
   * see the same thing; a value JSON would change is refused (storableJson).
   */
  async memoJson<T>(key: ArtifactKey, compute: () => Promise<T>): Promise<T> {
    const entry = await this.getOrCreate(key, async (dir) => {
      await writeFile(join(dir, 'value.json'), storableJson(await compute(), `artifacts.memoJson(kind '${key.kind}'): the value`));
    });
    return JSON.parse(await readFile(join(entry.dir, 'value.json'), 'utf8')) as T;
  }
}

/**
 * The one rule for a JSON value kept in the store (memoJson's values, the grid's unit results):
 * a value JSON would change (NaN, a typed array, a Map, a Date…) is refused before anything is
 * stored, naming its first offending part, since it would be one thing on the run that computed
 * it and another on every run that reads it back. `what` starts the message. Returns the text.
 */
export function storableJson(value: unknown, what: string): string {
  const problem = jsonProblem(value);
  if (problem !== null) {
    throw new UserError(
      `${what} cannot be stored as JSON unchanged: ${problem}`,
      'return plain JSON (objects, arrays, strings, finite numbers, booleans, null): Array.from(typedArray), Object.fromEntries(map), null or a string for NaN; store binary data with getOrCreate',
    );
  }
  return JSON.stringify(value);
}
