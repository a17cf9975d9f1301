import { parentPort, workerData } from 'node:worker_threads';
import type { GridMessage, GridTask } from './grid.ts';
import { enterTarget } from './targets.ts';
import { measureInputGradient, measureTraining } from './training.ts';

/** One worker of a grid measurement: enter the target, warm up, wait for 'go', measure, answer. */
export async function runGridTask(): Promise<void> {
  const port = parentPort!;
  const task = workerData as GridTask;
  const send = (m: GridMessage) => port.postMessage(m);
  try {
    const entered = await enterTarget(task.target);
    if (!entered.ok) return send({ error: entered.reason });
    const go = new Promise<void>((resolve) => port.once('message', () => resolve()));
    const options = { ...task.options, ready: () => { send({ ready: true }); return go; } };
    const result = await (task.phase === 'training' ? measureTraining(options) : measureInputGradient(options));
    send({ result });
  } catch (err) {
    send({ error: (err as Error).message });
  }
}
