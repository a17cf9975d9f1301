import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JSDOM } from 'jsdom';
import { createContext, renderMarkdown } from '../src/engine/report/markdown.ts';
import { planVerify } from '../src/engine/verify/plan.ts';
import { diffRuns } from '../src/engine/diff/diff.ts';
import { runProject } from '../src/engine/notebook/project.ts';
import { UserError } from '../src/engine/util/errors.ts';
import type { ResultsFile } from '../src/engine/core/records.ts';

/**
 * Issue 22, item 6: result and meta names are looked up as the file's own entries, never as
 * members every JavaScript object has (`toString`, `constructor`, `__proto__`).
 */

const file = (results: Record<string, unknown>): ResultsFile => ({
  profile: null, provenance: { generatedAt: '2020-01-01T00:00:00Z', environment: { node: 'v20', platform: 'linux', cpus: 1, packages: {} }, notebooks: [] },
  results, sources: Object.fromEntries(Object.keys(results).map((k) => [k, { notebook: 'a', cellIndex: 0 }])),
});

test('{{result toString}} and {{meta constructor}} are names nobody published: "not run" and a warning, not a function or a crash', () => {
  const ctx = createContext({ results: { x: 1 }, meta: { profile: 'p' } });
  const html = renderMarkdown('A {{result toString raw}}, B {{result constructor}}, C {{meta toString}}, D {{meta hasOwnProperty}}.', ctx);
  const doc = new JSDOM(html).window.document;
  assert.equal(doc.querySelectorAll('.not-run').length, 4, html);
  assert.doesNotMatch(html, /function|native code/);
  assert.equal(ctx.warnings.length, 4);
});

test('verify toString is neither a claim nor a result; diff sees a name only one run published', () => {
  assert.throws(() => planVerify('toString', {}, file({ x: 1 }), []), (e: unknown) => e instanceof UserError && /"toString" is neither a claim nor a published result/.test(e.message));
  const d = diffRuns({ label: 'a', file: file({ toString: 1 }) }, { label: 'b', file: file({}) });
  assert.deepEqual(d.values.map((v) => [v.name, v.change, v.b]), [['toString', 'removed', undefined]]);
});

test('a notebook may publish toString or __proto__: the results file keeps them as values', async () => {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-names-'));
  try {
    await mkdir(join(root, 'notebooks'));
    await writeFile(join(root, 'notebooks', 'a.md'), "---\ntitle: A\n---\n\n```ts\npublish('toString', 6);\npublish('__proto__', { evil: true });\n```\n");
    const r = await runProject({ root, quietArtifacts: true });
    assert.ok(r.ok);
    assert.equal(Object.getPrototypeOf(r.results.results), Object.prototype, 'the results object itself is untouched');
    assert.ok(Object.hasOwn(r.results.results, '__proto__') && Object.hasOwn(r.results.results, 'toString'));
    const html = renderMarkdown('{{result toString int}}', createContext({ results: r.results.results, sources: r.results.sources }));
    assert.match(html, />6</);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
