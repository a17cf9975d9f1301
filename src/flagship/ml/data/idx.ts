/**
 * The IDX file format of MNIST (LeCun et al.): a big-endian header, then raw bytes.
 *   bytes 0-1: zero; byte 2: element type (0x08 = unsigned byte); byte 3: number of dims;
 *   then one uint32 per dimension; then prod(dims) elements.
 * The "magic number" is the first uint32: 2051 for 3-d image files, 2049 for 1-d label files.
 * Pure functions over bytes; callers attach file names to the problems reported here.
 */

export const IDX_MAGIC_IMAGES = 2051;
export const IDX_MAGIC_LABELS = 2049;
const UBYTE = 0x08;

export interface IdxHeader {
  magic: number;
  dims: number[];
  /** Bytes taken by the header (4 + 4 per dimension). */
  headerBytes: number;
  /** Bytes the data must take: prod(dims) for unsigned bytes. */
  dataBytes: number;
}

/** A malformed IDX buffer; `message` says what is wrong without naming the file. */
export class IdxFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdxFormatError';
  }
}

export function parseIdxHeader(buf: Uint8Array): IdxHeader {
  if (buf.length < 4) throw new IdxFormatError(`truncated: ${buf.length} bytes, too short for an IDX header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0, false);
  if (buf[0] !== 0 || buf[1] !== 0 || buf[2] !== UBYTE || buf[3] < 1) {
    throw new IdxFormatError(`bad magic number ${magic} (0x${magic.toString(16).padStart(8, '0')}): not an unsigned-byte IDX file`);
  }
  const ndims = buf[3];
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes) throw new IdxFormatError(`truncated: ${buf.length} bytes, header needs ${headerBytes}`);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const dataBytes = dims.reduce((a, b) => a * b, 1);
  return { magic, dims, headerBytes, dataBytes };
}

export interface IdxExpectation {
  magic: number;
  /** Expected dims; a dimension given as null is not checked (e.g. the count of a custom file). */
  dims: Array<number | null>;
}

/**
 * Parse and check an IDX buffer against what it must be. Returns the header and a view of
 * the data bytes (no copy). Throws IdxFormatError on any mismatch: a file is never cut short
 * or padded to fit.
 */
export function parseIdx(buf: Uint8Array, expected: IdxExpectation): { header: IdxHeader; data: Uint8Array } {
  const header = parseIdxHeader(buf);
  if (header.magic !== expected.magic) {
    throw new IdxFormatError(`bad magic number ${header.magic}, expected ${expected.magic} (${expected.magic === IDX_MAGIC_IMAGES ? 'images' : 'labels'})`);
  }
  if (header.dims.length !== expected.dims.length) {
    throw new IdxFormatError(`has ${header.dims.length} dimensions, expected ${expected.dims.length}`);
  }
  expected.dims.forEach((d, i) => {
    if (d !== null && header.dims[i] !== d) {
      throw new IdxFormatError(`dimensions ${header.dims.join('x')}, expected ${expected.dims.map((x) => x ?? '*').join('x')}`);
    }
  });
  const want = header.headerBytes + header.dataBytes;
  if (buf.length < want) throw new IdxFormatError(`truncated: ${buf.length} bytes, the header promises ${want}`);
  if (buf.length > want) throw new IdxFormatError(`${buf.length - want} unexpected trailing bytes after the ${want} the header promises`);
  return { header, data: buf.subarray(header.headerBytes, want) };
}

/** Count of each label 0..9; throws on a label outside 0..9. */
export function countLabels(labels: Uint8Array): number[] {
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l > 9) throw new IdxFormatError(`label ${l} at index ${i} is not a digit 0-9`);
    counts[l]++;
  }
  return counts;
}

/** Pixels 0..255 scaled to [0, 1] as float32. */
export function scalePixels(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] / 255;
  return out;
}
