import type { NotebookDocument, ParamValue, Params } from '../core/records.ts';
import type { ProjectConfig } from './config.ts';
import { UserError } from '../util/errors.ts';
import { checkProfileName } from '../util/names.ts';

/**
 * Parameter resolution: notebook defaults, then the selected profile (project-wide values
 * for the parameters this notebook declares, then the notebook's own profile), then
 * `--param` overrides. Pure; the CLI validates names across all selected notebooks first.
 */

/**
 * Parse a `--param` value by the type of the declared default. `alternatives` are the values
 * profiles give the parameter: a word a profile uses (trainSize: all) is accepted as is even
 * where the default is a number, so that anything a profile can say, --param can say too.
 */
export function parseParamValue(name: string, raw: string, declared: ParamValue, alternatives: readonly ParamValue[] = []): ParamValue {
  const words = [...new Set(alternatives.filter((a): a is string => typeof a === 'string'))];
  if (typeof declared !== 'string' && words.includes(raw.trim())) return raw.trim();
  const bad = (what: string): never => {
    const orWords = words.length ? ` (or ${words.map((w) => `'${w}'`).join(', ')}, as a profile uses)` : '';
    throw new UserError(`--param ${name}=${raw}: expected ${what}${orWords}`, `the default of '${name}' is ${JSON.stringify(declared)}`);
  };
  if (typeof declared === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) bad('a number');
    return n;
  }
  if (typeof declared === 'boolean') {
    const v = raw.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    return bad('true or false');
  }
  if (Array.isArray(declared)) {
    let items: unknown[];
    const t = raw.trim();
    if (t.startsWith('[')) {
      try {
        items = JSON.parse(t) as unknown[];
      } catch {
        return bad('a JSON array or a comma-separated list');
      }
      if (!Array.isArray(items)) return bad('a JSON array or a comma-separated list');
    } else {
      items = t === '' ? [] : t.split(',').map((s) => s.trim());
    }
    const numeric = declared.length > 0 ? typeof declared[0] === 'number' : items.every((x) => x !== '' && Number.isFinite(Number(x)));
    if (numeric) {
      const nums = items.map(Number);
      if (nums.some((x) => !Number.isFinite(x))) bad('a list of numbers');
      return nums;
    }
    return items.map(String);
  }
  return raw;
}

export interface ParamRequest {
  profile: string | null;
  /** Raw `--param` overrides, name to string value. */
  overrides: Record<string, string>;
}

/** Every profile name known for these notebooks (project config and front matter). */
export function knownProfiles(config: ProjectConfig, docs: ParamScope[]): string[] {
  const names = new Set(Object.keys(config.profiles));
  for (const d of docs) for (const p of Object.keys(d.frontMatter.profiles ?? {})) names.add(p);
  return [...names].sort();
}

/** Check a profile and overrides against the selected notebooks; throws UserError listing valid names. */
export function validateRequest(config: ProjectConfig, docs: ParamScope[], req: ParamRequest): void {
  if (req.profile !== null) {
    checkProfileName(req.profile);
    const known = knownProfiles(config, docs);
    if (!known.includes(req.profile)) {
      throw new UserError(`unknown profile '${req.profile}'`, known.length ? `valid profiles: ${known.join(', ')}` : 'no profiles are defined (add profiles: to reprobook.config.yaml or a notebook front matter)');
    }
  }
  const declared = new Set(docs.flatMap((d) => Object.keys(d.frontMatter.parameters)));
  for (const k of Object.keys(req.overrides)) {
    if (!declared.has(k)) {
      throw new UserError(`unknown parameter '${k}'`, declared.size ? `parameters of the selected notebooks: ${[...declared].sort().join(', ')}` : 'the selected notebooks declare no parameters');
    }
  }
}

/** What declares parameters: a notebook's front matter, or the project itself (its config's `parameters:`). */
type ParamScope = Pick<NotebookDocument, 'frontMatter'>;

/** The parameter values one notebook runs with. */
export function resolveParams(config: ProjectConfig, doc: ParamScope, req: ParamRequest): Params {
  const declared = doc.frontMatter.parameters;
  const out: Params = { ...declared };
  if (req.profile !== null) {
    for (const [k, v] of Object.entries(config.profiles[req.profile] ?? {})) if (k in declared) out[k] = v;
    for (const [k, v] of Object.entries(doc.frontMatter.profiles?.[req.profile] ?? {})) out[k] = v;
  }
  for (const [k, raw] of Object.entries(req.overrides)) {
    if (k in declared) out[k] = parseParamValue(k, raw, declared[k]!, profileValues(k, config.profiles, doc.frontMatter.profiles));
  }
  return out;
}

/**
 * The project-wide parameters (the config's `parameters:`) under a profile and overrides:
 * for a project's own commands that run its code without the notebooks (a grid, say). The
 * same rules as every notebook's resolution, so both compute under the same artifact keys.
 */
export function resolveProjectParams(config: ProjectConfig, req: ParamRequest): Params {
  const project = { frontMatter: { parameters: config.parameters } } as ParamScope;
  validateRequest(config, [project], req);
  return resolveParams(config, project, req);
}

/** Every value that some profile gives parameter `name`. */
export function profileValues(name: string, ...profileSets: Array<Record<string, Params> | undefined>): ParamValue[] {
  return profileSets.flatMap((set) => Object.values(set ?? {}).flatMap((p) => (name in p ? [p[name]!] : [])));
}

/** Parse `k=v` strings from the command line. */
export function parseOverrides(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new UserError(`--param '${p}' is not of the form name=value`, 'write e.g. --param epochs=2');
    out[p.slice(0, eq).trim()] = p.slice(eq + 1);
  }
  return out;
}
