import { UserError } from '../util/errors.ts';
import type { GridUnit, ShardSpec } from './unit.ts';
import type { GridPlan } from './graph.ts';

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

/** What one machine does with a grid: its own units and, of other shards', those it reads from the store. */
export interface ShardShare {
  /** Units this run computes (or finds stored): the shard's, and the `everyShard` prerequisites they need. */
  mine: Set<string>;
  /** `mine` and their direct deps: every unit whose result this run needs. */
  needed: Set<string>;
  /** The shard (1-based) a unit belongs to; every unit is shard 1 of 1 in an unsharded run. */
  shardOf(unitId: string): number;
}

/**
 * Which units a run of `shard` computes and which it reads (pure planning, from the unit list
 * only): its assigned units, plus, transitively, every `everyShard` prerequisite of them,
 * which any shard computes when the store does not hold it yet.
 */
export function shardShare(plan: GridPlan, shard: ShardSpec | undefined): ShardShare {
  const units = [...plan.byId.values()];
  const assigned = shard ? assignShards(units, shard.count) : undefined;
  const shardOf = (id: string) => assigned?.get(id) ?? 1;
  const mine = new Set(units.filter((u) => !shard || shardOf(u.id) === shard.index).map((u) => u.id));
  for (const id of [...mine]) {
    const stack = [...(plan.byId.get(id)!.deps ?? [])];
    while (stack.length > 0) {
      const d = plan.byId.get(stack.pop()!)!;
      if (d.everyShard && !mine.has(d.id)) {
        mine.add(d.id);
        stack.push(...(d.deps ?? []));
      }
    }
  }
  const needed = new Set(mine);
  for (const id of mine) for (const d of plan.byId.get(id)!.deps ?? []) needed.add(d);
  return { mine, needed, shardOf };
}
