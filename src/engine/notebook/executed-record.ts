import type { ExecutedNotebook, NotebookDocument } from '../core/records.ts';

/**
 * What an execution produced, packaged with what identifies the run: one shape for every
 * executor (runner.ts in this thread, isolation.ts in a worker). Pure: where the run happened
 * (core/environment.ts) is the executor's to find out and pass in.
 */
export function executedRecord(
  doc: NotebookDocument, opts: Pick<ExecutedNotebook, 'profile' | 'params' | 'cacheKey' | 'cacheKeyInputs'>,
  run: Pick<ExecutedNotebook, 'status' | 'cells' | 'results' | 'startedAt' | 'wallTimeMs' | 'environment'>,
): ExecutedNotebook {
  return {
    format: 'reprobook.executed/1',
    notebook: doc,
    profile: opts.profile,
    params: opts.params,
    cacheKey: opts.cacheKey,
    cacheKeyInputs: opts.cacheKeyInputs,
    status: run.status,
    cells: run.cells,
    results: run.results,
    startedAt: run.startedAt,
    wallTimeMs: run.wallTimeMs,
    environment: run.environment,
  };
}
