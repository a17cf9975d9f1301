import { UserError } from '../util/errors.ts';
import type { GridUnit, ShardSpec } from './types.ts';

/**
 * `--shard i/n`: which units this machine runs. The assignment depends only on the unit
 * list (ids, groups, costs), never on timing or on what is in the store, so n machines
 * given the same grid agree on it without talking to each other.
 */

const HINT = 'write the shard as i/n with 1 <= i <= n, e.g. --shard 2/4';

export function parseShard(spec: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(String(spec));
  if (!m) throw new UserError(`invalid shard "${spec}": expected i/n`, HINT);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!Number.isSafeInteger(count) || count < 1) throw new UserError(`invalid shard "${spec}": the shard count must be at least 1`, HINT);
  if (!Number.isSafeInteger(index) || index < 1 || index > count) {
    throw new UserError(`invalid shard "${spec}": the index must be between 1 and ${count}`, HINT);
  }
  return { index, count };
}

export function formatShard(shard: ShardSpec): string {
  return `${shard.index}/${shard.count}`;
}

/**
 * Shard (1-based) of every unit. Units are assigned by group (default: their id) so that
 * a group never straddles machines; groups are dealt out largest total cost first, each to
 * the least loaded shard (ties: lowest index; equal costs: sorted by name), which with
 * equal costs is round-robin over the sorted groups and balanced within one group's cost.
 */
export function assignShards(units: GridUnit[], count: number): Map<string, number> {
  if (!Number.isSafeInteger(count) || count < 1) throw new UserError(`invalid shard count ${count}`, HINT);
  const groupCost = new Map<string, number>();
  for (const u of units) {
    const g = u.group ?? u.id;
    groupCost.set(g, (groupCost.get(g) ?? 0) + (u.cost ?? 1));
  }
  const groups = [...groupCost.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const load = new Array<number>(count).fill(0);
  const shardOfGroup = new Map<string, number>();
  for (const [g, cost] of groups) {
    let best = 0;
    for (let s = 1; s < count; s++) if (load[s]! < load[best]!) best = s;
    load[best] = load[best]! + cost;
    shardOfGroup.set(g, best + 1);
  }
  return new Map(units.map((u) => [u.id, shardOfGroup.get(u.group ?? u.id)!]));
}
