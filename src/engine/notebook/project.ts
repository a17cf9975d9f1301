import { resolve, relative, sep, basename, extname } from 'node:path';
import { existsSync } from 'node:fs';
import type { CellError, ExecutedNotebook, NotebookDocument, Params, ResultsFile } from '../core/records.ts';
import { declaredEnvironment, loadProjectConfig, type ProjectConfig } from './config.ts';
import { parseNotebook } from './markdown-format.ts';
import { resolveParams, validateRequest } from './params.ts';
import { alwaysRuns, computeCacheKey, type RunCapabilities } from './cache.ts';
import { executeNotebookIsolated, WorkerSupply, type WorkerInput } from './isolation.ts';
import { checkLinks, sandboxPolicy, type SandboxRequest } from '../sandbox/policy.ts';
import { pluginPath } from '../core/plugin.ts';
import { resolveLimits } from './timeouts.ts';
import { clearFailed, collectResults, listNotebooks, loadExecutedNotebook, storeLateFailureSync, writeExecuted, type NotebookFile } from '../store/executed.ts';
import { UserError } from '../util/errors.ts';
import type { ProgressReporter } from '../util/progress.ts';

/**
 * Running a project's notebooks: selection, parameters, the cache decision, storage of the
 * executed form and collection of results. The CLI is a thin layer over runProject().
 */

export interface ProjectRunRequest {
  root: string;
  /** Notebook names (`02-train`) or paths; all notebooks when empty. */
  notebooks?: string[];
  /** Profile name; undefined takes the config's defaultProfile; null forces none. */
  profile?: string | null;
  /** Raw `--param name=value` overrides. */
  overrides?: Record<string, string>;
  /**
   * Parameter values an earlier run recorded, per notebook name: they win over the profile
   * and the overrides for every parameter the notebook still declares (`reprobook verify`
   * re-runs a published run with exactly its values, typed as they were).
   */
  recordedParams?: Record<string, Params>;
  /**
   * The environment variables of the run: the project's configured `environment:` names
   * take their values from here, for the cache keys and for the cells, which see those and
   * no others. Default: this process's, read here at the entry and passed down, never deeper.
   */
  env?: Record<string, string | undefined>;
  force?: boolean;
  /**
   * Run the cells under --sandbox (src/engine/sandbox): in a process of their own that may read
   * only the project, reprobook and what the config's `sandbox:` declares, write only the
   * store, and start no process and open no connection.
   */
  sandbox?: SandboxRequest;
  /** Status lines for the terminal (default: none). */
  log?: (line: string) => void;
  progress?: ProgressReporter;
  quietArtifacts?: boolean;
  /**
   * Aborting stops the run: the running cell is stopped, its notebook stored as failed, the
   * results file rewritten from the runs that finished, and the result says `interrupted`. The
   * reason, a string, says by what in the stopped cell's error: the CLI aborts with the signal's
   * name on Ctrl-C or SIGTERM (cli/run-control.ts), a preview when an edit made the run stale.
   */
  signal?: AbortSignal;
  /**
   * A notebook failed after it was reported as run (a cell's timer or promise raised an error
   * late): its outcome and stored record are already updated. The CLI exits non-zero for it;
   * runProject itself never touches the process.
   */
  onLateFailure?: (notebook: string) => void;
}

/** A run that was stopped (ProjectRunResult.interrupted), as a command reports it; the CLI exits with `exitCode` (128 + the signal's number). */
export class InterruptedError extends UserError {
  readonly exitCode: number;
  constructor(readonly signal: string, where: string | null) {
    super(`interrupted by ${signal}${where ? `: stopped ${where}` : ''}`,
      'run the same command again: notebooks that finished are cached, and the stopped one resumes from its last stored artifact');
    this.name = 'InterruptedError';
    this.exitCode = signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1;
  }
}

export interface NotebookRunOutcome {
  name: string;
  path: string;
  status: 'cached' | 'ran' | 'failed';
  cacheKey: string;
  wallTimeMs: number;
  params: Params;
  executed: ExecutedNotebook;
  error?: CellError;
}

export interface ProjectRunResult {
  profile: string | null;
  outcomes: NotebookRunOutcome[];
  results: ResultsFile;
  /** Every notebook ran or was cached. */
  ok: boolean;
  /** The run was stopped (`signal`): by what (the abort's reason), and the cell it stopped, if one was running. */
  interrupted: { by: string; where: string | null } | null;
}

/** A stopped run as the error a command fails with (exit code 130 for Ctrl-C, 143 for SIGTERM); nothing when it finished. */
export function throwIfInterrupted(result: Pick<ProjectRunResult, 'interrupted'>): void {
  if (result.interrupted) throw new InterruptedError(result.interrupted.by, result.interrupted.where);
}

