import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
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

/** The version of each of the project's dependencies, as Node finds it from the root. */
function installedPackages(root: string): Record<string, string> {
  let pkg: { dependencies?: Record<string, string> };
  try {
    pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  } catch {
    return {};
  }
  return Object.fromEntries(Object.keys(pkg.dependencies ?? {}).sort().map((name) => [name, installedVersion(name, root)]));
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
