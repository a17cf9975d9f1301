import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { buildIn, projectCopy, REPO_ROOT } from '../src/flagship/bench/project-copy.ts';
import type { ResultsFile } from '../src/engine/core/records.ts';
import { needs } from './helpers/requirements.ts';

const browserNeeds = await needs('chromium');
const openblasNeeds = await needs('openblas');

/**
 * The real notebooks, end to end, with the smoke profile: `reprobook build` runs every
 * notebook (training, distillation, attacks through the worker pool), renders the site and,
 * where there is a Chromium, prints the PDF. The project is copied into a temporary root
 * (code and packages linked) so that the test trains from an empty artifact store and leaves
 * the checkout alone.
 */
function build(root: string, ...extra: string[]) {
  // The backend as a parameter, not $REPROBOOK_BACKEND: a run must not leak the variable it
  // sets for its workers into the cache key of the next notebook (which hashes it).
  const env = { ...process.env };
  delete env.REPROBOOK_BACKEND;
  return buildIn(root, ['--profile', 'smoke', '--param', 'backend=wasm', ...extra], env);
}

test('smoke profile: the real notebooks build a complete site, results file and PDF; a prose edit re-runs nothing', { timeout: 25 * 60_000 }, async (t) => {
  const root = await projectCopy();
  try {
    const first = build(root, '--no-pdf');
    assert.equal(first.status, 0, first.log.slice(-4000));
    const site = join(root, '_site');
    for (const f of ['index.html', 'results.json']) assert.ok(existsSync(join(site, f)), `${f} is built`);
    await t.test('report.pdf is printed from the built notebooks', browserNeeds, () => {
      const printed = build(root, '--no-run');
      assert.equal(printed.status, 0, printed.log.slice(-4000));
      assert.ok(existsSync(join(site, 'report.pdf')), 'report.pdf is built');
    });
    for (const nb of ['01-data', '02-baseline', '03-distillation', '04-fgsm', '05-jsma', '06-beyond']) {
      assert.ok(existsSync(join(site, 'notebooks', `${nb}.html`)), `notebooks/${nb}.html is built`);
    }

    // The results file is an interface (issue 6): these names, rates as fractions.
    const results = JSON.parse(await readFile(join(site, 'results.json'), 'utf8')) as ResultsFile;
    assert.equal(results.profile, 'smoke');
    assert.ok(results.provenance, 'provenance is recorded');
    // The backend as the grid keys it: tfjs's name plus the native kernel set when built.
    assert.match(String(results.provenance.environment?.backend), /^wasm(\+native\d+(\+onednn-[\d.]+-\w+)?\+openblas-[\d.]+-\w+)?$/);
    await t.test('the OpenBLAS kernels computed it where they are built', openblasNeeds, () => {
      assert.match(String(results.provenance.environment?.backend), /\+openblas-/);
    });
    const names = [
      'baseline.accuracy', 'fgsm.baseline.successRate', 'jsma.baseline.successRate', 'pgd.baseline.successRate', 'warmStart.accuracy',
      // Issue 11's controls and spread.
      'fgsm.baselineLogitsX100.successRate', 'saturation.baselineLogitsX100.zeroGradientFraction', 'saturation.baseline.zeroGradientFraction',
      'seeds.baseline.accuracy.mean', 'seeds.distilled.T100.accuracy.min', 'seeds.fgsm.baseline.successRate.max', 'seeds.fgsm.T100.successRate.mean',
    ];
    for (const T of [1, 100]) {
      names.push(`distilled.T${T}.accuracy`, `fgsm.T${T}.successRate`, `jsma.T${T}.successRate`, `pgd.T${T}.successRate`, `saturation.T${T}.zeroGradientFraction`);
    }
    for (const n of names) {
      const v = results.results[n];
      assert.equal(typeof v, 'number', `${n} is published`);
      assert.ok((v as number) >= 0 && (v as number) <= 1, `${n} = ${v} is a fraction`);
      assert.ok(results.sources[n]?.notebook, `${n} names the notebook that published it`);
    }
    assert.equal(results.results['fgsm.samples'], 100, 'the smoke profile attacks 100 test samples');
    assert.equal(results.results['seeds.fgsm.T100.successRate.n'], 2, 'the smoke profile replicates its headline rows over 2 seeds');
    for (const m of ['baseline', 'T100', 'baselineLogitsX100']) assert.ok((results.results[`saturation.${m}.medianLogitGap`] as number) > 0, `${m} has a median logit gap`);
    const index = await readFile(join(site, 'index.html'), 'utf8');
    assert.match(index, /profile <strong class="profile-name">smoke<\/strong>/);
    // Every value the report asks for was published: the per-temperature table's control
    // columns included (at T = 1 the logits x T control is the baseline itself).
    assert.equal((index.match(/class="not-run"/g) ?? []).length, 0, 'no "not run" marker in the report');

    // The independent check: FGSM on the stored networks, re-run on the exact cpu backend.
    const env = { ...process.env };
    delete env.REPROBOOK_BACKEND;
    const verify = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/engine/cli/main.ts'), 'cross-check', '--root', root, '--profile', 'smoke', '--param', 'backend=wasm', '--samples', '12', '--out', 'check.json'], { cwd: root, encoding: 'utf8', env });
    assert.equal(verify.status, 0, `${verify.stdout}\n${verify.stderr}`);
    assert.doesNotMatch(verify.stderr, /start \S+ \[train\]/, 'the check trains nothing: the networks are in the store');
    const check = JSON.parse(await readFile(join(root, 'check.json'), 'utf8')) as { rows: Array<{ network: string; samples: number; zeroGradient: { experiment: number; cpu: number } }> };
    assert.deepEqual(check.rows.map((r) => r.network), ['baseline', 'T100', 'baselineLogitsX100']);
    for (const r of check.rows) assert.equal(r.zeroGradient.experiment, r.zeroGradient.cpu, `${r.network}: the same exactly-zero gradients on both backends`);

    // Issue 14: every number goes out with the chain of keys it rests on, and `reprobook
    // verify` recomputes exactly that chain for the T = 100 claim: the warm start, the teacher
    // and the student at T = 100 and the FGSM unit on it, from scratch; every other network and
    // attack of notebook 4 is read from the store.
    for (const n of names) assert.ok(Array.isArray(results.sources[n]?.artifacts) && results.sources[n]!.artifacts!.length > 0, `${n} is published with its chain of keys`);
    const t100 = new Set(results.sources['fgsm.T100.successRate']!.artifacts);
    assert.ok(results.sources['distilled.T100.accuracy']!.artifacts!.every((id) => t100.has(id)), 'the attack rests on the network it attacked');
    assert.ok(!results.sources['fgsm.baseline.successRate']!.artifacts!.every((id) => t100.has(id)), 'and not on the baseline\'s attack');
    const recheck = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/engine/cli/main.ts'), 'verify', 'fgsm-t100', '--root', root, '--profile', 'smoke', '--json'], { cwd: root, encoding: 'utf8', env });
    assert.equal(recheck.status, 0, `${recheck.stdout}\n${recheck.stderr}`);
    const verdict = JSON.parse(recheck.stdout) as { mode: string; artifacts: { computed: number; chain: number }; notebooks: string[]; parameterMismatch: string[]; outcomes: Array<{ holds: boolean; notRecomputed: string[]; sameChain: boolean; values: Array<{ published: number; recomputed: number }> }> };
    assert.equal(verdict.mode, 'chain');
    assert.deepEqual(verdict.notebooks, ['04-fgsm']);
    assert.deepEqual(verdict.parameterMismatch, [], 'recomputed with the published run\'s --param backend=wasm');
    assert.equal(verdict.artifacts.chain, t100.size);
    assert.equal(verdict.artifacts.computed, t100.size, 'the chain and nothing else was computed');
    assert.deepEqual(verdict.outcomes[0]!.notRecomputed, []);
    assert.equal(verdict.outcomes[0]!.sameChain, true);
    assert.equal(verdict.outcomes[0]!.values[0]!.recomputed, verdict.outcomes[0]!.values[0]!.published, 'retraining from scratch gives the same number (seeded, deterministic kernels)');

    // A prose-only edit: every notebook is served from the cache, nothing trains again.
    const nb = join(root, 'notebooks', '03-distillation.md');
    await writeFile(nb, (await readFile(nb, 'utf8')).replace('Defensive distillation (the paper', 'Defensive distillation, edited (the paper'));
    const t0 = Date.now();
    const second = build(root, '--no-pdf');
    const seconds = (Date.now() - t0) / 1000;
    assert.equal(second.status, 0, second.log.slice(-4000));
    assert.doesNotMatch(second.log, /: running \(key/, 'no notebook re-runs after a prose edit');
    assert.match(await readFile(join(site, 'notebooks', '03-distillation.html'), 'utf8'), /Defensive distillation, edited/);
    console.log(`rebuild after a prose edit: ${seconds.toFixed(1)} s`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
