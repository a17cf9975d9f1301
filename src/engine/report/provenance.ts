import type { ExecutedNotebook, ParamValue, ResultsFile } from '../core/records.ts';
import { escapeHtml } from './html.ts';

/**
 * Where the numbers came from: the code (commit, dirty tree), the runtime (Node, packages,
 * tfjs backend, machine), the inputs (profile, parameters, seeds, data checksums) and each
 * notebook's run (wall time, cache key). Gathered from the results file and the executed
 * notebooks only, never from the machine that builds the report, except `report`, which
 * says which commit rendered the page.
 */

export interface NotebookRun {
  name: string;
  path: string;
  status: 'ok' | 'error' | 'unknown';
  wallTimeMs: number;
  cacheKey: string;
  startedAt: string;
}

export interface ParameterRow {
  name: string;
  value: ParamValue;
  notebooks: string[];
}

export interface Provenance {
  profile: string | null;
  generatedAt: string;
  git?: { commit: string; dirty: boolean };
  node: string;
  platform: string;
  cpus: number;
  backend?: string;
  /** The machine the notebooks ran on, in words. */
  device: string;
  packages: Record<string, string>;
  parameters: ParameterRow[];
  /** The parameters that seed randomness (any parameter whose name mentions "seed"). */
  seeds: ParameterRow[];
  data: Record<string, string>;
  notebooks: NotebookRun[];
  totalWallTimeMs: number;
  report?: { commit?: string; dirty?: boolean; builtAt: string };
}

