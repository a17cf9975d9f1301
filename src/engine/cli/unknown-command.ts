/**
 * commander looks for --help before it looks for the command, so `reprobook nosuch --help`
 * printed the general help and exited 0, as if `nosuch` existed. When the first word is no
 * command, the help flags are dropped, and commander reports the unknown command (with its
 * suggestion and a non-zero exit) exactly as it does for `reprobook nosuch`.
 *
 * `args` are the user's arguments (no node, no script); the program itself takes no option
 * with a value, so its first word that is not a flag is the command.
 */
export function withoutHelpForUnknownCommand(args: string[], commands: string[]): string[] {
  const first = args.find((a) => !a.startsWith('-'));
  if (first === undefined || commands.includes(first)) return args;
  return args.filter((a) => a !== '--help' && a !== '-h');
}
