import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withoutHelpForUnknownCommand } from '../src/engine/cli/unknown-command.ts';

const MAIN = fileURLToPath(new URL('../src/engine/cli/main.ts', import.meta.url));
const reprobook = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });

test('`reprobook nosuch --help` says the command is unknown and exits non-zero, as `reprobook nosuch` does (issue 24, item 5)', () => {
  const plain = reprobook('nosuch');
  for (const args of [['nosuch', '--help'], ['nosuch', '-h'], ['--help', 'nosuch']]) {
    const r = reprobook(...args);
    assert.equal(r.status, plain.status, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /unknown command 'nosuch'/);
    assert.doesNotMatch(r.stdout, /Usage:/, 'no general help, as if the command existed');
  }
  const help = reprobook('build', '--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Usage: reprobook build/);
});

test('withoutHelpForUnknownCommand drops the help flags only when the first word is no command', () => {
  const commands = ['help', 'build', 'run'];
  assert.deepEqual(withoutHelpForUnknownCommand(['nosuch', '--help'], commands), ['nosuch']);
  assert.deepEqual(withoutHelpForUnknownCommand(['-h', 'nosuch', '--root', 'x'], commands), ['nosuch', '--root', 'x']);
  assert.deepEqual(withoutHelpForUnknownCommand(['build', '--help'], commands), ['build', '--help']);
  assert.deepEqual(withoutHelpForUnknownCommand(['--help'], commands), ['--help']);
  assert.deepEqual(withoutHelpForUnknownCommand(['help', 'build'], commands), ['help', 'build']);
});
