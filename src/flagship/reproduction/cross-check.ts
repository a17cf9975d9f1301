import { silentProgress, type ProgressReporter } from '../../engine/util/progress.ts';
import type { Float64Judgement } from '../ml/attacks/float64-judge.ts';
import type { ExperimentParams } from './params.ts';

/**
 * The independent check of the numbers Figure 1 and the claims rest on: FGSM, re-run on the
 * stored networks with tfjs's pure-JavaScript `cpu` backend (slow, but plain float32 loops
 * with no SIMD, no flush-to-zero and no native kernels), against the same attack on the
 * backend the experiment used, sample by sample. A reviewer runs it with
 * `reprobook cross-check`; its report is what the README's "independent check" cites.
 */

export interface CrossCheckRow {
  /** `baseline`, `T<T>` or `baselineLogitsX<T>` (result-name model). */
  network: string;
  samples: number;
  /** FGSM success among correctly classified samples (definition b), on each backend. */
  rate: { experiment: number; cpu: number };
  /** Samples whose success, prediction or zero-gradient flag differ between the two. */
  samplesDiffering: number;
  /** Adversarial pixels that differ (the sign of a near-tie can; see test/attacks-sign.test.ts). */
  pixelsDiffering: number;
  /** Exactly zero gradient, per backend. */
  zeroGradient: { experiment: number; cpu: number };
}

/** The float64 judge of one network's FGSM (src/flagship/ml/attacks/float64-judge.ts), on the experiment's backend. */
export interface Float64Row {
  network: string;
  judgement: Float64Judgement;
}

export interface CrossCheckReport {
  backend: string;
  samples: number;
  eps: number;
  rows: CrossCheckRow[];
  /** Digits the float64 judge ran on (the first N test digits), and its verdict per network. */
  float64Samples: number;
  float64: Float64Row[];
}

export interface CrossCheckOptions {
  storeRoot: string;
  /** The first N test digits (the cpu backend runs FGSM at about 8 images/s). */
  samples: number;
  /** The first N test digits for the float64 judge (about 0.3 s a digit and network); 0 skips it. */
  float64Samples: number;
  progress?: ProgressReporter;
}

/**
 * Cross-check FGSM on the baseline, the highest temperature's student and the baseline x T
 * control (cpu backend against the experiment's), and judge FGSM's arithmetic on every
 * attacked network, the controls included, in float64.
 */
export async function crossCheckFgsm(p: ExperimentParams, opts: CrossCheckOptions): Promise<CrossCheckReport> {
  const { runExperiment } = await import('./run.ts');
  const { headlineTemperature } = await import('./plan.ts');
  const { ArtifactStore } = await import('../../engine/store/artifacts.ts');
  const { loadModel } = await import('../ml/persist.ts');
  const { loadMnist, sliceSplit } = await import('../ml/data/mnist.ts');
  const { fgsm } = await import('../ml/attacks/fgsm.ts');
  const { initBackend, backendIdentity } = await import('../ml/backends/select.ts');
  const outcome = await runExperiment(p, { storeRoot: opts.storeRoot, progress: opts.progress, select: { attacks: ['fgsm'] } });
  const backend = backendIdentity();
  const H = headlineTemperature(p);
  const student = outcome.distilled.find((d) => d.temperature === H)?.student;
  const targets = [
    { network: 'baseline', artifact: outcome.baseline.modelArtifact, logitScale: 1 },
    ...(student ? [{ network: `T${H}`, artifact: student.modelArtifact, logitScale: 1 }] : []),
    ...(H !== 1 ? [{ network: `baselineLogitsX${H}`, artifact: outcome.baseline.modelArtifact, logitScale: H }] : []),
  ];
  const store = new ArtifactStore(opts.storeRoot);
  const mnist = await loadMnist();
  const split = sliceSplit(mnist.test, 0, Math.min(opts.samples, mnist.test.count));
  const data = { images: split.images, labels: split.labels };
  const attack = async (artifact: string, logitScale: number) => {
    const model = await loadModel(store.dirFor(artifact));
    try {
      return await fgsm(model, data, { eps: p.fgsmEps, logitScale }, { progress: opts.progress });
    } finally {
      model.dispose();
    }
  };
  const rows: CrossCheckRow[] = [];
  for (const t of targets) {
    await initBackend(p.backend as never);
    const onExperiment = await attack(t.artifact, t.logitScale);
    await initBackend('cpu');
    const onCpu = await attack(t.artifact, t.logitScale);
    let pixels = 0;
    for (let i = 0; i < onCpu.adversarial.length; i++) if (onCpu.adversarial[i] !== onExperiment.adversarial[i]) pixels++;
    const differs = onCpu.outcomes.filter((o, i) => {
      const e = onExperiment.outcomes[i]!;
      return o.success !== e.success || o.predAfter !== e.predAfter || o.zeroGradient !== e.zeroGradient;
    }).length;
    const zero = (r: typeof onCpu) => r.outcomes.filter((o) => o.zeroGradient).length;
    rows.push({
      network: t.network, samples: split.count,
      rate: { experiment: onExperiment.summary.headlineRate, cpu: onCpu.summary.headlineRate },
      samplesDiffering: differs, pixelsDiffering: pixels,
      zeroGradient: { experiment: zero(onExperiment), cpu: zero(onCpu) },
    });
  }
  await initBackend(p.backend as never);
  const { judgeFgsm } = await import('../ml/attacks/float64-judge.ts');
  const judged = sliceSplit(mnist.test, 0, Math.min(opts.float64Samples, mnist.test.count));
  const judges = [
    { network: 'baseline', artifact: outcome.baseline.modelArtifact, logitScale: 1 },
    ...outcome.distilled.map((d) => ({ network: `T${d.temperature}`, artifact: d.student.modelArtifact, logitScale: 1 })),
    ...outcome.distilled.filter((d) => d.temperature !== 1).map((d) => ({ network: `baselineLogitsX${d.temperature}`, artifact: outcome.baseline.modelArtifact, logitScale: d.temperature })),
  ];
  const float64: Float64Row[] = [];
  if (judged.count > 0) {
    const task = (opts.progress ?? silentProgress).start('float64 judge', judges.length, 'networks');
    for (const [k, t] of judges.entries()) {
      const model = await loadModel(store.dirFor(t.artifact));
      try {
        float64.push({ network: t.network, judgement: await judgeFgsm(model, { images: judged.images, labels: judged.labels }, { eps: p.fgsmEps, logitScale: t.logitScale }) });
      } finally {
        model.dispose();
      }
      task.update(k + 1);
    }
    task.done();
  }
  return { backend, samples: split.count, eps: p.fgsmEps, rows, float64Samples: judged.count, float64 };
}