function sameValue(a: ParamValue, b: ParamValue): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** One row per (parameter, value): a parameter shared by notebooks with one value is one row. */
export function parameterRows(runs: Array<{ name: string; params: Record<string, ParamValue> }>): ParameterRow[] {
  const rows: ParameterRow[] = [];
  for (const run of runs) {
    for (const [name, value] of Object.entries(run.params)) {
      const row = rows.find((r) => r.name === name && sameValue(r.value, value));
      if (row) row.notebooks.push(run.name);
      else rows.push({ name, value, notebooks: [run.name] });
    }
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

export function collectProvenance(
  results: ResultsFile,
  executed: ExecutedNotebook[],
  report?: Provenance['report'],
): Provenance {
  const env = results.provenance.environment;
  const byName = new Map(executed.map((e) => [e.notebook.name, e]));
  const runs = results.provenance.notebooks.length > 0
    ? results.provenance.notebooks
    : executed.map((e) => ({ name: e.notebook.name, path: e.notebook.path, cacheKey: e.cacheKey, wallTimeMs: e.wallTimeMs, params: e.params, startedAt: e.startedAt }));
  const notebooks: NotebookRun[] = runs.map((r) => ({
    name: r.name,
    path: r.path,
    status: byName.get(r.name)?.status ?? 'unknown',
    wallTimeMs: r.wallTimeMs,
    cacheKey: r.cacheKey,
    startedAt: r.startedAt,
  }));
  const parameters = parameterRows(runs);
  const backend = env.backend ?? executed.find((e) => e.environment.backend)?.environment.backend;
  const deviceResult = results.results['environment.device'];
  const device = typeof deviceResult === 'string'
    ? deviceResult
    : `${env.platform}, ${env.cpus} CPU core${env.cpus === 1 ? '' : 's'}${backend && /gpu|webgl|cuda/i.test(backend) ? ' with a GPU' : ''}`;
  return {
    profile: results.profile,
    generatedAt: results.provenance.generatedAt,
    ...(env.git ? { git: env.git } : {}),
    node: env.node,
    platform: env.platform,
    cpus: env.cpus,
    ...(backend ? { backend } : {}),
    device,
    packages: env.packages,
    parameters,
    seeds: parameters.filter((p) => /seed/i.test(p.name)),
    data: results.provenance.data ?? {},
    notebooks,
    totalWallTimeMs: notebooks.reduce((s, n) => s + n.wallTimeMs, 0),
    ...(report ? { report } : {}),
  };
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  return h > 0 ? `${h} h ${m % 60} min` : `${m} min ${Math.round(s % 60)} s`;
}

function kv(rows: Array<[string, string]>): string {
  return `<table class="kv">\n<tbody>\n${rows.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${v}</td></tr>`).join('\n')}\n</tbody>\n</table>`;
}

const code = (s: string) => `<code>${escapeHtml(s)}</code>`;
const val = (v: ParamValue) => code(Array.isArray(v) ? `[${v.join(', ')}]` : String(v));

/** The provenance section's HTML; notebook names link to their pages under `rootPrefix`. */
export function renderProvenance(p: Provenance, rootPrefix = ''): string {
  const commit = p.git ? `${code(p.git.commit)}${p.git.dirty ? ' <strong class="dirty">(uncommitted changes in the tree)</strong>' : ' (clean tree)'}` : 'not recorded (not a git checkout?)';
  const reportCommit = p.report?.commit
    ? `${code(p.report.commit)}${p.report.dirty ? ' <strong class="dirty">(dirty)</strong>' : ''}, ${escapeHtml(p.report.builtAt)}`
    : p.report ? escapeHtml(p.report.builtAt) : '—';
  const general = kv([
    ['Profile', code(p.profile ?? 'default')],
    ['Commit of the run', commit],
    ['Report rendered at', reportCommit],
    ['Results collected', escapeHtml(p.generatedAt)],
    ['Node', code(p.node)],
    ['Backend', p.backend ? code(p.backend) : 'no tfjs backend recorded'],
    ['Device', escapeHtml(p.device)],
    ['Seeds', p.seeds.length ? p.seeds.map((s) => `${code(s.name)} = ${val(s.value)}`).join(', ') : 'none among the parameters'],
    ['Total notebook wall time', escapeHtml(formatDuration(p.totalWallTimeMs))],
  ]);
  const nbRows = p.notebooks.map((n) =>
    `<tr><td><a href="${escapeHtml(`${rootPrefix}notebooks/${encodeURIComponent(n.name)}.html`)}">${escapeHtml(n.name)}</a></td>` +
    `<td class="status-${escapeHtml(n.status)}">${escapeHtml(n.status)}</td><td class="num">${escapeHtml(formatDuration(n.wallTimeMs))}</td>` +
    `<td><code class="hash" title="${escapeHtml(n.cacheKey)}">${escapeHtml(n.cacheKey.slice(0, 16))}</code></td><td>${escapeHtml(n.startedAt)}</td></tr>`);
  const notebooks = `<table class="data">\n<thead><tr><th>Notebook</th><th>Status</th><th>Wall time</th><th>Cache key</th><th>Started</th></tr></thead>\n<tbody>\n${nbRows.join('\n')}\n</tbody>\n</table>`;
  const params = p.parameters.length
    ? `<table class="data">\n<thead><tr><th>Parameter</th><th>Value</th><th>Notebooks</th></tr></thead>\n<tbody>\n${p.parameters.map((r) => `<tr><td>${code(r.name)}</td><td>${val(r.value)}</td><td>${escapeHtml(r.notebooks.join(', '))}</td></tr>`).join('\n')}\n</tbody>\n</table>`
    : '<p>No parameters recorded.</p>';
  const dataEntries = Object.entries(p.data);
  const data = dataEntries.length
    ? `<table class="data">\n<thead><tr><th>Data file</th><th>SHA-256</th></tr></thead>\n<tbody>\n${dataEntries.map(([f, h]) => `<tr><td>${code(f)}</td><td><code class="hash">${escapeHtml(h)}</code></td></tr>`).join('\n')}\n</tbody>\n</table>`
    : '<p>No data checksums recorded.</p>';
  const pkgEntries = Object.entries(p.packages).sort(([a], [b]) => a.localeCompare(b));
  const packages = pkgEntries.length ? pkgEntries.map(([k, v]) => `${code(k)} ${escapeHtml(v)}`).join(' · ') : 'not recorded';
  // Wide tables scroll inside their own box, so that the page never scrolls sideways on a phone.
  const scroll = (html: string) => `<div class="table-scroll">${html}</div>`;
  return [
    scroll(general),
    '<h3>Notebook runs</h3>', scroll(notebooks),
    '<h3>Parameters</h3>', scroll(params),
    '<h3>Data</h3>', scroll(data),
    '<h3>Packages</h3>', `<p class="packages">${packages}</p>`,
  ].join('\n');
}
