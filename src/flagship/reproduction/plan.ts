import type { GridUnit, JsonValue } from '../../engine/grid/unit.ts';
import { distillConfig } from '../ml/distillation.ts';
import { deriveSeed } from '../ml/random.ts';
import type { AttackSpec } from '../ml/attacks/evaluate.ts';
import { FGSM_VARIANTS } from '../ml/attacks/types.ts';
import { baseTrainConfig, type ExperimentParams } from './params.ts';

/**
 * The experiment grid as plain units (pure: the same parameters always give the same
 * units, hence the same artifact keys, whichever notebook asks).
 *
 * Networks, per replicate seed: an optional `warmstart` (trained `warmStartEpochs` at T = 1
 * on hard labels, the starting point of all the others), the `baseline` (hard labels, T = 1)
 * and, per temperature T, `T<T>/teacher` (hard labels at T) and `T<T>/student` (the teacher's
 * soft labels at T, deployed at T = 1). At T = 1 the teacher is exactly the baseline (same
 * data, seed and config), so the baseline unit serves as that teacher.
 *
 * The first replicate (seed `p.seed`) has every temperature; the others (seeds p.seed + 1,
 * ...) only what the headline rows need: the baseline and the highest temperature. Their
 * ids are prefixed `seed<S>/`.
 *
 * Attacks: `<model>/<attack>` for the baseline and every student, and the control
 * `baseline/fgsm-logits-x<T>`: FGSM on the baseline with its logits multiplied by T, no
 * training, which separates what the logit scale does from what distillation does.
 */

/** What every unit's result depends on besides its own inputs: the environment it runs in. */
export interface GridEnvironment {
  /** The resolved backend name (results differ in the last bits between backends). */
  backend: string;
  /** sha256 of each MNIST file. */
  data: Record<string, string>;
}

export type AttackUnitName = 'fgsm' | 'fgsm-temperature' | 'pgd' | 'jsma';

export const BASELINE = 'baseline';
/** Unit-id prefix of replicate `r` (0 = the main run, no prefix). */
export const replicatePrefix = (p: ExperimentParams, r: number): string => (r === 0 ? '' : `seed${p.seed + r}/`);
export const warmStartId = (prefix = ''): string => `${prefix}warmstart`;
export const teacherId = (T: number, prefix = ''): string => (T === 1 ? `${prefix}${BASELINE}` : `${prefix}T${T}/teacher`);
export const studentId = (T: number, prefix = ''): string => `${prefix}T${T}/student`;
/** The baseline as it was after `epoch` of its training (a snapshot of that run). */
export const checkpointId = (epoch: number, prefix = ''): string => `${prefix}${BASELINE}@e${epoch}`;
/** The epoch of a checkpoint unit's id, or undefined for any other network. */
export const checkpointEpochOf = (model: string): number | undefined => {
  const m = /@e(\d+)$/.exec(model);
  return m ? Number(m[1]) : undefined;
};
export const attackId = (model: string, attack: AttackUnitName): string => `${model}/${attack}`;
/** The control unit: FGSM on the baseline with logits x T. */
export const scaledControlId = (T: number, prefix = ''): string => `${prefix}${BASELINE}/fgsm-logits-x${T}`;
/**
 * Shard groups: each temperature's chain of the main seed stays on one machine; a replicate
 * seed (small: its baseline and one temperature) is one group. The warm start, which every
 * group of its seed needs, is computed by each shard that needs it (`everyShard`).
 */
const groupOf = (T: number, prefix: string): string => (prefix ? prefix.slice(0, -1) : `T${T}`);

export type TrainRole = 'warmstart' | 'baseline' | 'teacher' | 'student';

export interface TrainUnitInputs {
  role: TrainRole;
  temperature: number;
  /** For role 'student': the teacher's inputs (its soft labels are the student's targets). */
  teacher?: TrainUnitInputs;
  /** The network whose weights this one starts from (absent: the seeded initialisation). */
  warmStart?: TrainUnitInputs;
  config: ReturnType<typeof baseTrainConfig>;
  env: GridEnvironment;
  /**
   * The network as it was after this epoch of its training (a checkpoint; absent: the whole
   * run). Not part of the network's identity: the checkpoint is a snapshot of that very run.
   */
  checkpointEpoch?: number;
  /** Epochs whose snapshots the run keeps for checkpoint units (not part of its identity either). */
  keepSnapshots?: number[];
}

