import { mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProject } from '../notebook/project.ts';
import type { ResultsFile, RunEnvironment } from '../notebook/types.ts';
import { judgeClaim, type Verdict } from '../report/claims.ts';
import { gitState } from '../notebook/environment.ts';
import { UserError } from '../util/errors.ts';
import type { VerifyTarget } from './plan.ts';

/**
 * The recomputation: the notebooks that published the target values run again in a scratch
 * copy of the project whose store is empty (the project's files linked, never its
 * .reprobook/), so every artifact they use is computed anew and the user's store is not read
 * or written. Then each value is compared with the published one under the target's tolerance.
 */

export interface ValueCheck {
  name: string;
  published: unknown;
  recomputed: unknown;
  difference?: number;
  holds: boolean;
}

export interface VerifyOutcome {
  target: VerifyTarget;
  values: ValueCheck[];
  /** The claim's verdict on the published and on the recomputed values. */
  verdicts?: { published: Verdict; recomputed: Verdict };
  holds: boolean;
}

export interface RunProvenance {
  backend?: string;
  commit?: string;
  dirty?: boolean;
  node?: string;
  data?: Record<string, string>;
  generatedAt?: string;
}

export interface VerifyRun {
  outcomes: VerifyOutcome[];
  scratch: string;
  notebooks: string[];
  /** Artifact store events of the recomputation: reused must be 0 (the store started empty). */
  artifacts: { reused: number; computed: number };
  published: RunProvenance;
  recomputed: RunProvenance;
  /** Notebooks whose parameters in the recomputation differ from the published run's. */
  parameterMismatch: string[];
}

export function provenanceOf(file: ResultsFile, git?: { commit: string; dirty: boolean }): RunProvenance {
  const env: Partial<RunEnvironment> = file.provenance?.environment ?? {};
  const g = git ?? env.git;
  return {
    ...(env.backend ? { backend: env.backend } : {}),
    ...(g ? { commit: g.commit, dirty: g.dirty } : {}),
    ...(env.node ? { node: env.node } : {}),
    ...(file.provenance?.data ? { data: file.provenance.data } : {}),
    ...(file.provenance?.generatedAt ? { generatedAt: file.provenance.generatedAt } : {}),
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function compareValues(target: VerifyTarget, published: ResultsFile, recomputed: ResultsFile): VerifyOutcome {
  const values = target.names.map((name): ValueCheck => {
    const p = published.results[name];
    const r = recomputed.results[name];
    if (typeof p === 'number' && typeof r === 'number') {
      const difference = r - p;
      return { name, published: p, recomputed: r, difference, holds: Math.abs(difference) <= target.tolerance + 1e-12 };
    }
    return { name, published: p, recomputed: r, holds: r !== undefined && same(p, r) };
  });
  const verdicts = target.claim
    ? { published: judgeClaim(target.claim, published.results).verdict, recomputed: judgeClaim(target.claim, recomputed.results).verdict }
    : undefined;
  const holds = values.every((v) => v.holds) && (!verdicts || verdicts.published === verdicts.recomputed);
  return { target, values, ...(verdicts ? { verdicts } : {}), holds };
}

/** A scratch project: every top-level entry linked except the store, the site and git. */
export async function scratchProject(root: string): Promise<string> {
  const scratch = await mkdtemp(join(tmpdir(), 'reprobook-verify-'));
  for (const name of await readdir(root)) {
    if (name === '.reprobook' || name === '_site' || name === '.git') continue;
    await symlink(join(root, name), join(scratch, name));
  }
  return scratch;
}

export async function verify(root: string, published: ResultsFile, targets: VerifyTarget[], opts: { log?: (line: string) => void; keep?: boolean } = {}): Promise<VerifyRun> {
  const notebooks = [...new Set(targets.flatMap((t) => t.notebooks))].sort();
  const scratch = await scratchProject(root);
  try {
    opts.log?.(`verify: re-running ${notebooks.join(', ')} from scratch in ${scratch} (empty store; ${root}/.reprobook is not used)`);
    const ran = await runProject({ root: scratch, notebooks, profile: published.profile, force: true, ...(opts.log ? { log: opts.log } : {}) });
    const failed = ran.outcomes.filter((o) => o.status === 'failed');
    if (failed.length) throw new UserError(`the recomputation failed in ${failed.map((o) => o.name).join(', ')}: ${failed[0]!.error?.message ?? 'see above'}`, 'fix the notebook (reprobook run shows the same error), then verify again');
    const events = ran.outcomes.flatMap((o) => o.executed.artifactEvents ?? []);
    const parameterMismatch = ran.outcomes
      .filter((o) => {
        const p = published.provenance?.notebooks?.find((n) => n.name === o.name);
        return p !== undefined && !same(p.params, o.params);
      })
      .map((o) => o.name);
    const outcomes = targets.map((t) => compareValues(t, published, ran.results));
    if (parameterMismatch.length) for (const o of outcomes) if (o.target.notebooks.some((n) => parameterMismatch.includes(n))) o.holds = false;
    return {
      outcomes, scratch, notebooks, parameterMismatch,
      artifacts: { reused: events.filter((e) => e.type === 'hit').length, computed: events.filter((e) => e.type === 'stored').length },
      published: provenanceOf(published),
      recomputed: provenanceOf(ran.results, gitState(root)),
    };
  } finally {
    if (!opts.keep) await rm(scratch, { recursive: true, force: true });
  }
}
