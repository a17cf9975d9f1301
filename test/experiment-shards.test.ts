import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, buildIn, projectCopy } from '../src/flagship/bench/project-copy.ts';

/**
 * Issue 7's "beyond one machine": two shards of the real smoke grid, run one after the
 * other into one artifact store (as two machines sharing it would), cover the grid; the
 * unsharded build afterwards computes no unit and only assembles the report.
 */
function experiment(root: string, args: string[] = [], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/engine/cli/main.ts'), 'experiment', '--root', root, '--profile', 'smoke', ...args], {
    cwd: root, encoding: 'utf8', env: { ...process.env, REPROBOOK_BACKEND: 'wasm', ...env }, timeout: 10 * 60_000,
  });
  return { ...r, log: `${r.stdout}\n${r.stderr}` };
}

const ranCount = (log: string) => Number(/grid: (\d+) ran/.exec(log)?.[1] ?? NaN);

test('shards 1/2 and 2/2 of the smoke grid fill the store; the unsharded build only assembles', { timeout: 20 * 60_000 }, async () => {
  const root = await projectCopy();
  try {
    const a = experiment(root, ['--shard', '1/2']);
    assert.equal(a.status, 0, a.log.slice(-3000));
    assert.match(a.log, /shard 1\/2 \(--shard\)/);
    // The second "machine" is task 1 of a Slurm array --array=0-1: the shard comes from the environment.
    const b = experiment(root, [], { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_COUNT: '2' });
    assert.equal(b.status, 0, b.log.slice(-3000));
    assert.match(b.log, /shard 2\/2 \(Slurm job array\)/);
    assert.ok(ranCount(a.log) > 0 && ranCount(b.log) > 0, `both shards do work (${ranCount(a.log)}, ${ranCount(b.log)})`);
    const again = experiment(root);
    assert.equal(again.status, 0, again.log.slice(-3000));
    assert.equal(ranCount(again.log), 0, 'after both shards, the whole grid is stored');
    const built = buildIn(root, ['--profile', 'smoke', '--no-pdf'], { ...process.env, REPROBOOK_BACKEND: 'wasm' });
    assert.equal(built.status, 0, built.log.slice(-3000));
    assert.doesNotMatch(built.log, /experiment: done in [\d.]+s — [1-9]\d* ran/, 'the notebooks compute no grid unit');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
