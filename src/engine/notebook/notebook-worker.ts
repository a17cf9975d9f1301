import { parentPort, workerData } from 'node:worker_threads';
import { executeCells } from './runner.ts';
import { loadPlugin } from '../core/plugin.ts';
import type { ProgressReporter } from '../util/progress.ts';
import type { WorkerInput, WorkerMessage } from './isolation.ts';

/**
 * The worker side of isolation.ts: runs one notebook's cells in this thread's own realm
 * (its own globalThis, Math, prototypes and module instances) and reports each step to the
 * parent, which owns the time limits, the signals and the store.
 *
 * Nothing here listens on parentPort: a listener would keep this thread's event loop alive,
 * and a cell awaiting a promise that can never settle is found by that loop running dry.
 */

const port = parentPort!;
// A spare worker (isolation.ts) gets its notebook by message, once: the listener goes with
// it, so that the port does not keep this thread alive afterwards.
const input = (workerData as WorkerInput | null) ?? (await new Promise<WorkerInput>((resolve) => port.once('message', resolve)));
// The worker started with no variables (isolation.ts): the cells see the declared ones only.
for (const name of Object.keys(process.env)) delete process.env[name];
Object.assign(process.env, input.env);

function send(message: WorkerMessage): void {
  try {
    port.postMessage(message);
  } catch {
    // A value structured clone refuses (a function in a table cell, say): the stored form is JSON anyway.
    port.postMessage(JSON.parse(JSON.stringify(message)) as WorkerMessage);
  }
}

/** Progress bars are drawn by the parent, on its terminal; updates at most every 100 ms. */
function remoteProgress(): ProgressReporter {
  let next = 0;
  return {
    start(label, total, unit) {
      const id = next++;
      let last = 0;
      send({ type: 'progress', op: 'start', id, label, total, ...(unit !== undefined ? { unit } : {}) });
      return {
        update(done, u) {
          const now = Date.now();
          if (now - last < 100 && done < total) return;
          last = now;
          send({ type: 'progress', op: 'update', id, done, ...(u?.fields ? { fields: u.fields } : {}) });
        },
        done(summary) {
          send({ type: 'progress', op: 'done', id, ...(summary !== undefined ? { summary } : {}) });
        },
      };
    },
  };
}

send({ type: 'ready' });
try {
  const result = await executeCells(input.doc, {
    root: input.root,
    profile: input.profile,
    params: input.params,
    quietArtifacts: input.quietArtifacts,
    progress: remoteProgress(),
    onCell: ({ cell, phase, result: cellResult, published, artifactEvents }) => {
      if (phase === 'start') send({ type: 'cell-start', index: cell.index });
      else send({ type: 'cell-end', result: cellResult!, published: published ?? [], artifactEvents: artifactEvents ?? [] });
    },
    onLateError: (error) => send({ type: 'late-error', error }),
  });
  // The project's facts are read here, where its modules' state is the cells'; the rest of the run's environment in the parent.
  const facts = input.plugin ? await (await loadPlugin(input.plugin, input.root)).environment?.() : undefined;
  send({ type: 'done', result, facts: facts ?? {} });
} catch (err) {
  const e = (err instanceof Error ? err : new Error(String(err))) as Error & { hint?: string };
  send({ type: 'fatal', name: e.name, message: e.message, stack: e.stack ?? '', ...(typeof e.hint === 'string' ? { hint: e.hint } : {}) });
}
