import { loadProjectConfig } from '../../engine/notebook/config.ts';
import { parseOverrides, resolveProjectParams } from '../../engine/notebook/params.ts';
import { experimentParams, type ExperimentParams } from './params.ts';

/**
 * The experiment parameters of a profile, resolved by the engine's one implementation
 * (resolveProjectParams: project-wide parameters, then the profile's values, then `--param`
 * overrides), for commands that run the grid without the notebooks (`reprobook experiment
 * --shard`), so that their artifacts are exactly the ones the notebooks will look up.
 */
export async function profileParams(root: string, profile: string | undefined, overrides: string[] = []): Promise<{ profile: string | null; params: ExperimentParams }> {
  const config = await loadProjectConfig(root);
  const name = profile ?? config.defaultProfile;
  const values = resolveProjectParams(config, { profile: name, overrides: parseOverrides(overrides) });
  return { profile: name, params: experimentParams(values) };
}
