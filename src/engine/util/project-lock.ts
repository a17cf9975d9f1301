import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { unlinkSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { processAlive } from './process-alive.ts';

/**
 * One build at a time per project root. Two builds writing the same site raced
 * (`ENOTEMPTY … rmdir _site/assets/katex/fonts`, `EEXIST`/`ENOENT copyfile`): the second
 * build now waits for the first.
 *
 * The lock is the file `.reprobook/build.lock`, created in one atomic step (a complete
 * temporary file hard-linked into place; `link` fails if the name exists), holding the
 * owner's pid, host and a random token. No timers and no mtime refreshes: a build whose
 * event loop is busy for minutes (a training cell) keeps its lock. A lock whose process is
 * gone (a build killed with SIGKILL) is stale and is taken over at once; on another host the
 * pid cannot be checked, so the waiting build says which file to delete.
 */

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
  token: string;
}

export function projectLockPath(root: string): string {
  return join(root, '.reprobook', 'build.lock');
}


async function readHolder(path: string): Promise<LockHolder | null | 'absent'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw err;
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    return typeof h.pid === 'number' && typeof h.token === 'string' ? h : null;
  } catch {
    return null;
  }
}

/** A holder that can no longer release the lock: its process is gone, or the file is damaged. */
function isStale(h: LockHolder | null): boolean {
  return h === null || (h.host === hostname() && !processAlive(h.pid));
}

export interface LockOptions {
  /** What holds the lock, for the message another build prints while it waits. */
  command: string;
  /** Called once when the lock is held by a live build and this one starts waiting. */
  onWait?: (holder: LockHolder, path: string) => void;
  /** How often to look again while waiting (ms). */
  pollMs?: number;
  /** Stop waiting when aborted (a preview whose build is superseded): the wait throws. */
  signal?: AbortSignal;
}

/** Wait for the project lock and take it; resolves to the function that releases it. */
export async function acquireProjectLock(root: string, opts: LockOptions): Promise<() => Promise<void>> {
  const path = projectLockPath(root);
  await mkdir(dirname(path), { recursive: true });
  const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), command: opts.command, token: randomBytes(8).toString('hex') };
  let waited = false;
  for (;;) {
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, JSON.stringify(me));
    try {
      await link(tmp, path);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await unlink(tmp).catch(() => {});
    }
    const holder = await readHolder(path);
    if (holder === 'absent') continue;
    if (isStale(holder)) {
      await takeOverStale(path, holder);
      continue;
    }
    if (!waited) {
      waited = true;
      opts.onWait?.(holder!, path);
    }
    if (opts.signal?.aborted) throw new Error(`stopped waiting for the project lock: ${String(opts.signal.reason)}`);
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
  }
  // A cell may end the process (process.exit) before the build's finally runs.
  const onExit = () => {
    try {
      if ((JSON.parse(readFileSync(path, 'utf8')) as LockHolder).token === me.token) unlinkSync(path);
    } catch {
      // Already gone.
    }
  };
  process.on('exit', onExit);
  return async () => {
    process.off('exit', onExit);
    const h = await readHolder(path);
    if (h !== 'absent' && h !== null && h.token === me.token) await unlink(path).catch(() => {});
  };
}

/**
 * Move a stale lock aside. Two waiting builds may both find the same stale lock; the one
 * whose rename comes second has moved the first one's fresh lock instead, sees a token it
 * did not expect, and puts that lock back.
 */
async function takeOverStale(path: string, seen: LockHolder | null): Promise<void> {
  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch {
    return; // Someone else moved it first.
  }
  const moved = await readHolder(aside);
  const same = seen === null ? moved === null : moved !== 'absent' && moved !== null && moved.token === seen.token;
  if (!same && moved !== null && moved !== 'absent' && !isStale(moved)) await link(aside, path).catch(() => {});
  await unlink(aside).catch(() => {});
}