export interface AttackUnitInputs {
  attack: AttackUnitName;
  spec: AttackSpec;
  /** The attacked network's training inputs. */
  model: TrainUnitInputs;
  /** First `count` images of the MNIST test set. */
  samples: { start: number; count: number };
  env: GridEnvironment;
}

/** The warm start of replicate `r`, or undefined when the profile has none. */
export function warmStartInputs(p: ExperimentParams, env: GridEnvironment, r = 0): TrainUnitInputs | undefined {
  if (p.warmStartEpochs === 0) return undefined;
  const base = baseTrainConfig({ ...p, seed: p.seed + r });
  return {
    role: 'warmstart', temperature: 1, env,
    config: { ...base, epochs: p.warmStartEpochs, learningRateSchedule: 'constant', seed: deriveSeed(base.seed, 'warmstart') },
  };
}

/** The training inputs of replicate `r`'s teacher (T = 1: the baseline) or student at T. */
export function trainInputs(p: ExperimentParams, env: GridEnvironment, T: number, role: 'teacher' | 'student', r = 0): TrainUnitInputs {
  const base = baseTrainConfig({ ...p, seed: p.seed + r });
  const d = distillConfig(T, base);
  const warmStart = warmStartInputs(p, env, r);
  const from = warmStart ? { warmStart } : {};
  if (role === 'teacher') {
    // The main seed's baseline keeps the snapshots its checkpoint units read.
    const keep = r === 0 && p.checkpointEpochs.length > 0 ? { keepSnapshots: [...p.checkpointEpochs] } : {};
    return T === 1
      ? { role: 'baseline', temperature: 1, config: base, env, ...from, ...keep }
      : { role: 'teacher', temperature: T, config: d.teacher, env, ...from };
  }
  return { role: 'student', temperature: T, teacher: trainInputs(p, env, T, 'teacher', r), config: d.student, env, ...from };
}

/** Which units a notebook needs: the grid is closed under deps by `planUnits`. */
export interface UnitSelection {
  /** 'baseline': only the undistilled network; 'all' (default): every teacher and student too. */
  networks?: 'baseline' | 'all';
  attacks?: AttackUnitName[];
}

function attackSpec(p: ExperimentParams, attack: AttackUnitName, T: number): AttackSpec {
  switch (attack) {
    // Every FGSM variant (float32 or exact gradient, clipped or not) from shared passes; the
    // first, the framework's float32 gradient clipped to [0, 1], is the unit's headline.
    case 'fgsm': return { kind: 'fgsm', eps: p.fgsmEps, loss: 'softmax-cross-entropy', temperature: 1, variants: [...FGSM_VARIANTS] };
    case 'fgsm-temperature': return { kind: 'fgsm', eps: p.fgsmEps, loss: 'softmax-cross-entropy', temperature: T };
    case 'pgd': return { kind: 'pgd', eps: p.fgsmEps, steps: p.pgdSteps, stepSize: p.pgdStepSize, randomStart: true, seed: p.seed };
    case 'jsma': return { kind: 'jsma', variant: 'F', gamma: p.jsmaGamma };
  }
}

/** Test digits an attack runs on; the headline rows (the baseline, the highest temperature) may have more JSMA digits. */
function sampleCount(p: ExperimentParams, attack: AttackUnitName, headline: boolean): number {
  if (attack === 'jsma') return headline ? Math.max(p.jsmaSamples, p.jsmaHeadlineSamples) : p.jsmaSamples;
  if (attack === 'pgd') return p.pgdSamples;
  return p.fgsmSamples;
}

/** Relative costs, so that the pool starts long chains first and shards balance. */
function trainCost(p: ExperimentParams, epochs: number): number {
  const n = p.trainSize === 'all' ? 60000 - p.validationSize : p.trainSize;
  return (n * epochs) / 1000;
}

/** The highest temperature: the headline row, replicated over `p.seeds`. */
export function headlineTemperature(p: ExperimentParams): number {
  return Math.max(...p.temperatures);
}

/**
 * The units for `p`: every network, plus the attacks selected. The models attacked are the
 * baseline and each temperature's student; temperature-corrected FGSM only where T > 1
 * (at T = 1 it is FGSM itself); the logits x T control with FGSM, for every T > 1.
 */
