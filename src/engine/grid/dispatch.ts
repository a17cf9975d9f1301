import { MessageChannel } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import type { ArtifactKey } from '../store/artifacts.ts';
import { executeUnit, type UnitOutcome, type UnitRun } from './execute.ts';
import type { GridUnit, JsonValue } from './unit.ts';
import type { WorkerTask } from './worker-task.ts';

/**
 * Where a unit runs: inline, in this thread (workers = 1), or on a piscina pool of worker
 * threads. Either way the unit's progress and log messages arrive through `send`, and its
 * result comes back read from the store (execute.ts).
 */

/** What every unit of a run shares: the handler, its config, the store, and where messages go. */
export type DispatchContext = Pick<UnitRun, 'handlerUrl' | 'handlerConfig' | 'storeRoot' | 'send' | 'signal'>;

export interface Dispatcher {
  run(unit: GridUnit, key: ArtifactKey, deps: Record<string, JsonValue>): Promise<UnitOutcome>;
  /** Stop the threads, if any were started. */
  close(): Promise<void>;
}

export function inlineDispatcher(ctx: DispatchContext): Dispatcher {
  return {
    run: (unit, key, deps) => executeUnit({ ...ctx, unit, key, deps }),
    close: async () => {},
  };
}

export function poolDispatcher(ctx: DispatchContext, workers: number): Dispatcher {
  let pool: Promise<Piscina<WorkerTask, UnitOutcome>> | undefined;
  return {
    async run(unit, key, deps) {
      // Created on the first miss (a run where everything is cached starts no thread at all),
      // once: two units may reach this point together.
      pool ??= import('piscina').then(
        ({ Piscina }) =>
          new Piscina<WorkerTask, UnitOutcome>({
            filename: new URL('./worker.mjs', import.meta.url).href,
            maxThreads: workers,
            minThreads: 0,
            // Keep idle workers (and their initialised backends) while units wait for deps.
            idleTimeout: 60_000,
            // worker.mjs registers tsx itself; inheriting e.g. node --test flags would not help.
            execArgv: [],
            atomics: 'disabled',
          }),
      );
      const piscina = await pool;
      const { port1, port2 } = new MessageChannel();
      port1.on('message', ctx.send);
      const closed = new Promise<void>((r) => port1.once('close', () => r()));
      try {
        const task: WorkerTask = { handlerUrl: ctx.handlerUrl, handlerConfig: ctx.handlerConfig, storeRoot: ctx.storeRoot, unit, key, deps, port: port2 };
        return await piscina.run(task, { transferList: [port2], signal: ctx.signal });
      } finally {
        // The worker closes its end after its last message; a crashed worker may never do so.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, 1000)))]);
        clearTimeout(timer);
        port1.close();
      }
    },
    async close() {
      await (await pool)?.destroy();
    },
  };
}
