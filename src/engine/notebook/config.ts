import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument, LineCounter } from 'yaml';
import type { Params, TimeoutSettings } from '../core/records.ts';
import { NotebookFormatError, validateParams, yamlKeyLine } from './markdown-format.ts';
import { isSimpleName, isVariableName, SIMPLE_NAME_HINT } from '../util/names.ts';
import { loadPlugin, pluginPath } from '../core/plugin.ts';
import { validateTimeoutSettings } from './timeouts.ts';
import { validateSandboxDeclaration, type SandboxDeclaration } from '../sandbox/policy.ts';

/**
 * The project config, `<root>/reprobook.config.yaml` (optional):
 *
 *   defaultProfile: quick
 *   parameters:           # declared by every notebook (a notebook's own declaration wins)
 *     epochs: 1
 *   profiles:
 *     quick: { epochs: 1, samples: 500 }
 *     paper: { epochs: 50, samples: 10000 }
 *   data:                 # files whose checksums enter every notebook's cache key
 *     - data/*-ubyte
 *   dependsOn:            # other files that change results (built code, say): in the key, not listed as data
 *     - native/build/Release/*.node
 *   environment:          # environment variables whose values enter every notebook's cache key
 *     - MY_BACKEND        # (a plugin declares those its code reads: environmentVariables)
 *   plugin: src/my-project/plugin.ts   # the project's own commands and environment facts (../core/plugin.ts)
 *   timeout:              # time limits (timeouts.ts); a notebook's front matter overrides them
 *     cell: 30m           # each cell (default 1h; 'none': no limit)
 *     notebook: 2h        # the whole notebook (default none)
 *   sandbox:              # what cells may do under --sandbox beyond the project (../sandbox/policy.ts)
 *     read: [../shared-data]
 *     addons: true
 *
 * Profiles here are project-wide: a notebook takes the values of the parameters it
 * declares and ignores the others.
 */
export interface ProjectConfig {
  /**
   * Project-wide parameters with their defaults, declared by every notebook. They exist so
   * that notebooks sharing one experiment (and so one set of artifact keys) cannot drift
   * apart by declaring different defaults.
   */
  parameters: Params;
  profiles: Record<string, Params>;
  defaultProfile: string | null;
  /** Globs (relative to the root) of data files hashed into cache keys. */
  data: string[];
  /** Globs of other files hashed into cache keys (not reported as data). */
  dependsOn: string[];
  /**
   * Names of environment variables whose values enter cache keys (unset is a value too), and
   * the only variables cells see (declaredEnvironment): the config's `environment:` and, from
   * loadProjectConfig, those the plugin declares (its `environmentVariables`).
   */
  environment: string[];
  /** The project plugin module (src/engine/core/plugin.ts), relative to the root, as written. */
  plugin?: string;
  /** Time limits for every notebook, as written (not in cache keys); absent when not set. */
  timeout?: TimeoutSettings;
  /** What cells may do under --sandbox beyond the project itself (not in cache keys); absent when not set. */
  sandbox?: SandboxDeclaration;
}

export const CONFIG_FILE = 'reprobook.config.yaml';
const KEYS = ['parameters', 'profiles', 'defaultProfile', 'data', 'dependsOn', 'environment', 'timeout', 'plugin', 'sandbox'];

/** The profile a command runs: the one asked for, else the project's default (null: none). */
export async function commandProfile(root: string, requested: string | undefined): Promise<string | null> {
  return requested ?? (await loadProjectConfig(root)).defaultProfile;
}

/**
 * The variables cells see: the declared ones that are set, and nothing else. A variable a
 * cell could read without it being declared would be missing from the cache key, and a
 * change to it would leave the notebook cached with what the old value computed.
 */
