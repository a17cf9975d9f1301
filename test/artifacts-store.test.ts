import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactStore } from '../src/engine/store/artifacts.ts';
import { jsonProblem } from '../src/engine/util/json-value.ts';
import { UserError } from '../src/engine/util/errors.ts';

/**
 * Issue 12, item 5: memoJson returned the live value on a miss and its JSON round trip on a
 * hit (NaN became null, a Float32Array {"0": …}, a Map {}), so a resumed run saw other data.
 */

test('memoJson returns the same value on a miss and on a hit (the stored JSON, never the live object)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-memo-'));
  try {
    const store = new ArtifactStore(root);
    const key = { kind: 'rows', inputs: { n: 2 } };
    const live = { rows: [{ t: 1, rate: 0.5 }, { t: 100, rate: 0.01 }], note: 'x', dropped: undefined };
    const miss = await store.memoJson(key, async () => live);
    const hit = await store.memoJson(key, async () => assert.fail('a hit does not compute'));
    assert.deepStrictEqual(miss, hit);
    assert.deepStrictEqual(miss, { rows: [{ t: 1, rate: 0.5 }, { t: 100, rate: 0.01 }], note: 'x' });
    assert.notEqual(miss, live, 'a copy: mutating the live object cannot change what a miss returned');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('memoJson refuses values that JSON would change, naming the part, and stores nothing', async () => {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-memo-'));
  try {
    const store = new ArtifactStore(root);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const cases: Array<[unknown, RegExp]> = [
      [{ rates: [0.1, NaN] }, /value\.rates\[1\] is NaN/],
      [{ x: Infinity }, /value\.x is Infinity/],
      [new Float32Array([1, 2]), /value is a Float32Array/],
      [{ m: new Map([['a', 1]]) }, /value\.m is a Map/],
      [{ s: new Set([1]) }, /value\.s is a Set/],
      [{ when: new Date(0) }, /value\.when is a Date/],
      [[1, undefined], /value\[1\] is undefined/],
      [undefined, /value is undefined/],
      [cyclic, /value\.self refers back to itself/],
      [{ n: 1n }, /value\.n is a bigint/],
    ];
    for (const [i, [value, re]] of cases.entries()) {
      const key = { kind: 'bad', inputs: { i } };
      await assert.rejects(store.memoJson(key, async () => value), (e: unknown) =>
        e instanceof UserError && /artifacts\.memoJson\(kind 'bad'\): the value cannot be stored as JSON unchanged/.test(e.message) && re.test(e.message) && /Array\.from/.test(e.hint ?? ''), String(re));
      assert.equal(await store.get(key), null, 'nothing stored');
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('jsonProblem accepts plain JSON', () => {
  assert.equal(jsonProblem({ a: [1, 'b', true, null, { c: -2.5 }], 'odd key': Object.create(null) }), null);
});

test('quarantining a corrupt entry says so once, even without a handler (issue 12, item 12)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-memo-'));
  const lines: string[] = [];
  const write = process.stderr.write;
  try {
    const key = { kind: 'net', inputs: { t: 100 } };
    const writer = new ArtifactStore(root);
    await writer.memoJson(key, async () => ({ w: [1, 2] }));
    const entry = (await writer.get(key))!;
    await writeFile(join(entry.dir, 'value.json'), '{"w":[1,3]}');
    process.stderr.write = ((chunk: string | Uint8Array) => { lines.push(String(chunk)); return true; }) as typeof process.stderr.write;
    const a = new ArtifactStore(root);
    const b = new ArtifactStore(root);
    assert.equal(await a.get(key), null);
    assert.equal(await b.get(key), null, 'moved aside: the second reader finds nothing to report');
    process.stderr.write = write;
    assert.equal(lines.length, 1, lines.join(''));
    assert.match(lines[0]!, new RegExp(`^artifact net ${entry.id.slice(0, 12)} is corrupt \\(value\\.json: sha256 .*\\); moved to .*corrupt.*; recomputing\\n$`));
  } finally {
    process.stderr.write = write;
    await rm(root, { recursive: true, force: true });
  }
});

/**
 * Issue 14, item 3: a store borrows from another, read-only, except for the ids it must
 * compute itself (git's object alternates). `reprobook verify` recomputes a value's chain of
 * keys this way while the rest of its notebook reads the user's store.
 */
test('alternates: borrow what is not excluded, compute the excluded ids here, never write or quarantine the other store', async () => {
  const { artifactId, writeAlternates } = await import('../src/engine/store/artifacts.ts');
  const { readdir, readFile: read } = await import('node:fs/promises');
  const dir = await mkdtemp(join(tmpdir(), 'reprobook-alternates-'));
  try {
    const userRoot = join(dir, 'user');
    const user = new ArtifactStore(userRoot);
    const key = (n: number) => ({ kind: 'n', inputs: { n } });
    for (const n of [1, 2, 3]) await user.memoJson(key(n), async () => n * 10);
    // Entry 3 is damaged in the user's store.
    const damaged = join(user.dirFor(artifactId(key(3))), 'value.json');
    await writeFile(damaged, '999');
    const listing = async () => (await readdir(userRoot, { recursive: true })).sort().join('\n');
    const before = await listing();

    const scratchRoot = join(dir, 'scratch');
    await writeAlternates(scratchRoot, [{ root: userRoot, exclude: [artifactId(key(2))] }]);
    const events: Array<{ type: string; borrowedFrom?: string }> = [];
    const scratch = new ArtifactStore(scratchRoot, { onEvent: (e) => events.push(e) });
    let computed: number[] = [];
    const get = (n: number) => scratch.memoJson(key(n), async () => { computed.push(n); return n * 10; });
    assert.equal(await get(1), 10);
    assert.deepEqual(computed, [], 'entry 1 is borrowed');
    assert.deepEqual(events.at(-1), { type: 'hit', id: artifactId(key(1)), kind: 'n', borrowedFrom: userRoot });
    assert.equal(await get(2), 20);
    assert.deepEqual(computed, [2], 'an excluded id is computed here although the user store has it');
    assert.equal(await get(3), 30);
    assert.deepEqual(computed, [2, 3], 'a corrupt borrowed entry counts as absent');
    assert.equal(await scratch.holds(artifactId(key(1))), false);
    assert.equal(await scratch.holds(artifactId(key(2))), true);
    assert.deepEqual(await scratch.ids(), [artifactId(key(2)), artifactId(key(3))].sort(), 'its own entries: the two it computed');
    assert.equal(await listing(), before, 'nothing written, moved or quarantined in the borrowed store');
    assert.equal(await read(damaged, 'utf8'), '999');
    computed = [];
    assert.equal(await get(2), 20);
    assert.deepEqual(computed, [], 'the scratch store\'s own entry is used the second time');

    await writeFile(join(scratchRoot, 'alternates.json'), '{"stores": [{"root": "relative"}]}');
    await assert.rejects(new ArtifactStore(scratchRoot).get(key(9)), (e: unknown) => e instanceof UserError && /alternates\.json is malformed/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
