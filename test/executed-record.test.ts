import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProject } from '../src/engine/notebook/project.ts';
import { executedPath } from '../src/engine/store/executed.ts';
import { buildSite } from '../src/engine/report/site.ts';
import { formatWarning } from '../src/engine/report/warnings.ts';

/**
 * Issue 12, item 9: `truncate -s 100 .reprobook/executed/default/a.json` made build, run and
 * their --force forms fail, the suggested fix included. An unreadable record is a cache miss.
 */

async function project(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-record-'));
  await mkdir(join(root, 'notebooks'));
  await writeFile(join(root, 'notebooks', 'a.md'), '---\ntitle: A\n---\n\n```ts\npublish("answer", 42);\n"done"\n```\n');
  return root;
}

test('a truncated executed record is a cache miss: said once, the notebook re-runs and the record is rewritten', async () => {
  const root = await project();
  try {
    assert.ok((await runProject({ root, quietArtifacts: true })).ok);
    const record = executedPath(root, null, 'a');
    for (const force of [false, true]) {
      await truncate(record, 100);
      const lines: string[] = [];
      const r = await runProject({ root, force, log: (l) => lines.push(l), quietArtifacts: true });
      assert.ok(r.ok, lines.join('\n'));
      assert.equal(r.outcomes[0]!.status, 'ran');
      assert.equal(r.results.results.answer, 42);
      const said = lines.filter((l) => l.includes('is unreadable'));
      assert.equal(said.length, 1, lines.join('\n'));
      assert.match(said[0]!, /^a: the stored run \.reprobook\/executed\/default\/a\.json is unreadable \(.*\); treating it as a cache miss$/);
      assert.equal(JSON.parse(await readFile(record, 'utf8')).status, 'ok', 'rewritten whole');
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('build --no-run with an unreadable record leaves that notebook out with a warning instead of failing', async () => {
  const root = await project();
  try {
    assert.ok((await runProject({ root, quietArtifacts: true })).ok);
    await truncate(executedPath(root, null, 'a'), 100);
    const site = await buildSite({ root, profile: null, out: join(root, '_site') });
    assert.deepEqual(site.notebookPages, []);
    assert.ok(site.warnings.map(formatWarning).some((w) => /a\.json is unreadable .* run it again/.test(w)), site.warnings.map(formatWarning).join('\n'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