export function planUnits(p: ExperimentParams, env: GridEnvironment, select: UnitSelection = {}): GridUnit[] {
  const units: GridUnit[] = [];
  const asJson = (v: unknown) => v as unknown as Record<string, JsonValue>;
  const cost = trainCost(p, p.epochs);
  for (let r = 0; r < p.seeds; r++) {
    const prefix = replicatePrefix(p, r);
    const warm = warmStartInputs(p, env, r);
    const warmDeps = warm ? [warmStartId(prefix)] : [];
    if (warm) units.push({ id: warmStartId(prefix), kind: 'train', inputs: asJson(warm), group: groupOf(1, prefix), cost: trainCost(p, p.warmStartEpochs), everyShard: true });
    units.push({ id: `${prefix}${BASELINE}`, kind: 'train', inputs: asJson(trainInputs(p, env, 1, 'teacher', r)), deps: warmDeps, group: groupOf(1, prefix), cost });
    const all = select.networks === 'baseline' ? [] : p.temperatures;
    const temperatures = r === 0 ? all : all.filter((T) => T === headlineTemperature(p));
    for (const T of temperatures) {
      if (T !== 1) units.push({ id: teacherId(T, prefix), kind: 'train', inputs: asJson(trainInputs(p, env, T, 'teacher', r)), deps: warmDeps, group: groupOf(T, prefix), cost });
      units.push({ id: studentId(T, prefix), kind: 'train', inputs: asJson(trainInputs(p, env, T, 'student', r)), deps: [teacherId(T, prefix), ...warmDeps], group: groupOf(T, prefix), cost });
    }
    const baseline = trainInputs(p, env, 1, 'teacher', r);
    // The main seed's baseline at its checkpoint epochs (the last is the baseline itself).
    const checkpoints = r === 0 ? p.checkpointEpochs.filter((e) => e < p.epochs) : [];
    for (const e of checkpoints) {
      units.push({ id: checkpointId(e, prefix), kind: 'train', inputs: asJson({ ...baseline, checkpointEpoch: e }), deps: [`${prefix}${BASELINE}`], group: groupOf(1, prefix), cost: 1 });
    }
    const targets: Array<{ model: string; T: number; inputs: TrainUnitInputs }> = [
      { model: `${prefix}${BASELINE}`, T: 1, inputs: baseline },
      ...temperatures.map((T) => ({ model: studentId(T, prefix), T, inputs: trainInputs(p, env, T, 'student', r) })),
    ];
    // Replicates only repeat the paper's attack on the headline rows.
    const attacks = r === 0 ? select.attacks ?? [] : (select.attacks ?? []).filter((a) => a === 'fgsm');
    for (const attack of attacks) {
      const count = sampleCount(p, attack, false);
      const perSample = attack === 'jsma' ? 9 * 30 : attack === 'pgd' ? p.pgdSteps : 1;
      const unitCost = (count * perSample) / 2000;
      for (const t of targets) {
        if (attack === 'fgsm-temperature' && t.T === 1) continue;
        const count = sampleCount(p, attack, t.model === `${prefix}${BASELINE}` || t.T === headlineTemperature(p));
        if (count === 0) continue;
        const unitCost = (count * perSample) / 2000;
        const inputs: AttackUnitInputs = { attack, spec: attackSpec(p, attack, t.T), model: t.inputs, samples: { start: 0, count }, env };
        units.push({ id: attackId(t.model, attack), kind: 'attack', inputs: asJson(inputs), deps: [t.model], group: groupOf(t.T, prefix), cost: unitCost });
      }
      if (attack !== 'fgsm' || r > 0 || count === 0) continue;
      for (const e of checkpoints) {
        const inputs: AttackUnitInputs = { attack, spec: attackSpec(p, attack, 1), model: { ...baseline, checkpointEpoch: e }, samples: { start: 0, count }, env };
        units.push({ id: attackId(checkpointId(e, prefix), attack), kind: 'attack', inputs: asJson(inputs), deps: [checkpointId(e, prefix)], group: groupOf(1, prefix), cost: unitCost });
      }
      for (const T of all) {
        if (T === 1) continue;
        const spec: AttackSpec = { ...attackSpec(p, 'fgsm', 1), logitScale: T } as AttackSpec;
        const inputs: AttackUnitInputs = { attack, spec, model: baseline, samples: { start: 0, count }, env };
        units.push({ id: scaledControlId(T, prefix), kind: 'attack', inputs: asJson(inputs), deps: [`${prefix}${BASELINE}`], group: groupOf(T, prefix), cost: unitCost });
      }
    }
  }
  return units;
}
