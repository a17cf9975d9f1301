import type { MessagePort } from 'node:worker_threads';
import { executeUnit, type UnitOutcome, type UnitRun } from './execute.ts';

/** What the parent posts to a worker for one unit (structured-cloned; `port` transferred): a UnitRun whose messages go back on the port. */
export interface WorkerTask extends Omit<UnitRun, 'send' | 'signal'> {
  /** Progress and log messages go back to the parent on this port. */
  port: MessagePort;
}

/** The piscina task function (see worker.mjs, which registers tsx before importing this). */
export default async function runWorkerTask(task: WorkerTask): Promise<UnitOutcome> {
  try {
    return await executeUnit({ ...task, send: (m) => task.port.postMessage(m) });
  } finally {
    // The parent waits for this close, so no progress message arrives after the result.
    task.port.close();
  }
}
