import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../src/engine/util/errors.ts';
import { explainFsError } from '../src/engine/util/fs-errors.ts';
import { makeFixtureRoot } from './fixtures/report/fixture-root.ts';
import { buildSite } from '../src/engine/report/site.ts';

/** Issue 22, item 6: a full disk, a read-only folder, a folder for a file, a missing folder: named, with a fix. */

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function fsError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: raw message, ${syscall} '${path}'`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = syscall;
  e.path = path;
  return e;
}

test('file-system errors become messages naming the path, with a fix', () => {
  const cases: Array<[string, RegExp, RegExp]> = [
    ['ENOSPC', /no space left on the device holding \/data\/out\/x\.bin/, /free space/],
    ['EROFS', /\/data\/out\/x\.bin is on a read-only file system/, /writable/],
    ['EISDIR', /\/data\/out\/x\.bin is a folder/, /name a file/],
    ['ENOENT', /\/data\/out\/x\.bin: no such file or folder/, /\/data\/out exists/],
  ];
  for (const [code, message, hint] of cases) {
    const e = explainFsError(fsError(code, 'open', '/data/out/x.bin'));
    assert.ok(e instanceof UserError, code);
    assert.match(e.message, message, code);
    assert.match(e.hint!, hint, code);
  }
  assert.equal(explainFsError(new Error('other')), undefined);
  assert.equal(explainFsError(new UserError('mine')), undefined, 'a message that already says what to do is kept');
});

test('the CLI prints the hint, not the raw error: bundle into a folder that does not exist', async () => {
  const root = await makeFixtureRoot();
  const missing = await mkdtemp(join(tmpdir(), 'reprobook-gone-'));
  await rm(missing, { recursive: true });
  try {
    await buildSite({ root, profile: 'smoke', out: join(root, '_site') });
    const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(repoRoot, 'src/engine/cli/main.ts'), 'bundle', '--root', root, '--out', join(missing, 'b.zip')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`reprobook: error: .*${join(missing, 'b.zip')}: no such file or folder`));
    assert.match(r.stderr, /fix: .*exists/);
    assert.doesNotMatch(r.stderr, /ENOENT/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
