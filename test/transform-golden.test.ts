/**
 * Golden files for the cell transform (src/engine/notebook/transform.ts): each
 * test/fixtures/transform/<case>.ts is one cell, and <case>.golden.js is what the runner
 * executes for it, headed by the names the transform reports. The pairs are the transform's
 * rules as examples; after an intended change, regenerate them with
 *   UPDATE_GOLDEN=1 node --import tsx --test test/transform-golden.test.ts
 * and read the diff.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { transformCell } from '../src/engine/notebook/transform.ts';

const DIR = join(import.meta.dirname, 'fixtures', 'transform');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** What a reader needs to check a rule: the reported names, then the body line for line. */
function render(name: string, cell: Awaited<ReturnType<typeof transformCell>>, sourceLines: number): string {
  const list = (xs: string[]) => (xs.length ? xs.join(', ') : '(none)');
  const bodyLines = cell.body.split('\n');
  // Every body line maps back to a cell line: that is what keeps V8's line numbers meaningful.
  const mapped = bodyLines.map((_, i) => cell.mapLine(i + 1, 0));
  return [
    `// golden output of the cell transform for ${name}.ts`,
    `// declared: ${list(cell.declared)}`,
    `// functions: ${list(cell.functions)}`,
    `// imports: ${list(cell.imports)}`,
    `// body lines: ${bodyLines.length}, cell lines: ${sourceLines}, first body line maps to cell line ${mapped.find((m) => m !== null) ?? 'none'}`,
    cell.body.trimEnd(),
    '',
  ].join('\n');
}

const cases = (await readdir(DIR)).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort();

test('there are golden cases for the transform', () => {
  assert.ok(cases.length >= 7, `only ${cases.length} cases in ${DIR}`);
});

for (const name of cases) {
  test(`cell transform golden: ${name}`, async () => {
    const source = await readFile(join(DIR, `${name}.ts`), 'utf8');
    const actual = render(name, await transformCell(source, `${name}.ts`), source.split('\n').length);
    const goldenPath = join(DIR, `${name}.golden.js`);
    if (UPDATE) await writeFile(goldenPath, actual);
    let expected: string;
    try {
      expected = await readFile(goldenPath, 'utf8');
    } catch {
      assert.fail(`${goldenPath} is missing: run UPDATE_GOLDEN=1 node --import tsx --test test/transform-golden.test.ts and review it`);
    }
    assert.equal(actual, expected, `${name}: the transform's output changed; if intended, regenerate with UPDATE_GOLDEN=1 and review the diff`);
  });
}
