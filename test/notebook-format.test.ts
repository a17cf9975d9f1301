import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseNotebook, parseNotebookSource, NotebookFormatError } from '../src/engine/notebook/markdown-format.ts';
import { parseProjectConfig } from '../src/engine/notebook/config.ts';
import { parseParamValue, resolveParams, validateRequest, parseOverrides } from '../src/engine/notebook/params.ts';
import { UserError } from '../src/engine/util/errors.ts';

const FIX = join(import.meta.dirname, 'fixtures', 'notebooks');

test('parses front matter, prose, cells with options and shown code, with file lines', async () => {
  const doc = await parseNotebook(join(FIX, 'project', 'notebooks', '01-basics.md'), 'notebooks/01-basics.md');
  assert.equal(doc.name, '01-basics');
  assert.equal(doc.frontMatter.title, 'Basics');
  assert.equal(doc.frontMatter.summary, 'Shared scope, top-level await and every kind of output.');
  assert.deepEqual(doc.frontMatter.parameters, { samples: 10, eps: 0.1, label: 'run', flags: [1, 2], verbose: false });
  assert.deepEqual(doc.frontMatter.profiles, { paper: { label: 'paper-run' } });
  const kinds = doc.blocks.map((b) => b.kind);
  assert.deepEqual(kinds, ['prose', 'code', 'code', 'code', 'shown', 'code']);
  const [prose, setup, , outputs, shown, counted] = doc.blocks;
  assert.equal(prose!.line, 14);
  assert.ok(prose!.kind === 'prose' && prose.markdown.startsWith('# Basics'));
  assert.ok(setup!.kind === 'code');
  assert.deepEqual(setup.options, { label: 'setup' });
  assert.equal(setup.line, 20, 'line of the first source line, after the option lines');
  assert.ok(setup.source.startsWith('const base'));
  assert.ok(outputs!.kind === 'code');
  assert.deepEqual(outputs.options, { label: 'outputs', caption: 'A tiny figure' });
  assert.ok(shown!.kind === 'shown' && shown.lang === 'bash' && shown.source.includes('shown, not run'));
  assert.ok(counted!.kind === 'code' && counted.index === 3);
});

test('cell options: booleans, quoted strings, typescript fences', () => {
  const doc = parseNotebookSource('```typescript\n//| echo: false\n//| cache: false\n//| caption: "Figure: one"\nx\n```\n', 'notebooks/x.md');
  const cell = doc.blocks[0]!;
  assert.ok(cell.kind === 'code');
  assert.deepEqual(cell.options, { echo: false, cache: false, caption: 'Figure: one' });
  assert.equal(cell.line, 5);
  assert.equal(doc.frontMatter.title, 'x', 'title defaults to the file name');
});

test('a four-backtick fence may contain a ``` line', () => {
  const doc = parseNotebookSource('````md\n```ts\nnot a cell\n```\n````\n', 'notebooks/x.md');
  assert.equal(doc.blocks.length, 1);
  assert.ok(doc.blocks[0]!.kind === 'shown');
});

async function formatError(file: string): Promise<NotebookFormatError> {
  try {
    await parseNotebook(join(FIX, 'malformed', file), `notebooks/${file}`);
  } catch (err) {
    assert.ok(err instanceof NotebookFormatError, `expected a NotebookFormatError, got ${err}`);
    return err;
  }
  assert.fail(`${file} parsed without error`);
}

test('malformed notebooks give file:line errors with a hint', async () => {
  const fm = await formatError('bad-front-matter.md');
  assert.equal(fm.file, 'notebooks/bad-front-matter.md');
  assert.ok(fm.line >= 4 && fm.line <= 5, `front matter error line ${fm.line}`);
  assert.match(fm.message, /^notebooks\/bad-front-matter\.md:\d+: bad front matter/);

  const opt = await formatError('unknown-option.md');
  assert.equal(opt.line, 9);
  assert.match(opt.message, /unknown cell option 'colour'/);
  assert.match(opt.hint!, /label, caption, echo, output, cache/);

  const fence = await formatError('unterminated.md');
  assert.equal(fence.line, 5);
  assert.match(fence.message, /unterminated code fence/);

  const key = await formatError('unknown-key.md');
  assert.equal(key.line, 3);
  assert.match(key.message, /unknown front matter key 'parameter'/);
});

test('bad option values and undeclared profile parameters are errors', () => {
  assert.throws(() => parseNotebookSource('```ts\n//| echo: maybe\n1\n```\n', 'n.md'), /n\.md:2: cell option 'echo' must be true or false/);
  assert.throws(() => parseNotebookSource('---\ntitle: t\nparameters: { a: 1 }\nprofiles:\n  p: { b: 2 }\n---\n', 'n.md'), /n\.md:5: profile 'p' sets 'b'/);
  assert.throws(() => parseNotebookSource('---\nparameters:\n  a: { x: 1 }\n---\n', 'n.md'), /n\.md:3: parameters: 'a' must be/);
  assert.throws(() => parseNotebookSource('---\ntitle: t\n', 'n.md'), /n\.md:1: front matter is not closed/);
});

