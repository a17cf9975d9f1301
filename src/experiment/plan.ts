import type { GridUnit, JsonValue } from '../grid/types.ts';
import { distillConfig } from '../ml/distillation.ts';
import type { AttackSpec } from '../ml/attacks/evaluate.ts';
import { baseTrainConfig, type ExperimentParams } from './params.ts';

/**
 * The experiment grid as plain units (pure: the same parameters always give the same
 * units, hence the same artifact keys, whichever notebook asks).
 *
 * Models: `baseline` (hard labels, T = 1) and, per temperature T, `T<T>/teacher` (hard
 * labels at T) and `T<T>/student` (the teacher's soft labels at T, deployed at T = 1).
 * At T = 1 the teacher is exactly the baseline (same data, seed and config), so the
 * baseline unit serves as that teacher instead of training the same network twice.
 * Attacks: `<model>/<attack>` for the baseline and every student.
 */

/** What every unit's result depends on besides its own inputs: the environment it runs in. */
export interface GridEnvironment {
  /** The resolved backend name (results differ in the last bits between backends). */
  backend: string;
  /** sha256 of each MNIST file. */
  data: Record<string, string>;
}

export type AttackUnitName = 'fgsm' | 'fgsm-temperature' | 'pgd' | 'jsma' | 'saturation';

export const BASELINE = 'baseline';
export const teacherId = (T: number): string => (T === 1 ? BASELINE : `T${T}/teacher`);
export const studentId = (T: number): string => `T${T}/student`;
export const attackId = (model: string, attack: AttackUnitName): string => `${model}/${attack}`;
const groupOf = (T: number): string => `T${T}`;

export interface TrainUnitInputs {
  role: 'baseline' | 'teacher' | 'student';
  temperature: number;
  /** For role 'student': the teacher's inputs (its soft labels are the student's targets). */
  teacher?: TrainUnitInputs;
  config: ReturnType<typeof baseTrainConfig>;
  env: GridEnvironment;
}

export interface AttackUnitInputs {
  attack: AttackUnitName;
  spec: AttackSpec | { kind: 'saturation'; temperature: number };
  /** The attacked network's training inputs. */
  model: TrainUnitInputs;
  /** First `count` images of the MNIST test set. */
  samples: { start: number; count: number };
  env: GridEnvironment;
}

export function trainInputs(p: ExperimentParams, env: GridEnvironment, T: number, role: 'teacher' | 'student'): TrainUnitInputs {
  const d = distillConfig(T, baseTrainConfig(p));
  if (role === 'teacher') {
    return T === 1
      ? { role: 'baseline', temperature: 1, config: baseTrainConfig(p), env }
      : { role: 'teacher', temperature: T, config: d.teacher, env };
  }
  return { role: 'student', temperature: T, teacher: trainInputs(p, env, T, 'teacher'), config: d.student, env };
}

/** Which units a notebook needs: the grid is closed under deps by `planUnits`. */
export interface UnitSelection {
  /** 'baseline': only the undistilled network; 'all' (default): every teacher and student too. */
  networks?: 'baseline' | 'all';
  attacks?: AttackUnitName[];
}

function attackSpec(p: ExperimentParams, attack: AttackUnitName, T: number): AttackUnitInputs['spec'] {
  switch (attack) {
    case 'fgsm': return { kind: 'fgsm', eps: p.fgsmEps, loss: 'softmax-cross-entropy', temperature: 1 };
    case 'fgsm-temperature': return { kind: 'fgsm', eps: p.fgsmEps, loss: 'softmax-cross-entropy', temperature: T };
    case 'pgd': return { kind: 'pgd', eps: p.fgsmEps, steps: p.pgdSteps, stepSize: p.pgdStepSize, randomStart: true, seed: p.seed };
    case 'jsma': return { kind: 'jsma', variant: 'F', gamma: p.jsmaGamma };
    case 'saturation': return { kind: 'saturation', temperature: 1 };
  }
}

function sampleCount(p: ExperimentParams, attack: AttackUnitName): number {
  if (attack === 'jsma') return p.jsmaSamples;
  if (attack === 'pgd') return p.pgdSamples;
  return p.fgsmSamples;
}

/** Relative costs, so that the pool starts long chains first and shards balance. */
function trainCost(p: ExperimentParams): number {
  const n = p.trainSize === 'all' ? 60000 - p.validationSize : p.trainSize;
  return (n * p.epochs) / 1000;
}

/**
 * The units for `p`: every network, plus the attacks selected. The models attacked are the
 * baseline and each temperature's student; temperature-corrected FGSM only where T > 1
 * (at T = 1 it is FGSM itself).
 */
export function planUnits(p: ExperimentParams, env: GridEnvironment, select: UnitSelection = {}): GridUnit[] {
  const units: GridUnit[] = [];
  const asJson = (v: unknown) => v as unknown as Record<string, JsonValue>;
  const cost = trainCost(p);
  units.push({ id: BASELINE, kind: 'train', inputs: asJson(trainInputs(p, env, 1, 'teacher')), group: groupOf(1), cost });
  const temperatures = select.networks === 'baseline' ? [] : p.temperatures;
  for (const T of temperatures) {
    if (T !== 1) units.push({ id: teacherId(T), kind: 'train', inputs: asJson(trainInputs(p, env, T, 'teacher')), group: groupOf(T), cost });
    units.push({ id: studentId(T), kind: 'train', inputs: asJson(trainInputs(p, env, T, 'student')), deps: [teacherId(T)], group: groupOf(T), cost });
  }
  const targets: Array<{ model: string; T: number; inputs: TrainUnitInputs }> = [
    { model: BASELINE, T: 1, inputs: trainInputs(p, env, 1, 'teacher') },
    ...temperatures.map((T) => ({ model: studentId(T), T, inputs: trainInputs(p, env, T, 'student') })),
  ];
  for (const attack of select.attacks ?? []) {
    for (const t of targets) {
      if (attack === 'fgsm-temperature' && t.T === 1) continue;
      const count = sampleCount(p, attack);
      if (count === 0) continue;
      const inputs: AttackUnitInputs = { attack, spec: attackSpec(p, attack, t.T), model: t.inputs, samples: { start: 0, count }, env };
      const perSample = attack === 'jsma' ? 9 * 30 : attack === 'pgd' ? p.pgdSteps : 1;
      units.push({ id: attackId(t.model, attack), kind: 'attack', inputs: asJson(inputs), deps: [t.model], group: groupOf(t.T), cost: (count * perSample) / 2000 });
    }
  }
  return units;
}