export function declaredEnvironment(config: Pick<ProjectConfig, 'environment'>, env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of config.environment) {
    const value = env[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** The project's config, with the environment variables its plugin declares added to `environment`. */
export async function loadProjectConfig(root: string): Promise<ProjectConfig> {
  let text: string;
  try {
    text = await readFile(join(root, CONFIG_FILE), 'utf8');
  } catch {
    return { parameters: {}, profiles: {}, defaultProfile: null, data: [], dependsOn: [], environment: [] };
  }
  const config = parseProjectConfig(text, CONFIG_FILE);
  const plugin = pluginPath(root, config.plugin);
  const declared = plugin ? (await loadPlugin(plugin, root)).environmentVariables ?? [] : [];
  return { ...config, environment: [...new Set([...config.environment, ...declared])] };
}

export function parseProjectConfig(text: string, file = CONFIG_FILE): ProjectConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new NotebookFormatError(file, lineCounter.linePos(e.pos[0]).line, `bad YAML: ${e.message.split('\n')[0]}`);
  }
  const lineOf = (path: string[]): number => yamlKeyLine(doc, lineCounter, path);
  const data = (doc.toJS() ?? {}) as Record<string, unknown>;
  if (typeof data !== 'object' || Array.isArray(data)) throw new NotebookFormatError(file, 1, 'the config must be a YAML map');
  for (const k of Object.keys(data)) {
    if (!KEYS.includes(k)) throw new NotebookFormatError(file, lineOf([k]), `unknown key '${k}'`, `valid keys: ${KEYS.join(', ')}`);
  }
  let parameters: Params = {};
  if (data.parameters !== undefined && data.parameters !== null) {
    parameters = validateParams(data.parameters, 'parameters', (k, msg, hint) => {
      throw new NotebookFormatError(file, lineOf(k ? ['parameters', k] : ['parameters']), msg, hint);
    });
  }
  const profiles: Record<string, Params> = {};
  if (data.profiles !== undefined && data.profiles !== null) {
    if (typeof data.profiles !== 'object' || Array.isArray(data.profiles)) {
      throw new NotebookFormatError(file, lineOf(['profiles']), 'profiles must be a map of profile name to parameter values');
    }
    for (const [p, values] of Object.entries(data.profiles as Record<string, unknown>)) {
      if (!isSimpleName(p)) throw new NotebookFormatError(file, lineOf(['profiles', p]), `profile name ${JSON.stringify(p)} is not a simple name`, SIMPLE_NAME_HINT);
      profiles[p] = validateParams(values, `profile '${p}'`, (k, msg, hint) => {
        throw new NotebookFormatError(file, lineOf(k ? ['profiles', p, k] : ['profiles', p]), msg, hint);
      });
    }
  }
  let defaultProfile: string | null = null;
  if (data.defaultProfile !== undefined && data.defaultProfile !== null) {
    if (typeof data.defaultProfile !== 'string' || !(data.defaultProfile in profiles)) {
      throw new NotebookFormatError(file, lineOf(['defaultProfile']), `defaultProfile '${String(data.defaultProfile)}' is not a profile`,
        `profiles: ${Object.keys(profiles).join(', ') || 'none'}`);
    }
    defaultProfile = data.defaultProfile;
  }
  const stringList = (key: string, what: string): string[] => {
    const v = data[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new NotebookFormatError(file, lineOf([key]), `${key} must be a list of ${what}`);
    return v as string[];
  };
  const globs = stringList('data', 'file globs relative to the project root');
  const dependsOn = stringList('dependsOn', 'file globs relative to the project root');
  const environment = stringList('environment', 'environment variable names');
  for (const name of environment) {
    if (!isVariableName(name)) throw new NotebookFormatError(file, lineOf(['environment']), `'${name}' is not an environment variable name`);
  }
  const timeout = validateTimeoutSettings(data.timeout, (k, msg, hint) => {
    throw new NotebookFormatError(file, lineOf(k ? ['timeout', k] : ['timeout']), msg, hint);
  });
  if (data.plugin !== undefined && data.plugin !== null && (typeof data.plugin !== 'string' || data.plugin.trim() === '')) {
    throw new NotebookFormatError(file, lineOf(['plugin']), 'plugin must be the path of a module, relative to the project root', 'e.g. plugin: src/my-project/plugin.ts');
  }
  const sandbox = validateSandboxDeclaration(data.sandbox, (k, msg, hint) => {
    throw new NotebookFormatError(file, lineOf(k ? ['sandbox', k] : ['sandbox']), msg, hint);
  });
  const config: ProjectConfig = { parameters, profiles, defaultProfile, data: globs, dependsOn, environment };
  if (sandbox) config.sandbox = sandbox;
  if (typeof data.plugin === 'string') config.plugin = data.plugin;
  if (Object.keys(timeout).length > 0) config.timeout = timeout;
  return config;
}
