/** commander's collector for an option given several times (`--param a=1 --param b=2`): every value, in order. */
export function repeatable(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `--sandbox`, one wording for every command that runs cells (src/engine/sandbox). */
export const SANDBOX_FLAG = '--sandbox';
export const SANDBOX_HELP = "run the cells as untrusted code: they may read only the project, write only its artifact store, start no process and open no connection (plus what the config's sandbox: declares); see the README's --sandbox section";
