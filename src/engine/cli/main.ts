import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands/index.ts';
import { registerProjectCommands } from './project-commands.ts';
import { withoutHelpForUnknownCommand } from './unknown-command.ts';
import { explainFsError } from '../util/fs-errors.ts';

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
    // A full disk or a missing folder: named, with a fix, not Node's errno text.
    const e = (explainFsError(err) ?? err) as Error & { hint?: string; exitCode?: unknown };
    process.stderr.write(`reprobook: error: ${e.message}\n`);
    if (e.hint) process.stderr.write(`  fix: ${e.hint}\n`);
    if (process.env.REPROBOOK_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    // An interrupted run (InterruptedError) exits as a signal would: 130 for Ctrl-C, 143 for SIGTERM.
    process.exitCode = typeof e.exitCode === 'number' && e.exitCode > 0 ? e.exitCode : 1;
  }
}
