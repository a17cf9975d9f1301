import { UserError } from '../util/errors.ts';
import { parseShard } from './shard.ts';
import type { ShardSpec } from './unit.ts';

/**
 * Which shard this process is, from the flag or from the scheduler that started it, so that
 * a Slurm job array or a Kubernetes Indexed Job runs `reprobook experiment` unchanged in every
 * task. Pure: the CLI passes the environment in.
 *
 * - `--shard i/n` wins over everything (and must agree with `--shard-count` if both are given).
 * - Slurm job arrays: SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT; the index counts from
 *   SLURM_ARRAY_TASK_MIN (an array `--array=0-3` or `1-4` is shards 1/4 to 4/4). Arrays with a
 *   step (`--array=0-6:2`) are refused: their ids are not consecutive.
 * - Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX (0-based) gives the index; Kubernetes does not
 *   export the completion count, so it comes from `--shard-count` (or REPROBOOK_SHARD_COUNT,
 *   which the CLI reads from the same environment).
 */

export interface ShardSources {
  /** `--shard i/n` as typed. */
  flag?: string;
  /** `--shard-count n`. */
  count?: string;
  env: Record<string, string | undefined>;
}

export interface ResolvedShard {
  shard: ShardSpec;
  /** Where it came from, for the log line: `--shard`, `Slurm job array`, `Kubernetes indexed job`. */
  source: string;
}

const int = (value: string, what: string, fix: string): number => {
  if (!/^\s*\d+\s*$/.test(value)) throw new UserError(`${what} is "${value}", not a whole number`, fix);
  return Number(value);
};

export function resolveShard(s: ShardSources): ResolvedShard | undefined {
  const countFlag = s.count !== undefined ? int(s.count, '--shard-count', 'pass the number of shards, e.g. --shard-count 4') : undefined;
  if (countFlag !== undefined && countFlag < 1) throw new UserError(`--shard-count is ${countFlag}`, 'the number of shards is at least 1');
  if (s.flag !== undefined) {
    const shard = parseShard(s.flag);
    if (countFlag !== undefined && countFlag !== shard.count) {
      throw new UserError(`--shard ${s.flag} and --shard-count ${countFlag} disagree`, 'give one of them, or the same count in both');
    }
    return { shard, source: '--shard' };
  }
  const env = s.env;
  if (env.SLURM_ARRAY_TASK_ID !== undefined) {
    const hint = 'submit the experiment as a job array, e.g. sbatch --array=1-4 (see the README, "Running on a cluster")';
    const id = int(env.SLURM_ARRAY_TASK_ID, 'SLURM_ARRAY_TASK_ID', hint);
    const min = env.SLURM_ARRAY_TASK_MIN !== undefined ? int(env.SLURM_ARRAY_TASK_MIN, 'SLURM_ARRAY_TASK_MIN', hint) : 0;
    const step = env.SLURM_ARRAY_TASK_STEP !== undefined ? int(env.SLURM_ARRAY_TASK_STEP, 'SLURM_ARRAY_TASK_STEP', hint) : 1;
    if (step !== 1) throw new UserError(`the Slurm job array has a step of ${step}: its task ids are not consecutive shards`, 'submit it without a step, e.g. --array=1-4');
    const count = countFlag ?? (env.SLURM_ARRAY_TASK_COUNT !== undefined ? int(env.SLURM_ARRAY_TASK_COUNT, 'SLURM_ARRAY_TASK_COUNT', hint) : undefined);
    if (count === undefined) throw new UserError('SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT', 'pass --shard-count with the number of array tasks');
    return { shard: checked(id - min + 1, count, `SLURM_ARRAY_TASK_ID=${id} (array from ${min}, ${count} tasks)`), source: 'Slurm job array' };
  }
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    const hint = 'set completions in the Indexed Job and pass the same number as --shard-count (or REPROBOOK_SHARD_COUNT)';
    const index = int(env.JOB_COMPLETION_INDEX, 'JOB_COMPLETION_INDEX', hint);
    const count = countFlag ?? (env.REPROBOOK_SHARD_COUNT !== undefined ? int(env.REPROBOOK_SHARD_COUNT, 'REPROBOOK_SHARD_COUNT', hint) : undefined);
    if (count === undefined) throw new UserError('JOB_COMPLETION_INDEX is set but the number of shards is not known (Kubernetes does not export it)', hint);
    return { shard: checked(index + 1, count, `JOB_COMPLETION_INDEX=${index} (${count} completions)`), source: 'Kubernetes indexed job' };
  }
  if (countFlag !== undefined) throw new UserError('--shard-count without a shard index', 'pass --shard i/n, or run under a Slurm job array or a Kubernetes Indexed Job, which give the index');
  return undefined;
}

function checked(index: number, count: number, what: string): ShardSpec {
  if (count < 1 || index < 1 || index > count) {
    throw new UserError(`${what} is not a shard between 1/${count} and ${count}/${count}`, 'check the array range and the shard count: the array must have exactly as many tasks as shards');
  }
  return { index, count };
}
