import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseNotebookSource, NotebookFormatError } from '../src/engine/notebook/markdown-format.ts';
import { parseProjectConfig } from '../src/engine/notebook/config.ts';
import { runProject } from '../src/engine/notebook/project.ts';
import { executedPath, resultsPath } from '../src/engine/store/executed.ts';
import { buildSite } from '../src/engine/report/site.ts';
import { UserError } from '../src/engine/util/errors.ts';

/**
 * Issue 12, item 11: a front-matter profile "../../../../escaped" with `run --profile` wrote
 * /tmp/escaped.json. Profile names become paths, so they must be simple identifiers: checked
 * where they are declared (with file:line) and again wherever a path is built from one.
 */

test('a profile name that is not a simple identifier is refused where it is declared, with file:line', () => {
  assert.throws(() => parseNotebookSource('---\ntitle: t\nparameters: { n: 1 }\nprofiles:\n  "../../escaped": { n: 2 }\n---\n', 'notebooks/t.md'),
    (e: unknown) => e instanceof NotebookFormatError && e.message === 'notebooks/t.md:5: profile name "../../escaped" is not a simple name' && /letters, digits/.test(e.hint ?? ''));
  assert.throws(() => parseProjectConfig('profiles:\n  ok: {}\n  "a/b": {}\n'),
    (e: unknown) => e instanceof NotebookFormatError && /reprobook\.config\.yaml:3: profile name "a\/b" is not a simple name/.test(e.message));
  for (const good of ['smoke', 'quick', 'paper-full', 'v2_long', '10k']) {
    parseNotebookSource(`---\nparameters: { n: 1 }\nprofiles:\n  ${good}: { n: 2 }\n---\n`, 'notebooks/t.md');
  }
});

test('run with an escaping profile writes nothing outside the project; every path built from a profile checks it', async () => {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-names-'));
  const escaped = `escaped-${randomBytes(4).toString('hex')}`;
  const profile = `../../../${escaped}`;
  try {
    await mkdir(join(root, 'notebooks'));
    await writeFile(join(root, 'notebooks', 'a.md'), `---\nparameters: { n: 1 }\nprofiles:\n  "${profile}": { n: 2 }\n---\n\n\`\`\`ts\npublish("n", params.n);\n\`\`\`\n`);
    await assert.rejects(runProject({ root, profile }), (e: unknown) => e instanceof UserError && /profile name .* is not a simple name/.test(e.message));
    assert.ok(!existsSync(join(dirname(root), `${escaped}.json`)));
    for (const make of [() => resultsPath(root, profile), () => executedPath(root, profile, 'a')]) {
      assert.throws(make, (e: unknown) => e instanceof UserError && /is not a simple name/.test(e.message));
    }
    await assert.rejects(buildSite({ root, profile, out: join(root, '_site') }), /is not a simple name/);
    await writeFile(join(root, 'notebooks', 'a.md'), '---\nparameters: { n: 1 }\n---\n');
    await assert.rejects(runProject({ root, profile: 'a b' }), /profile name "a b" is not a simple name/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
