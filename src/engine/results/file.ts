import { readFile } from 'node:fs/promises';
import type { ResultsFile } from '../core/records.ts';
import { UserError } from '../util/errors.ts';

export type { ResultsFile, ResultSource } from '../core/records.ts';

/**
 * The one reader of a results file (`.reprobook/results/<profile>.json`, a site's
 * results.json, a saved build, a frozen record's): checked on the way in, so that a file cut
 * short or hand-edited is an error naming it, never a run whose values are silently absent.
 */
export function checkResultsFile(value: unknown, what: string): ResultsFile {
  const v = value as Partial<ResultsFile> | null;
  if (!v || typeof v !== 'object' || !v.results || typeof v.results !== 'object' || Array.isArray(v.results)) {
    throw new UserError(`${what} is not a results file: it has no "results" object`, 'pass a results.json written by reprobook (e.g. _site/results.json), a profile name, or PROFILE~N');
  }
  if (v.sources !== undefined && (typeof v.sources !== 'object' || v.sources === null || Array.isArray(v.sources))) {
    throw new UserError(`${what} is not a results file: its "sources" is not an object`, 'rebuild it (reprobook build)');
  }
  return { sources: {}, ...v } as ResultsFile;
}

/** Read and check a results file; a missing file is null, an unreadable or malformed one an error naming it. */
export async function readResultsFile(path: string, what: string): Promise<ResultsFile | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UserError(`cannot read ${what}: ${(err as Error).message}`, 'check the path');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${what} is not valid JSON: ${(err as Error).message}`, 'pass a results.json written by reprobook, or rebuild to rewrite it');
  }
  return checkResultsFile(parsed, what);
}
