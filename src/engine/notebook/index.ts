/**
 * The notebook package's public API, for the CLI and the report builder.
 * Importing this loads no heavy dependency (jsdom and Plot load only when a notebook runs).
 */
export { parseNotebook, parseNotebookSource, codeCells, NotebookFormatError } from './format.ts';
export { loadProjectConfig, parseProjectConfig, CONFIG_FILE, type ProjectConfig } from './config.ts';
export { resolveParams, validateRequest, parseParamValue, parseOverrides, knownProfiles } from './params.ts';
export { computeCacheKey, importedSources, localSourceDigests, dataChecksums, CACHE_FORMAT, type CacheKey } from './cache.ts';
export { executeCells, executeNotebook, cellFilename, type ExecuteOptions, type ExecutionResult } from './runner.ts';
export { runProject, runOneNotebook, selectNotebooks, formatCellError, InterruptedError, type ProjectRunRequest, type ProjectRunResult, type NotebookRunOutcome } from './project.ts';
export { executeNotebookIsolated, LINGER_MS, type IsolatedExecuteOptions } from './isolation.ts';
export { parseDuration, formatDuration, resolveLimits, DEFAULT_CELL_TIMEOUT, DEFAULT_NOTEBOOK_TIMEOUT, type Limit, type NotebookLimits } from './timeouts.ts';
export {
  listNotebooks, loadExecuted, loadExecutedNotebook, loadResults, collectResults, buildResults, writeExecuted,
  executedPath, resultsPath, profileDir, type NotebookFile,
} from '../store/executed.ts';
export { toIpynb, writeIpynb, itemToMimeBundle } from './ipynb.ts';
export { toDisplayItem, toJsonSafe, encodePng, itemToText, markdown, md } from './display.ts';
export { getEnvironment, gitState } from './environment.ts';
