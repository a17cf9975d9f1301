import type { ResultsFile } from '../core/records.ts';
import { sweepValues, type ClaimSpec } from '../results/claims.ts';
import { UserError } from '../util/errors.ts';
import { unionOfChains } from '../store/artifacts.ts';
import { has, own } from '../util/own.ts';

/**
 * What `reprobook verify` recomputes for a claim or a result, and how close the recomputed
 * value must be. Pure: from the published results file (whose `sources` say which notebook
 * cell published each value) and the claims.
 */

export interface VerifyTarget {
  /** The claim id, or the result name when a bare result was asked for. */
  id: string;
  claim?: ClaimSpec;
  /** The published results the verdict rests on. */
  names: string[];
  /** The notebooks that published them: the only ones re-run. */
  notebooks: string[];
  /**
   * The artifact ids the values rest on, as their cells published them (the chain of keys):
   * recomputed in a fresh store while the rest of the notebooks read the user's. null when a
   * value was published without them: then everything the notebooks use is recomputed.
   */
  artifacts: string[] | null;
  /** The largest |recomputed − published| that still holds, per value. */
  tolerance: number;
  toleranceText: string;
}

/** How far a recomputation may move a claim's value: the claim's own tolerance. */
export function claimTolerance(c: ClaimSpec): { tolerance: number; text: string } {
  const m = c.measure;
  switch (m.kind) {
    case 'approx': return { tolerance: m.tolerance.reproduced, text: `±${m.tolerance.reproduced} (the claim's "reproduced" tolerance)` };
    case 'below': return { tolerance: m.tolerance.partly, text: `±${m.tolerance.partly} (the claim's "partly" margin)` };
    default: return { tolerance: 0, text: 'exact (a count or a sweep)' };
  }
}

function namesOfClaim(c: ClaimSpec, published: ResultsFile): string[] {
  const r = published.results;
  if (c.measure.kind === 'sweep') {
    const pattern = c.measure.pattern;
    return sweepValues(pattern, r).map((x) => pattern.replace('{x}', String(x)));
  }
  // As the claims table does: the first of the claim's results that was published.
  const first = (c.results ?? []).find((n) => typeof own(r, n) === 'number');
  return first ? [first] : [];
}

export function planVerify(what: string | undefined, opts: { all?: boolean; tolerance?: number }, published: ResultsFile, claims: ClaimSpec[]): VerifyTarget[] {
  const make = (id: string, names: string[], claim: ClaimSpec | undefined): VerifyTarget => {
    const notebooks = [...new Set(names.map((n) => {
      const src = own(published.sources, n);
      if (!src) throw new UserError(`result ${n} has no source in the results file`, 'rebuild (reprobook build) so that every result records the notebook cell that published it');
      return src.notebook;
    }))].sort();
    const artifacts = unionOfChains(names.map((n) => own(published.sources, n)!.artifacts));
    const t = claim ? claimTolerance(claim) : { tolerance: opts.tolerance ?? 0, text: opts.tolerance ? `±${opts.tolerance} (--tolerance)` : 'exact (no claim; pass --tolerance to allow a difference)' };
    return { id, ...(claim ? { claim } : {}), names, notebooks, artifacts, tolerance: t.tolerance, toleranceText: t.text };
  };
  const forClaim = (c: ClaimSpec) => {
    const names = namesOfClaim(c, published);
    if (names.length === 0) throw new UserError(`claim ${c.id} has no published value in this run`, `run the notebooks that publish ${c.measure.kind === 'sweep' ? c.measure.pattern : (c.results ?? []).join(' or ')} (reprobook build), then verify`);
    return make(c.id, names, c);
  };
  if (opts.all) {
    if (claims.length === 0) throw new UserError('--all: the project has no claims (report/claims.yaml)', 'name a result instead: reprobook verify RESULT');
    return claims.filter((c) => namesOfClaim(c, published).length > 0).map(forClaim);
  }
  if (!what) throw new UserError('verify needs a claim id or a result name (or --all)', `claims: ${claims.map((c) => c.id).join(', ') || 'none'}`);
  const claim = claims.find((c) => c.id === what);
  if (claim) return [forClaim(claim)];
  if (has(published.results, what)) return [make(what, [what], undefined)];
  throw new UserError(`"${what}" is neither a claim nor a published result`, `claims: ${claims.map((c) => c.id).join(', ') || 'none'}; or a result name from results.json`);
}
