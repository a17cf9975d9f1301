import type { BenchOptions, BenchRecord, BenchSuite } from './types.ts';
import { enterTarget, expandTargets, leaveTargets } from './targets.ts';

/**
 * Attack throughput on the paper's 9-layer network, per backend: FGSM images/s, PGD images/s
 * (margin loss, 10 steps) and JSMA attacks/s ((sample, target) pairs, JSMA-F, gamma 0.145).
 *
 * The network is untrained (seeded weights) and the inputs synthetic (seeded pixels in
 * [0, 0.5], cycling labels), so the bench needs no data files or trained models. JSMA's cost
 * per attack depends on how many pixel pairs it changes before success, which differs on a
 * trained network: the record carries the mean iterations, and iterations/s as well.
 */

interface Plan { fgsmBatch: number; pgdBatch: number; pgdSteps: number; jsmaSamples: number; maxRepeats: number }

function plan(backend: string): Plan {
  // The pure-JS cpu backend manages a few images/s on this network: a token run only.
  if (backend === 'cpu') return { fgsmBatch: 4, pgdBatch: 2, pgdSteps: 2, jsmaSamples: 0, maxRepeats: 1 };
  return { fgsmBatch: 100, pgdBatch: 50, pgdSteps: 10, jsmaSamples: 4, maxRepeats: 50 };
}

function syntheticData(n: number, seed: number): { images: Float32Array; labels: Int32Array } {
  let s = seed >>> 0;
  const images = new Float32Array(n * 784);
  for (let i = 0; i < images.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    images[i] = (s / 4294967296) * 0.5;
  }
  return { images, labels: Int32Array.from({ length: n }, (_, i) => i % 10) };
}

/** Repeat `once` until `seconds` have passed (at least once, at most maxRepeats), return units/s. */
async function rate(once: () => Promise<number>, seconds: number, maxRepeats: number): Promise<{ perSecond: number; units: number; seconds: number }> {
  const t0 = performance.now();
  let units = 0;
  for (let r = 0; r < maxRepeats; r++) {
    units += await once();
    if ((performance.now() - t0) / 1000 >= seconds) break;
  }
  const elapsed = (performance.now() - t0) / 1000;
  return { perSecond: units / elapsed, units, seconds: elapsed };
}

const round = (v: number) => Math.round(v * 100) / 100;

export const run: BenchSuite = async function* (opts: BenchOptions): AsyncGenerator<BenchRecord> {
  const { describeBackend } = await import('../ml/backends/select.ts');
  const { buildModel } = await import('../ml/model.ts');
  const { fgsm } = await import('../ml/attacks/fgsm.ts');
  const { pgd } = await import('../ml/attacks/pgd.ts');
  const { jsma } = await import('../ml/attacks/jsma.ts');
  for (const target of expandTargets(opts.backends)) {
    const entered = await enterTarget(target);
    if (!entered.ok) {
      for (const bench of ['attack-fgsm', 'attack-pgd', 'attack-jsma']) {
        yield { bench, backend: target, value: NaN, unit: bench === 'attack-jsma' ? 'attacks/s' : 'images/s', skipped: entered.reason };
      }
      continue;
    }
    const name = entered.label;
    const p = plan(name);
    const provenance = describeBackend();
    const note = name === 'cpu' ? 'token run on the pure-JS backend' : undefined;
    const model = buildModel(1);
    try {
      // One untimed call: XNNPACK operator creation and allocator warm-up.
      const warm = syntheticData(2, 9);
      await fgsm(model, warm, { eps: 0.3 });

      const fData = syntheticData(p.fgsmBatch, 1);
      const f = await rate(async () => (await fgsm(model, fData, { eps: 0.3 }, { batchSize: p.fgsmBatch, keepAdversarial: 0 })).outcomes.length, opts.seconds, p.maxRepeats);
      yield { bench: 'attack-fgsm', backend: name, value: round(f.perSecond), unit: 'images/s', batch: p.fgsmBatch, images: f.units, seconds: round(f.seconds), ...(note ? { note } : {}), provenance };

      const pData = syntheticData(p.pgdBatch, 2);
      const pg = await rate(async () => (await pgd(model, pData, { eps: 0.3, steps: p.pgdSteps, stepSize: 0.03 }, { batchSize: p.pgdBatch, keepAdversarial: 0 })).outcomes.length, opts.seconds, p.maxRepeats);
      yield { bench: 'attack-pgd', backend: name, value: round(pg.perSecond), unit: 'images/s', steps: p.pgdSteps, batch: p.pgdBatch, images: pg.units, seconds: round(pg.seconds), ...(note ? { note } : {}), provenance };

      if (p.jsmaSamples === 0) {
        yield { bench: 'attack-jsma', backend: name, value: NaN, unit: 'attacks/s', skipped: 'too slow on the pure-JS cpu backend (hundreds of gradients per attack)', provenance };
        continue;
      }
      const jData = syntheticData(p.jsmaSamples, 3);
      let iterations = 0;
      const j = await rate(async () => {
        const r = await jsma(model, jData, { variant: 'F', gamma: 0.145 }, { batchSize: 9 * p.jsmaSamples, keepAdversarial: 0 });
        iterations += r.outcomes.reduce((s, o) => s + o.iterations, 0);
        return r.outcomes.length;
      }, opts.seconds, p.maxRepeats);
      yield {
        bench: 'attack-jsma', backend: name, value: round(j.perSecond), unit: 'attacks/s',
        attacks: j.units, meanIterations: round(iterations / j.units), iterationsPerSecond: round(iterations / j.seconds),
        seconds: round(j.seconds), ...(note ? { note } : {}), provenance,
      };
    } finally {
      model.dispose();
    }
  }
  await leaveTargets();
};
