import type { MessagePort } from 'node:worker_threads';
import type { ArtifactKey } from '../store/artifacts.ts';
import { executeUnit, type UnitOutcome } from './execute.ts';
import type { GridUnit, JsonValue } from './types.ts';

/** What the parent posts to a worker for one unit (structured-cloned; `port` transferred). */
export interface WorkerTask {
  handlerUrl: string;
  handlerConfig: JsonValue;
  unit: GridUnit;
  key: ArtifactKey;
  deps: Record<string, JsonValue>;
  storeRoot: string;
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
