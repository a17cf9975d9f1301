import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { ResultsFile } from '../core/records.ts';
import { profileDir } from '../store/executed.ts';

/**
 * Every build keeps the results it reported, with their provenance, under
 * `.reprobook/history/<profile>/<time>.json` (the last KEEP of each profile), so that
 * `reprobook diff` can compare the current run with an earlier one after the store moved on.
 */

export const KEEP = 20;

export function historyDir(root: string, profile: string | null): string {
  return join(root, '.reprobook', 'history', profileDir(profile));
}

/** Saved builds of a profile, newest first (file names sort by time). */
export async function listSaved(root: string, profile: string | null): Promise<string[]> {
  try {
    return (await readdir(historyDir(root, profile))).filter((f) => f.endsWith('.json')).sort().reverse().map((f) => join(historyDir(root, profile), f));
  } catch {
    return [];
  }
}

export async function saveBuild(root: string, file: ResultsFile, builtAt: string): Promise<string> {
  const dir = historyDir(root, file.profile ?? null);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${builtAt.replace(/[:.]/g, '-')}.json`);
  // Atomic: a build killed while saving must not leave a cut file that the next one reads.
  await writeFileAtomic(path, `${JSON.stringify(file, null, 1)}\n`);
  for (const old of (await listSaved(root, file.profile ?? null)).slice(KEEP)) await rm(old, { force: true });
  return path;
}
