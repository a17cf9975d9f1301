import { artifactId, unionOfChains, type ArtifactKey } from '../store/artifacts.ts';
import { canonicalJson } from '../util/hash.ts';
import { UserError } from '../util/errors.ts';
import type { GridUnit } from './unit.ts';

/**
 * The grid as a graph: validation, topological order, result keys and priorities.
 * Pure functions: no I/O, no threads.
 */

export interface GridPlan {
  /** Units in a topological order (deps first; ties in input order). */
  order: GridUnit[];
  byId: Map<string, GridUnit>;
  /** Units that depend directly on each unit. */
  dependents: Map<string, string[]>;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Checks the units and orders them; every mistake names the unit and the fix. */
export function planGrid(units: GridUnit[]): GridPlan {
  if (!Array.isArray(units)) throw new UserError('grid units must be an array', 'pass an array of { id, kind, inputs, deps? }');
  const byId = new Map<string, GridUnit>();
  for (const [i, u] of units.entries()) {
    if (!isPlainObject(u)) throw new UserError(`grid unit #${i + 1} is not an object`, 'each unit is { id, kind, inputs, deps? }');
    if (typeof u.id !== 'string' || u.id === '') throw new UserError(`grid unit #${i + 1} has no id`, 'give every unit a unique non-empty string id');
    if (byId.has(u.id)) throw new UserError(`grid unit id "${u.id}" is used twice`, 'unit ids must be unique');
    if (typeof u.kind !== 'string' || u.kind === '') throw new UserError(`grid unit "${u.id}" has no kind`, 'set kind to what the handler should do, e.g. "teacher"');
    if (!isPlainObject(u.inputs)) throw new UserError(`grid unit "${u.id}": inputs must be an object`, 'put every parameter that changes the result in inputs: { ... }');
    try {
      canonicalJson(u.inputs);
    } catch (err) {
      throw new UserError(`grid unit "${u.id}": inputs are not JSON (${(err as Error).message})`, 'use plain numbers, strings, booleans, arrays and objects');
    }
    if (u.deps !== undefined && !(Array.isArray(u.deps) && u.deps.every((d) => typeof d === 'string'))) {
      throw new UserError(`grid unit "${u.id}": deps must be an array of unit ids`, 'e.g. deps: ["T10/teacher"]');
    }
    if (u.cost !== undefined && !(typeof u.cost === 'number' && Number.isFinite(u.cost) && u.cost > 0)) {
      throw new UserError(`grid unit "${u.id}": cost must be a positive number`, 'omit cost or give a relative cost such as 1 or 50');
    }
    byId.set(u.id, u);
  }
  const dependents = new Map<string, string[]>(units.map((u) => [u.id, []]));
  for (const u of units) {
    for (const d of u.deps ?? []) {
      if (d === u.id) throw new UserError(`grid unit "${u.id}" depends on itself`, 'remove it from its own deps');
      if (!byId.has(d)) throw new UserError(`grid unit "${u.id}" depends on unknown unit "${d}"`, `add a unit with id "${d}" or fix the name`);
      dependents.get(d)!.push(u.id);
    }
  }
  // Depth-first so that a cycle can be reported as a path, which is what one needs to fix it.
  const state = new Map<string, 'visiting' | 'done'>();
  const order: GridUnit[] = [];
  const visit = (id: string, path: string[]): void => {
    const s = state.get(id);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...path.slice(path.indexOf(id)), id].join(' -> ');
      throw new UserError(`grid units form a dependency cycle: ${cycle}`, 'remove one of these deps');
    }
    state.set(id, 'visiting');
    for (const d of byId.get(id)!.deps ?? []) visit(d, [...path, id]);
    state.set(id, 'done');
    order.push(byId.get(id)!);
  };
  for (const u of units) visit(u.id, []);
  return { order, byId, dependents };
}

/**
 * The store key of each unit's result. It covers the unit's kind and inputs, the handler's
 * code hash and, Merkle-style, the keys of its deps: change a teacher's epochs and its
 * student's key changes too, although the student's own inputs did not.
 */
export function unitKeys(plan: GridPlan, codeHash: string): Map<string, ArtifactKey> {
  const keys = new Map<string, ArtifactKey>();
  for (const u of plan.order) {
    const deps: Record<string, string> = {};
    for (const d of u.deps ?? []) deps[d] = artifactId(keys.get(d)!);
    keys.set(u.id, { kind: `grid:${u.kind}`, inputs: { inputs: u.inputs, code: codeHash, deps } });
  }
  return keys;
}

/**
 * Cost of the longest chain from each unit to the end of the grid (its own cost included).
 * Running the units with the longest remaining chain first keeps the workers busy: a
 * teacher starts before a cheap attack, so that its student can start sooner.
 */
export function criticalPath(plan: GridPlan): Map<string, number> {
  const out = new Map<string, number>();
  for (const u of [...plan.order].reverse()) {
    let tail = 0;
    for (const d of plan.dependents.get(u.id)!) tail = Math.max(tail, out.get(d)!);
    out.set(u.id, (u.cost ?? 1) + tail);
  }
  return out;
}

/**
 * The chain of artifact ids under each unit with a known `uses` entry: its own result key, what
 * it used, and (recursively) its deps' chains; null when any link is unknown.
 */
export function keyChains(plan: GridPlan, keys: Map<string, ArtifactKey>, uses: Map<string, string[] | null>): Record<string, string[] | null> {
  const out = new Map<string, string[] | null>();
  for (const u of plan.order) {
    if (!uses.has(u.id)) continue;
    out.set(u.id, unionOfChains([[artifactId(keys.get(u.id)!)], uses.get(u.id), ...(u.deps ?? []).map((d) => out.get(d))]));
  }
  return Object.fromEntries(out);
}

/** The union of the chains of `unitIds`: what a value computed from them rests on; null when one is unknown. */
export function chainOf(chains: Record<string, string[] | null>, unitIds: string[]): string[] | null {
  return unionOfChains(unitIds.map((id) => chains[id]));
}
