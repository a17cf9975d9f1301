import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveShard } from '../src/engine/grid/cluster-shard.ts';
import { UserError } from '../src/engine/util/errors.ts';

/** Issue 14, item 6: the shard a task runs, read from Slurm's or Kubernetes' variables. */

const shardOf = (env: Record<string, string>, flag?: string, count?: string) => {
  const r = resolveShard({ env, ...(flag !== undefined ? { flag } : {}), ...(count !== undefined ? { count } : {}) });
  return r ? `${r.shard.index}/${r.shard.count} from ${r.source}` : 'none';
};

test('Slurm job arrays: the task id counts from the array minimum, the count is the array size', () => {
  // --array=0-3: ids 0..3 are shards 1/4..4/4; --array=1-4 the same shards.
  assert.equal(shardOf({ SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_COUNT: '4' }), '1/4 from Slurm job array');
  assert.equal(shardOf({ SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_COUNT: '4' }), '4/4 from Slurm job array');
  assert.equal(shardOf({ SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '4' }), '1/4 from Slurm job array');
  assert.equal(shardOf({ SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '4' }), '4/4 from Slurm job array');
  // Every task of an array gets a different shard, and together they cover 1..n.
  const shards = [10, 11, 12].map((id) => shardOf({ SLURM_ARRAY_TASK_ID: String(id), SLURM_ARRAY_TASK_MIN: '10', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_STEP: '1' }));
  assert.deepEqual(shards, ['1/3 from Slurm job array', '2/3 from Slurm job array', '3/3 from Slurm job array']);
});

test('Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX is 0-based, the count comes from --shard-count or REPROBOOK_SHARD_COUNT', () => {
  assert.equal(shardOf({ JOB_COMPLETION_INDEX: '0' }, undefined, '3'), '1/3 from Kubernetes indexed job');
  assert.equal(shardOf({ JOB_COMPLETION_INDEX: '2', REPROBOOK_SHARD_COUNT: '3' }), '3/3 from Kubernetes indexed job');
  assert.equal(shardOf({ JOB_COMPLETION_INDEX: '2', REPROBOOK_SHARD_COUNT: '9' }, undefined, '3'), '3/3 from Kubernetes indexed job', 'the flag wins over the variable');
});

test('the --shard flag wins over the scheduler; nothing set means no sharding', () => {
  assert.equal(shardOf({ SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' }, '2/5'), '2/5 from --shard');
  assert.equal(shardOf({ JOB_COMPLETION_INDEX: '1' }, '1/2', '2'), '1/2 from --shard');
  assert.equal(shardOf({}), 'none');
  assert.equal(shardOf({ SLURM_JOB_ID: '77' }), 'none', 'a plain Slurm job (no array) runs the whole grid');
});

test('bad or inconsistent values are named with the fix', () => {
  const fails = (env: Record<string, string>, re: RegExp, flag?: string, count?: string) =>
    assert.throws(() => resolveShard({ env, ...(flag !== undefined ? { flag } : {}), ...(count !== undefined ? { count } : {}) }), (e: unknown) => e instanceof UserError && re.test(e.message) && !!e.hint);
  fails({ SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_COUNT: '4' }, /SLURM_ARRAY_TASK_ID=5 \(array from 0, 4 tasks\) is not a shard/);
  fails({ SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_STEP: '2' }, /step of 2/);
  fails({ SLURM_ARRAY_TASK_ID: 'x', SLURM_ARRAY_TASK_COUNT: '4' }, /SLURM_ARRAY_TASK_ID is "x", not a whole number/);
  fails({ SLURM_ARRAY_TASK_ID: '1' }, /not SLURM_ARRAY_TASK_COUNT/);
  fails({ JOB_COMPLETION_INDEX: '0' }, /number of shards is not known/);
  fails({ JOB_COMPLETION_INDEX: '3', REPROBOOK_SHARD_COUNT: '3' }, /JOB_COMPLETION_INDEX=3 \(3 completions\) is not a shard/);
  fails({}, /--shard 1\/2 and --shard-count 3 disagree/, '1/2', '3');
  fails({}, /--shard-count without a shard index/, undefined, '3');
  fails({}, /--shard-count is 0/, undefined, '0');
  fails({}, /invalid shard "3\/2"/, '3/2');
});
