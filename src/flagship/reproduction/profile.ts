import { loadProjectConfig } from '../../engine/notebook/config.ts';
import { parseOverrides, parseParamValue, profileValues } from '../../engine/notebook/params.ts';
import type { Params } from '../../engine/notebook/types.ts';
import { UserError } from '../../engine/util/errors.ts';
import { experimentParams, type ExperimentParams } from './params.ts';

/**
 * The experiment parameters of a profile, resolved the way the notebooks resolve them:
 * project-wide parameters, then the profile's values, then `--param` overrides. Used by
 * commands that run the grid without the notebooks (`reprobook experiment --shard`), so
 * that their artifacts are exactly the ones the notebooks will look up.
 */
export async function profileParams(root: string, profile: string | undefined, overrides: string[] = []): Promise<{ profile: string | null; params: ExperimentParams }> {
  const config = await loadProjectConfig(root);
  const name = profile ?? config.defaultProfile;
  const values: Params = { ...config.parameters };
  if (name !== null) {
    const p = config.profiles[name];
    if (!p) throw new UserError(`unknown profile '${name}'`, `valid profiles: ${Object.keys(config.profiles).join(', ') || 'none (add profiles: to reprobook.config.yaml)'}`);
    Object.assign(values, p);
  }
  for (const [k, raw] of Object.entries(parseOverrides(overrides))) {
    if (!(k in config.parameters)) throw new UserError(`unknown parameter '${k}'`, `project parameters: ${Object.keys(config.parameters).sort().join(', ')}`);
    values[k] = parseParamValue(k, raw, config.parameters[k]!, profileValues(k, config.profiles));
  }
  return { profile: name, params: experimentParams(values) };
}
