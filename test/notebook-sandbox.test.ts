import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProject, type ProjectRunRequest } from '../src/engine/notebook/project.ts';

/**
 * Issue 22, item 7: cells see only what the cache key covers. The environment: the variables
 * the project declares and no others.
 */

/** A project of notebooks given as cells, with a config. */
async function project(notebooks: Record<string, string[]>, config = ''): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-sandbox-'));
  await mkdir(join(root, 'notebooks'));
  for (const [name, cells] of Object.entries(notebooks)) {
    await writeFile(join(root, 'notebooks', `${name}.md`), `---\ntitle: ${name}\n---\n\n${cells.map((c) => `\`\`\`ts\n${c}\n\`\`\`\n`).join('\n')}`);
  }
  await writeFile(join(root, 'reprobook.config.yaml'), config);
  return root;
}

const run = (root: string, req: Partial<ProjectRunRequest> = {}) => runProject({ root, quietArtifacts: true, handleSignals: false, ...req });

test('cells see the declared variables, which are in the cache key, and no others: an undeclared one is undefined and changing it never re-runs', async () => {
  const root = await project({
    env: ['publish("declared", process.env.REPROBOOK_T_DECLARED ?? null);\npublish("undeclared", process.env.REPROBOOK_T_UNDECLARED ?? null);\npublish("names", Object.keys(process.env));'],
  }, 'environment:\n  - REPROBOOK_T_DECLARED\n  - REPROBOOK_T_UNSET\n');
  const env = (declared: string, undeclared: string) => ({ PATH: process.env.PATH, HOME: '/home/someone', REPROBOOK_T_DECLARED: declared, REPROBOOK_T_UNDECLARED: undeclared });
  try {
    const first = await run(root, { env: env('a', 'x') });
    assert.ok(first.ok, first.outcomes[0]?.error?.message);
    assert.equal(first.results.results.declared, 'a');
    assert.equal(first.results.results.undeclared, null, 'an undeclared variable is undefined in a cell');
    assert.deepEqual(first.results.results.names, ['REPROBOOK_T_DECLARED'], 'not PATH, not HOME: only what the project declares and is set');
    assert.deepEqual(first.outcomes[0]!.executed.cacheKeyInputs.environment, { REPROBOOK_T_DECLARED: 'a', REPROBOOK_T_UNSET: null }, 'exactly the declared ones are in the key');

    const undeclaredChanged = await run(root, { env: env('a', 'y') });
    assert.equal(undeclaredChanged.outcomes[0]!.status, 'cached', 'what a cell cannot see cannot change its results');
    const declaredChanged = await run(root, { env: env('b', 'y') });
    assert.equal(declaredChanged.outcomes[0]!.status, 'ran');
    assert.equal(declaredChanged.results.results.declared, 'b');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
