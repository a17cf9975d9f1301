import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunEnvironment } from './records.ts';
import { installedVersion } from '../util/packages.ts';

/** What a project's plugin adds to a run's environment (its `environment()`). */
export type ProjectFacts = Partial<Pick<RunEnvironment, 'backend'>>;

/**
 * Where a run happened: recorded with every executed notebook and the results file.
 * `projectFacts` are what the project's plugin adds (its `environment()`, e.g. the ML
 * backend's identity), collected where the cells ran.
 */
export function getEnvironment(root: string, projectFacts: ProjectFacts = {}): RunEnvironment {
  const env: RunEnvironment = {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    packages: installedPackages(root),
  };
  if (projectFacts.backend) env.backend = projectFacts.backend;
  const git = gitState(root);
  if (git) env.git = git;
  return env;
}

/** The engine's own folder (the package `reprobook`: src/engine here, node_modules/reprobook in a project). */
const ENGINE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The version of each of the project's dependencies, as Node finds it from the root, and of
 * the engine's own, as Node finds them from the engine: a project depends on `reprobook`
 * alone, yet what renders its figures, math and citations (Plot, KaTeX, citation-js) belongs
 * in the record of where its numbers came from.
 */
function installedPackages(root: string, engineDir = ENGINE_DIR): Record<string, string> {
  const dependencies = (dir: string): string[] => {
    try {
      return Object.keys((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {});
    } catch {
      return [];
    }
  };
  const out: Record<string, string> = {};
  for (const name of dependencies(engineDir)) out[name] = installedVersion(name, engineDir);
  // The project's own resolution wins where both name a package.
  for (const name of dependencies(root)) out[name] = installedVersion(name, root);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

export function gitState(root: string): { commit: string; dirty: boolean } | undefined {
  try {
    const opts = { cwd: root, encoding: 'utf8' as const, stdio: ['ignore', 'pipe', 'ignore'] as ['ignore', 'pipe', 'ignore'] };
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], opts).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], opts).trim().length > 0;
    return { commit, dirty };
  } catch {
    return undefined;
  }
}