test('project config: profiles, defaultProfile, data globs, errors with lines', () => {
  const c = parseProjectConfig('defaultProfile: quick\nprofiles:\n  quick: { n: 1 }\ndata: [data/*.bin]\n');
  assert.deepEqual(c, { parameters: {}, defaultProfile: 'quick', profiles: { quick: { n: 1 } }, data: ['data/*.bin'], dependsOn: [], environment: [] });
  const deps = parseProjectConfig('dependsOn: [build/*.node]\nenvironment: [MY_BACKEND]\n');
  assert.deepEqual([deps.dependsOn, deps.environment], [['build/*.node'], ['MY_BACKEND']]);
  assert.throws(() => parseProjectConfig('environment:\n  - NOT-A-NAME\n'), /reprobook\.config\.yaml:1: 'NOT-A-NAME' is not an environment variable name/);
  assert.throws(() => parseProjectConfig('dependsOn: build/*.node\n'), /dependsOn must be a list of file globs/);
  assert.deepEqual(parseProjectConfig('parameters:\n  epochs: 2\n  temperatures: [1, 100]\n').parameters, { epochs: 2, temperatures: [1, 100] });
  assert.throws(() => parseProjectConfig('parameters:\n  epochs: 2\n  bad: { a: 1 }\n'), /reprobook\.config\.yaml:3: parameters: 'bad' must be/);
  assert.throws(() => parseProjectConfig('profile: {}\n'), /reprobook\.config\.yaml:1: unknown key 'profile'/);
  assert.throws(() => parseProjectConfig('profiles:\n  a: {}\ndefaultProfile: b\n'), /:3: defaultProfile 'b' is not a profile/);
});

test('parameter values parse by the declared type', () => {
  assert.equal(parseParamValue('n', '3.5', 1), 3.5);
  assert.equal(parseParamValue('b', 'no', true), false);
  assert.equal(parseParamValue('s', '12', 'x'), '12');
  assert.deepEqual(parseParamValue('t', '1,2,100', [1]), [1, 2, 100]);
  assert.deepEqual(parseParamValue('t', '[5, 6]', [1]), [5, 6]);
  assert.deepEqual(parseParamValue('w', 'a, b', ['x']), ['a', 'b']);
  assert.throws(() => parseParamValue('n', 'ten', 1), (e: unknown) => e instanceof UserError && /expected a number/.test(e.message));
  // A word some profile gives the parameter (trainSize: all) is accepted; others still fail, naming it.
  assert.equal(parseParamValue('trainSize', 'all', 8000, [500, 'all']), 'all');
  assert.throws(() => parseParamValue('trainSize', 'most', 8000, [500, 'all']), (e: unknown) => e instanceof UserError && /expected a number \(or 'all', as a profile uses\)/.test(e.message));
  assert.throws(() => parseParamValue('t', '1,x', [1]), /expected a list of numbers/);
  assert.deepEqual(parseOverrides(['a=1', 'b=x=y']), { a: '1', b: 'x=y' });
  assert.throws(() => parseOverrides(['nope']), /not of the form name=value/);
});

test('profiles and overrides resolve per notebook; unknown names list the valid ones', () => {
  const config = parseProjectConfig('profiles:\n  quick: { n: 2, other: 9 }\n');
  const a = parseNotebookSource('---\nparameters: { n: 10, m: 1 }\nprofiles:\n  local: { m: 5 }\n---\n', 'notebooks/a.md');
  const b = parseNotebookSource('---\nparameters: { k: true }\n---\n', 'notebooks/b.md');
  assert.deepEqual(resolveParams(config, a, { profile: 'quick', overrides: {} }), { n: 2, m: 1 });
  assert.deepEqual(resolveParams(config, b, { profile: 'quick', overrides: {} }), { k: true }, 'project profiles skip undeclared params');
  assert.deepEqual(resolveParams(config, a, { profile: 'local', overrides: { n: '7' } }), { n: 7, m: 5 });
  assert.deepEqual(resolveParams(config, b, { profile: null, overrides: { k: 'false' } }), { k: false });
  validateRequest(config, [a, b], { profile: 'local', overrides: { k: '1' } });
  assert.throws(() => validateRequest(config, [a, b], { profile: 'full', overrides: {} }),
    (e: unknown) => e instanceof UserError && /unknown profile 'full'/.test(e.message) && /local, quick/.test(e.hint!));
  assert.throws(() => validateRequest(config, [a, b], { profile: null, overrides: { z: '1' } }),
    (e: unknown) => e instanceof UserError && /unknown parameter 'z'/.test(e.message) && /k, m, n/.test(e.hint!));
});

test('project-wide parameters are declared by every notebook; its own declaration wins; profiles and --param reach them', async () => {
  const { withProjectParameters } = await import('../src/engine/notebook/project.ts');
  const { resolveParams, validateRequest } = await import('../src/engine/notebook/params.ts');
  const config = parseProjectConfig('parameters:\n  epochs: 2\n  n: 1\nprofiles:\n  quick: { epochs: 3 }\n');
  const doc = withProjectParameters(parseNotebookSource('---\nparameters: { n: 10 }\n---\n', 'notebooks/a.md'), config);
  assert.deepEqual(doc.frontMatter.parameters, { epochs: 2, n: 10 });
  const req = { profile: 'quick', overrides: { n: '7' } };
  validateRequest(config, [doc], req);
  assert.deepEqual(resolveParams(config, doc, req), { epochs: 3, n: 7 });
  assert.throws(() => validateRequest(config, [doc], { profile: null, overrides: { epoch: '1' } }), /unknown parameter 'epoch'/);
});

test('duplicate cell labels are refused, naming both cells and their lines (issue 12, item 12)', () => {
  const src = '---\ntitle: t\n---\n\n```ts\n//| label: fig-a\n//| caption: first\n1\n```\n\n```ts\n2\n```\n\n```ts\n//| echo: false\n//| label: fig-a\n3\n```\n';
  assert.throws(() => parseNotebookSource(src, 'notebooks/t.md'), (e: unknown) =>
    e instanceof NotebookFormatError && e.message === "notebooks/t.md:17: cell label 'fig-a' is used by two cells: cell 1 (line 6) and cell 3 (line 17)" && /its own label/.test(e.hint ?? ''));
  parseNotebookSource('```ts\n//| label: a\n1\n```\n\n```ts\n//| label: b\n2\n```\n', 'notebooks/t.md');
});
