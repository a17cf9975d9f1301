import { UserError } from './errors.ts';

/**
 * Names that become parts of file paths (profiles: `.reprobook/executed/<profile>/`,
 * `.reprobook/results/<profile>.json`). A front-matter profile `../../../../escaped` once
 * wrote /tmp/escaped.json; a simple identifier cannot leave its folder, on any platform.
 */
const SIMPLE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;

export function isSimpleName(name: unknown): name is string {
  return typeof name === 'string' && SIMPLE_NAME.test(name);
}

export const SIMPLE_NAME_HINT = "profile names become file names under .reprobook/: use letters, digits, '-' and '_' (at most 64), e.g. smoke, quick, paper-full";

/** The name, or a UserError naming it; `what` says where it came from. */
export function checkProfileName(name: string, what = 'profile'): string {
  if (!isSimpleName(name)) throw new UserError(`${what} name ${JSON.stringify(name)} is not a simple name`, SIMPLE_NAME_HINT);
  return name;
}

/** An environment variable's name, as a config or a plugin declares one (letters, digits, '_'; not a digit first). */
export function isVariableName(name: unknown): name is string {
  return typeof name === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}