/** Select notebooks by name or path; an unknown one is a UserError listing the valid names. */
export async function selectNotebooks(root: string, wanted: string[] = []): Promise<NotebookFile[]> {
  const all = await listNotebooks(root);
  if (all.length === 0) throw new UserError(`no notebooks found in ${resolve(root, 'notebooks')}`, 'put notebooks as Markdown files in <root>/notebooks/*.md or pass --root');
  if (wanted.length === 0) return all;
  const out: NotebookFile[] = [];
  for (const w of wanted) {
    const asPath = resolve(w);
    const rel = existsSync(asPath) ? relative(resolve(root), asPath).split(sep).join('/') : null;
    const name = basename(w, extname(w));
    const hit = all.find((n) => n.path === rel || n.path === w || n.name === w || (extname(w) === '.md' && n.name === name));
    if (!hit) throw new UserError(`no notebook '${w}' in ${resolve(root, 'notebooks')}`, `notebooks: ${all.map((n) => n.name).join(', ')}`);
    if (!out.includes(hit)) out.push(hit);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

function short(key: string): string {
  return key.slice(0, 12);
}

export function formatCellError(doc: NotebookDocument, e: CellError): string {
  const where = e.fileLine !== undefined ? `${doc.path}:${e.fileLine}` : doc.path;
  const cell = `cell ${e.cellIndex + 1}${e.cellLine !== undefined ? `, line ${e.cellLine}` : ''}`;
  const stack = e.stack ? e.stack.split('\n').slice(1).map((l) => `    ${l.trim()}`).join('\n') : '';
  return `${where} (${cell}): ${e.name}: ${e.message}${stack ? `\n${stack}` : ''}`;
}

export async function runOneNotebook(root: string, doc: NotebookDocument, profile: string | null, params: Params, config: ProjectConfig,
  opts: Pick<ProjectRunRequest, 'force' | 'log' | 'progress' | 'quietArtifacts' | 'onLateFailure'> & { env: Record<string, string | undefined>; signal?: AbortSignal; prewarm?: boolean; workers?: WorkerSupply; capabilities?: RunCapabilities }): Promise<NotebookRunOutcome> {
  const log = opts.log ?? (() => {});
  const { key, inputs, warnings } = await computeCacheKey(root, doc, params, config, opts.env, opts.capabilities);
  for (const w of warnings) log(`${doc.name}: ${w}`);
  const { good, unreadable } = await loadExecutedNotebook(root, profile, doc.name);
  for (const u of unreadable) log(`${doc.name}: the stored run ${relative(root, u.path)} is unreadable (${u.reason}); treating it as a cache miss`);
  const base = { name: doc.name, path: doc.path, cacheKey: key, params };
  if (!opts.force && good && good.status === 'ok' && good.cacheKey === key && !alwaysRuns(doc)) {
    // Same code, parameters and inputs: reuse outputs, refreshing prose (and line numbers) from the file.
    if (JSON.stringify(good.notebook) !== JSON.stringify(doc)) {
      good.notebook = doc;
      await writeExecuted(root, good);
    }
    await clearFailed(root, profile, doc.name);
    log(`${doc.name}: cached (key ${short(key)}, ran ${good.startedAt} in ${(good.wallTimeMs / 1000).toFixed(1)}s)`);
    return { ...base, status: 'cached', wallTimeMs: good.wallTimeMs, executed: good };
  }
  log(`${doc.name}: running (key ${short(key)})`);
  const total = doc.blocks.filter((b) => b.kind === 'code').length;
  // A cell's timer or promise may fail after the notebook finished, even after it was stored
  // as ok: fail it then (outcome and store), and tell the caller (the CLI exits non-zero).
  let stored: { executed: ExecutedNotebook; outcome: NotebookRunOutcome } | null = null;
  const late: CellError[] = [];
  const failLate = (error: CellError) => {
    const { executed: ex, outcome } = stored!;
    const wasGood = ex.status === 'ok';
    ex.status = 'error';
    ex.cells[error.cellIndex]!.error ??= error;
    outcome.status = 'failed';
    outcome.error ??= error;
    storeLateFailureSync(root, ex, wasGood);
    // results.json must not keep what a failed run published.
    if (wasGood) collectResults(root, profile).catch(() => {});
  };
  let lateSeen = false;
  const onLateError = (error: CellError) => {
    // The first one fails the notebook; a timer that keeps failing (setInterval) must not flood the terminal.
    if (lateSeen) return;
    lateSeen = true;
    log(`${doc.name}: FAILED after it finished, at ${formatCellError(doc, error)}`);
    opts.onLateFailure?.(doc.name);
    if (stored) failLate(error);
    else late.push(error);
  };
  // In a worker thread of its own: a fresh global environment, and a cell that can be stopped.
  const executed = await executeNotebookIsolated(doc, {
    root, profile, params, env: declaredEnvironment(config, opts.env), cacheKey: key, cacheKeyInputs: inputs, progress: opts.progress, quietArtifacts: opts.quietArtifacts, onLateError,
    limits: resolveLimits(doc, config),
    ...(config.plugin ? { plugin: pluginPath(root, config.plugin)! } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    prewarm: opts.prewarm ?? false,
    ...(opts.workers ? { workers: opts.workers } : {}),
    // Long cells get a line of their own, so that a slow notebook shows where its time goes.
    onCell: ({ cell, phase, result }) => {
      if (phase === 'end' && result && !result.error && result.durationMs >= 2000) {
        log(`  cell ${cell.index + 1}/${total}${cell.options.label ? ` (${cell.options.label})` : ''}: ${(result.durationMs / 1000).toFixed(1)}s`);
      }
    },
  });
  await writeExecuted(root, executed);
  const secs = (executed.wallTimeMs / 1000).toFixed(1);
  let outcome: NotebookRunOutcome;
  if (executed.status === 'ok') {
    log(`${doc.name}: ran in ${secs}s (key ${short(key)})`);
    outcome = { ...base, status: 'ran', wallTimeMs: executed.wallTimeMs, executed };
  } else {
    const error = executed.cells.find((c) => c.error)!.error!;
    log(`${doc.name}: FAILED after ${secs}s at ${formatCellError(doc, error)}`);
    if (good) log(`${doc.name}: the outputs of the last good run (${good.startedAt}) are kept`);
    outcome = { ...base, status: 'failed', wallTimeMs: executed.wallTimeMs, executed, error };
  }
  stored = { executed, outcome };
  for (const error of late.splice(0)) failLate(error);
  return outcome;
}

/** The notebook as it runs: the project-wide parameters declared too (its own declarations win). */
export function withProjectParameters(doc: NotebookDocument, config: ProjectConfig): NotebookDocument {
  if (Object.keys(config.parameters).length === 0) return doc;
  return { ...doc, frontMatter: { ...doc.frontMatter, parameters: { ...config.parameters, ...doc.frontMatter.parameters } } };
}

/**
 * Run the selected notebooks in file-name order. A failing notebook does not stop the
 * others (each has its own scope); the result says whether all succeeded.
 */
export async function runProject(req: ProjectRunRequest): Promise<ProjectRunResult> {
  const root = resolve(req.root);
  const config = await loadProjectConfig(root);
  const files = await selectNotebooks(root, req.notebooks);
  const docs: NotebookDocument[] = [];
  for (const f of files) docs.push(withProjectParameters(await parseNotebook(f.file, f.path), config));
  const profile = req.profile === undefined ? config.defaultProfile : req.profile;
  const request = { profile, overrides: req.overrides ?? {} };
  const env = req.env ?? { ...process.env };
  validateRequest(config, docs, request);
  const log = req.log ?? (() => {});
  log(`profile: ${profile ?? 'default (no profile)'}`);
  // Resolve every notebook's parameters first, so that a bad value fails before anything runs.
  const params = docs.map((doc) => {
    const resolved = resolveParams(config, doc, request);
    const recorded = req.recordedParams?.[doc.name] ?? {};
    for (const k of Object.keys(resolved)) if (k in recorded) resolved[k] = recorded[k]!;
    return resolved;
  });
  const outcomes: NotebookRunOutcome[] = [];
  const sandbox = req.sandbox ? await startSandbox(root, config, req.sandbox, env, log) : null;
  try {
    for (const [i, doc] of docs.entries()) {
      if (req.signal?.aborted) break;
      outcomes.push(await runOneNotebook(root, doc, profile, params[i]!, config, {
        ...req, env, prewarm: i < docs.length - 1, ...(sandbox ? { workers: sandbox.workers, capabilities: { addons: sandbox.policy.addons } } : {}),
      }));
    }
    // Also when interrupted: the results file then holds every run that finished.
    const results = await collectResults(root, profile);
    const stopped = outcomes.find((o) => o.error?.name === 'Interrupted');
    const interrupted = req.signal?.aborted
      ? { by: String(req.signal.reason), where: stopped ? `${stopped.path} cell ${stopped.error!.cellIndex + 1} (its run is stored as failed)` : null }
      : null;
    return { profile, outcomes, results, ok: outcomes.every((o) => o.status !== 'failed'), interrupted };
  } finally {
    sandbox?.workers.dropSpare();
    sandbox?.host.close();
  }
}

/** The sandboxed process's host for this run, after the checks that must pass before any cell runs. */
async function startSandbox(root: string, config: ProjectConfig, request: SandboxRequest, env: Record<string, string | undefined>, log: (line: string) => void) {
  const { SandboxHost } = await import('../sandbox/host.ts');
  const policy = sandboxPolicy(root, config.sandbox, request);
  await checkLinks(policy, root);
  log(`sandbox: cells may read ${policy.read.join(', ')}; write ${policy.write.join(', ')}; ${policy.addons ? 'load native addons (declared: they run outside every check)' : 'no native addons'}; no processes, no network`);
  const host = await SandboxHost.start<WorkerInput>(policy, { cwd: root, env: declaredEnvironment(config, env) });
  return { policy, host, workers: new WorkerSupply((input) => host.launch(input)) };
}
