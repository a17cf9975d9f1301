import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands/index.ts';
import { registerProjectCommands } from './project-commands.ts';
import { withoutHelpForUnknownCommand } from './unknown-command.ts';

/**
 * The `reprobook` command line. Each subcommand lives in its own module under
 * commands/; this file only wires them and turns errors into clear messages.
 */
const program = new Command();
program
  .name('reprobook')
  .description('Reproducible literate TypeScript notebooks and paper-shaped reports')
  .showHelpAfterError('(run `reprobook --help` for the list of commands and options)')
  .exitOverride();

try {
  await registerCommands(program);
  await registerProjectCommands(program, process.argv.slice(2));
  const commands = ['help', ...program.commands.flatMap((c) => [c.name(), ...c.aliases()])];
  await program.parseAsync(withoutHelpForUnknownCommand(process.argv.slice(2), commands), { from: 'user' });
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    const e = err as Error & { hint?: string; exitCode?: unknown };
    process.stderr.write(`reprobook: error: ${e.message}\n`);
    if (e.hint) process.stderr.write(`  fix: ${e.hint}\n`);
    if (process.env.REPROBOOK_DEBUG) process.stderr.write(`${e.stack}\n`);
    // An interrupted run (InterruptedError) exits as a signal would: 130 for Ctrl-C, 143 for SIGTERM.
    process.exitCode = typeof e.exitCode === 'number' && e.exitCode > 0 ? e.exitCode : 1;
  }
}
