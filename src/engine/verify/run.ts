import { mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { own } from '../util/own.ts';
import { ArtifactStore, unionOfChains, writeAlternates } from '../store/artifacts.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProject, throwIfInterrupted, type ProjectRunRequest } from '../notebook/project.ts';
import type { Params, ResultsFile, RunEnvironment } from '../core/records.ts';
import { judgeClaim, type Verdict } from '../results/claims.ts';
import { gitState } from '../core/environment.ts';
import { UserError } from '../util/errors.ts';
import type { VerifyTarget } from './plan.ts';

/**
 * The recomputation: the notebooks that published the target values run again in a scratch
 * copy of the project (its files linked, never its .reprobook/) with a store of its own.
 *
 * When the values were published with their chain of keys (`publish(name, value, {
 * artifacts })`), only that chain is recomputed: the scratch store borrows every other
 * artifact from the user's store, read-only (the store's alternates), and never the chain's,
 * so the notebook's other results cost nothing and the checked values are computed from
 * scratch. Afterwards the recomputed values' own chains must all be in the scratch store:
 * a value that rested on an artifact not recomputed there is reported as not from scratch. Without a chain,
 * the scratch store starts empty and borrows nothing: everything the notebooks use is
 * recomputed. Then each value is compared with the published one under the target's tolerance.
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
  /**
   * Of the recomputed values' chains: artifact ids that were not computed in the scratch store
   * (read from the user's). Empty when the check is from scratch, as it must be.
   */
  notRecomputed: string[];
  /** Whether the recomputed chain is the published one (false: code, data or inputs changed the keys). */
  sameChain?: boolean;
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
  /** 'chain': only the values' chains were recomputed; 'everything': the notebooks ran on an empty store. */
  mode: 'chain' | 'everything';
  /** Artifacts computed in the scratch store, and the size of the chain that had to be. */
  artifacts: { computed: number; chain: number | null };
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

/**
 * `chain`: the artifact ids the recomputed values rest on (when the target has a published
 * chain); `notRecomputed`: those of them the recomputation did not compute itself.
 */
export function compareValues(target: VerifyTarget, published: ResultsFile, recomputed: ResultsFile, check: { chain?: string[]; notRecomputed: string[] } = { notRecomputed: [] }): VerifyOutcome {
  const values = target.names.map((name): ValueCheck => {
    const p = own(published.results, name);
    const r = own(recomputed.results, name);
    if (typeof p === 'number' && typeof r === 'number') {
      const difference = r - p;
      return { name, published: p, recomputed: r, difference, holds: Math.abs(difference) <= target.tolerance + 1e-12 };
    }
    return { name, published: p, recomputed: r, holds: r !== undefined && same(p, r) };
  });
  const verdicts = target.claim
    ? { published: judgeClaim(target.claim, published.results).verdict, recomputed: judgeClaim(target.claim, recomputed.results).verdict }
    : undefined;
  const { chain, notRecomputed } = check;
  const holds = values.every((v) => v.holds) && (!verdicts || verdicts.published === verdicts.recomputed) && notRecomputed.length === 0;
  return { target, values, ...(verdicts ? { verdicts } : {}), notRecomputed, ...(chain ? { sameChain: same(chain, target.artifacts) } : {}), holds };
}

/** The artifact ids the recomputed values rest on, as the re-run published them. */
export function recomputedChain(target: VerifyTarget, recomputed: ResultsFile): string[] {
  return unionOfChains(target.names.map((n) => own(recomputed.sources, n)?.artifacts ?? []))!;
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

/** The parameters the published run gave each notebook: a run built with `--param x=y` is recomputed with it too. */
export function publishedParams(published: ResultsFile): Record<string, Params> {
  return Object.fromEntries((published.provenance?.notebooks ?? []).map((nb) => [nb.name, nb.params ?? {}]));
}

/**
 * `signal` stops the recomputation (the verify then fails with an InterruptedError); `onLateFailure`
 * hears of a notebook that fails after it ran (runProject's), so that the CLI exits non-zero.
 */
export async function verify(root: string, published: ResultsFile, targets: VerifyTarget[], opts: { log?: (line: string) => void; keep?: boolean; sandbox?: boolean } & Pick<ProjectRunRequest, 'signal' | 'onLateFailure'> = {}): Promise<VerifyRun> {
  const notebooks = [...new Set(targets.flatMap((t) => t.notebooks))].sort();
  const chain = unionOfChains(targets.map((t) => t.artifacts));
  const scratch = await scratchProject(root);
  const scratchStore = join(scratch, '.reprobook', 'artifacts');
  try {
    if (chain) {
      await writeAlternates(scratchStore, [{ root: join(root, '.reprobook', 'artifacts'), exclude: chain }]);
      opts.log?.(`verify: re-running ${notebooks.join(', ')} in ${scratch}: the ${chain.length} artifact(s) the value(s) rest on are recomputed in a fresh store; the notebooks' other artifacts are read from ${root}/.reprobook, which is not written`);
    } else {
      opts.log?.(`verify: re-running ${notebooks.join(', ')} from scratch in ${scratch} (empty store: a value was published without its chain of keys, so everything is recomputed; ${root}/.reprobook is not used)`);
    }
    const ran = await runProject({ root: scratch, notebooks, profile: published.profile, recordedParams: publishedParams(published), force: true, ...(opts.log ? { log: opts.log } : {}),
      // The scratch copy's files are links into the project, and its store reads the project's: both are the project's to read.
      ...(opts.sandbox ? { sandbox: { alsoRead: [root] } } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onLateFailure ? { onLateFailure: opts.onLateFailure } : {}) });
    throwIfInterrupted(ran);
    const failed = ran.outcomes.filter((o) => o.status === 'failed');
    if (failed.length) throw new UserError(`the recomputation failed in ${failed.map((o) => o.name).join(', ')}: ${failed[0]!.error?.message ?? 'see above'}`, 'fix the notebook (reprobook run shows the same error), then verify again');
    const parameterMismatch = ran.outcomes
      .filter((o) => {
        const p = published.provenance?.notebooks?.find((n) => n.name === o.name);
        return p !== undefined && !same(p.params, o.params);
      })
      .map((o) => o.name);
    const store = new ArtifactStore(scratchStore);
    const outcomes: VerifyOutcome[] = [];
    for (const t of targets) {
      const chainNow = t.artifacts === null ? undefined : recomputedChain(t, ran.results);
      const notRecomputed: string[] = [];
      if (chain) for (const id of chainNow!) if (!(await store.holds(id))) notRecomputed.push(id);
      outcomes.push(compareValues(t, published, ran.results, { ...(chainNow ? { chain: chainNow } : {}), notRecomputed }));
    }
    if (parameterMismatch.length) for (const o of outcomes) if (o.target.notebooks.some((n) => parameterMismatch.includes(n))) o.holds = false;
    return {
      outcomes, scratch, notebooks, parameterMismatch,
      mode: chain ? 'chain' : 'everything',
      artifacts: { computed: (await store.ids()).length, chain: chain ? chain.length : null },
      published: provenanceOf(published),
      recomputed: provenanceOf(ran.results, gitState(root)),
    };
  } finally {
    if (!opts.keep) await rm(scratch, { recursive: true, force: true });
  }
}
