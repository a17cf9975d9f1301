import { formatValue } from '../results/values.ts';
import type { RunProvenance, VerifyRun } from './run.ts';

/** The verify outcome for a terminal: one block per claim or result, then both provenances. */

const show = (v: unknown) => (v === undefined ? 'not recomputed' : formatValue(v, typeof v === 'number' ? 'number' : 'raw'));

function describe(p: RunProvenance): string {
  return [
    `backend ${p.backend ?? 'unknown'}`,
    `commit ${p.commit ? `${p.commit.slice(0, 12)}${p.dirty ? ' (uncommitted changes)' : ''}` : 'unknown'}`,
    p.node && `node ${p.node}`,
    p.data && `data ${Object.entries(p.data).map(([f, h]) => `${f}=${h.slice(0, 12)}`).join(' ')}`,
    p.generatedAt && `at ${p.generatedAt}`,
  ].filter(Boolean).join('; ');
}

export function renderVerify(run: VerifyRun): string {
  const out: string[] = [];
  for (const o of run.outcomes) {
    const head = o.target.claim ? `claim ${o.target.id} (${o.target.claim.claim})` : `result ${o.target.id}`;
    out.push(`${o.holds ? 'HOLDS' : 'DOES NOT HOLD'}: ${head}; tolerance ${o.target.toleranceText}`);
    for (const v of o.values) {
      out.push(`  ${v.name}: published ${show(v.published)}, recomputed ${show(v.recomputed)}${v.difference !== undefined ? ` (difference ${formatValue(v.difference, 'number')})` : ''}${v.holds ? '' : '  <- outside the tolerance'}`);
    }
    if (o.notRecomputed.length) out.push(`  not from scratch: the recomputed value rests on ${o.notRecomputed.length} artifact(s) that were not recomputed but read from the project's store (${o.notRecomputed.map((id) => id.slice(0, 12)).join(', ')}): the published chain of keys is incomplete or stale; rebuild, then verify again`);
    if (o.sameChain === false) out.push('  note: the recomputed chain of keys differs from the published one (code, data or parameters changed since it was built)');
    if (o.verdicts) out.push(`  verdict: published "${o.verdicts.published}", recomputed "${o.verdicts.recomputed}"${o.verdicts.published === o.verdicts.recomputed ? '' : '  <- differs'}`);
  }
  if (run.parameterMismatch.length) out.push(`parameters differ from the published run in ${run.parameterMismatch.join(', ')}: the published run was built with other --param values`);
  out.push(
    run.mode === 'chain'
      ? `recomputed ${run.notebooks.join(', ')} in a scratch store: ${run.artifacts.computed} artifact(s) computed (the chain of keys the value(s) rest on: ${run.artifacts.chain}); the notebooks' other results read the project's store`
      : `recomputed ${run.notebooks.join(', ')} in an empty scratch store: ${run.artifacts.computed} artifact(s) computed (a value was published without its chain of keys, so everything was)`,
    `published:  ${describe(run.published)}`,
    `recomputed: ${describe(run.recomputed)}`,
  );
  return `${out.join('\n')}\n`;
}
