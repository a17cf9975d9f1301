import { rm, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchRecord, BenchSuite } from './types.ts';
import { buildIn, projectCopy } from './project-copy.ts';

/**
 * Wall time of the whole pipeline with the smoke profile (every notebook from an empty
 * store, site and PDF), then of a rebuild after a prose-only edit (every notebook cached):
 * the two numbers a user waits for. Runs on the default backend; --backend is ignored.
 */
export const run: BenchSuite = async function* (): AsyncGenerator<BenchRecord> {
  const root = await projectCopy();
  try {
    let t0 = Date.now();
    const first = buildIn(root, ['--profile', 'smoke']);
    if (first.status !== 0) throw new Error(`smoke build failed:\n${first.log.slice(-2000)}`);
    yield { bench: 'smoke-profile-build', value: (Date.now() - t0) / 1000, unit: 's', note: 'all notebooks from an empty artifact store, site and PDF' };
    const nb = join(root, 'notebooks', '02-baseline.md');
    await writeFile(nb, `${await readFile(nb, 'utf8')}\nA prose edit.\n`);
    t0 = Date.now();
    const second = buildIn(root, ['--profile', 'smoke']);
    if (second.status !== 0) throw new Error(`rebuild failed:\n${second.log.slice(-2000)}`);
    yield { bench: 'rebuild-after-prose-edit', value: (Date.now() - t0) / 1000, unit: 's', note: 'every notebook cached; site and PDF rebuilt' };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
};
