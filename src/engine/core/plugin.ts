import { access } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import type { RunEnvironment } from './records.ts';
import { UserError } from '../util/errors.ts';
import { isVariableName } from '../util/names.ts';

/**
 * What a project adds to the engine, named by `plugin:` in reprobook.config.yaml: the
 * engine knows no project's code, so a project's own subcommands, what it can say about
 * where its cells ran, and the variables its code reads reach the engine through this module,
 * and only through it.
 *
 * Keep the module cheap to import (the CLI imports it on every command): load heavy
 * dependencies inside the functions.
 */
export interface ProjectPlugin {
  /** Register the project's own subcommands (and hooks) on the `reprobook` program. */
  commands?(program: Command): void | Promise<void>;
  /**
   * Called in a notebook's worker thread after its cells ran: facts about the run the engine
   * cannot know, e.g. the identity of the ML backend the cells computed on. Recorded with the
   * executed notebook (provenance), never part of its cache key.
   */
  environment?(): Partial<Pick<RunEnvironment, 'backend'>> | Promise<Partial<Pick<RunEnvironment, 'backend'>>>;
  /**
   * The environment variables that change what the project's code computes (which backend,
   * which data folder): their values enter every notebook's cache key, and they are the only
   * ones cells see. The project's code knows which it reads, so it says so here; they join the
   * config's `environment:` list, which serves a project without a plugin.
   */
  environmentVariables?: readonly string[];
}

/** The plugin's absolute path, from the config's `plugin:` (relative to the root). */
export function pluginPath(root: string, plugin: string | undefined): string | undefined {
  if (!plugin) return undefined;
  return isAbsolute(plugin) ? plugin : join(root, plugin);
}

const loaded = new Map<string, Promise<ProjectPlugin>>();

/** Import a project's plugin module (once per path per thread). */
export function loadPlugin(path: string, root?: string): Promise<ProjectPlugin> {
  let p = loaded.get(path);
  if (!p) {
    p = (async () => {
      const shown = root ? relative(root, path) : path;
      try {
        await access(path);
      } catch {
        throw new UserError(`the project plugin ${shown} (plugin: in reprobook.config.yaml) does not exist`, 'fix the path (relative to the project root) or remove the plugin: line');
      }
      const mod = (await import(pathToFileURL(path).href)) as ProjectPlugin & { default?: ProjectPlugin };
      const plugin = mod.default ?? mod;
      for (const k of ['commands', 'environment'] as const) {
        if (plugin[k] !== undefined && typeof plugin[k] !== 'function') {
          throw new UserError(`the project plugin ${shown} exports '${k}' that is not a function`, 'export function commands(program) and/or function environment()');
        }
      }
      const vars = plugin.environmentVariables;
      if (vars !== undefined && !(Array.isArray(vars) && vars.every(isVariableName))) {
        throw new UserError(`the project plugin ${shown} exports environmentVariables that is not a list of variable names`, "export const environmentVariables = ['MY_BACKEND', 'MY_DATA']");
      }
      return plugin;
    })();
    loaded.set(path, p);
    p.catch(() => loaded.delete(path));
  }
  return p;
}
