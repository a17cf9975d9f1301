import { UserError } from '../util/errors.ts';

/** commander's collector for an option given several times (`--param a=1 --param b=2`): every value, in order. */
export function repeatable(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `--sandbox`, one wording for every command that runs cells (src/engine/sandbox). */
export const SANDBOX_FLAG = '--sandbox';
export const SANDBOX_HELP = "run the cells as untrusted code: they may read only the project, write only its artifact store, start no process and open no connection (plus what the config's sandbox: declares); see the README's --sandbox section";

/**
 * A port as written on the command line: decimal digits, 0 to 65535 (0: any free port).
 * `Number()` alone took '' (0), '0x50' (80) and '1e3' (1000) for ports.
 */
export function parsePort(text: string): number {
  const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port <= 65535)) throw new UserError(`--port ${JSON.stringify(text)} is not a port number`, 'use a whole number from 1 to 65535 in decimal, e.g. --port 3000 (0 picks a free one)');
  return port;
}
