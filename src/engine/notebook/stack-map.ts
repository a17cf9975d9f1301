import type { CellError, CodeCell, NotebookDocument } from '../core/records.ts';
import { CellSyntaxError, type TransformedCell } from './transform.ts';
import { StalledCellError } from './cell-guard.ts';
import { denialMessage, findDenial } from '../sandbox/denial.ts';

/**
 * A cell as the runner compiles it, and its errors mapped back to the notebook: the cell
 * becomes the body of a sloppy-mode async function `with (runtime) { with (scope) { … } }`
 * (wrapCell), compiled under the name `<path>#cell<N>` (cellFilename), so that the frames of a
 * stack can be rewritten to `<notebook>:<line> (cell N, line L)` (toCellError). The wrapper's
 * header and the mapping change together.
 */

export function cellFilename(doc: NotebookDocument, cell: CodeCell): string {
  return `${doc.path}#cell${cell.index + 1}`;
}

const HEADER_LINES = 1;

/** The source compiled for a cell: a function of the runtime, the shared scope and the import helpers. */
export function wrapCell(t: TransformedCell): string {
  const copyFns = t.functions.map((f) => `__scope[${JSON.stringify(f)}] = ${f};`).join(' ');
  return `(async function (__rt, __scope, __import, __default, __importMeta, __thrown) { with (__rt) { with (__scope) { ${copyFns}\n${t.body}\n}}})`;
}

export interface CompiledCell { cell: CodeCell; transformed: TransformedCell; filename: string }

function toError(v: unknown): Error {
  if (v instanceof Error) return v;
  const e = new Error(typeof v === 'string' ? v : JSON.stringify(v) ?? String(v));
  e.name = 'Error';
  e.stack = `${e.name}: ${e.message}`;
  return e;
}

/** Rewrite stack frames of notebook cells to `<notebook>:<line> (cell N, line L)`. */
function mapStack(stack: string, doc: NotebookDocument, compiled: Map<string, CompiledCell>): { stack: string; frames: Array<{ cellIndex: number; cellLine: number; fileLine: number }> } {
  const frames: Array<{ cellIndex: number; cellLine: number; fileLine: number }> = [];
  const esc = doc.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`(${esc}#cell\\d+):(\\d+):(\\d+)`, 'g');
  const mapped = stack.replace(re, (whole, fname: string, l: string, c: string) => {
    const cc = compiled.get(fname);
    if (!cc) return whole;
    const bodyLine = Number(l) - HEADER_LINES;
    const cellLine = bodyLine >= 1 ? cc.transformed.mapLine(bodyLine, Number(c) - 1) : 1;
    if (cellLine === null) return whole;
    const fileLine = cc.cell.line + cellLine - 1;
    frames.push({ cellIndex: cc.cell.index, cellLine, fileLine });
    return `${doc.path}:${fileLine} (cell ${cc.cell.index + 1}, line ${cellLine})`;
  });
  // Frames below the first cell frame are the runner's own machinery: drop them.
  const lines = mapped.split('\n');
  let last = -1;
  lines.forEach((ln, i) => { if (ln.includes(`${doc.path}:`) && /\(cell \d+, line \d+\)/.test(ln)) last = i; });
  return { stack: last >= 0 ? lines.slice(0, last + 1).join('\n') : mapped, frames };
}

/** A CellError for `raw`, thrown by (or on behalf of) `cell`, with its notebook line when the stack has it. */
export function toCellError(
  doc: NotebookDocument, cell: CodeCell, raw: unknown, compiled: Map<string, CompiledCell>,
  throwSite: { value: unknown; stack: string } | null = null,
): CellError {
  const filename = cellFilename(doc, cell);
  let error: CellError;
  if (raw instanceof CellSyntaxError) {
    error = { name: 'SyntaxError', message: raw.message, cellIndex: cell.index, cellLine: raw.cellLine, fileLine: cell.line + raw.cellLine - 1 };
    error.stack = `SyntaxError: ${raw.message}\n    at ${doc.path}:${error.fileLine} (cell ${cell.index + 1}, line ${raw.cellLine})`;
  } else if (raw instanceof SyntaxError && compiled.get(filename) && (raw.stack ?? '').startsWith(`${filename}:`)) {
    // The rewritten cell failed to compile (a construct the rewrite does not support).
    const l = Number(/^[^\n]*:(\d+)/.exec(raw.stack!)?.[1] ?? 0) - HEADER_LINES;
    const cellLine = (l >= 1 ? compiled.get(filename)!.transformed.mapLine(l, 0) : null) ?? 1;
    error = { name: 'SyntaxError', message: raw.message, cellIndex: cell.index, cellLine, fileLine: cell.line + cellLine - 1 };
    error.stack = `SyntaxError: ${raw.message}\n    at ${doc.path}:${error.fileLine} (cell ${cell.index + 1}, line ${cellLine})`;
  } else if (raw instanceof StalledCellError) {
    // No stack frame says where the cell waits; the cell's first line at least finds it.
    error = { name: raw.name, message: raw.message, cellIndex: cell.index, fileLine: cell.line };
  } else {
    const e = toError(raw);
    if (!(raw instanceof Error) && throwSite && Object.is(throwSite.value, raw)) {
      // `throw 'x'` has no stack of its own: the one recorded where it was thrown (transform.ts),
      // less its "Error" line and the frame of the recorder itself.
      e.stack = `${e.name}: ${e.message}\n${throwSite.stack.split('\n').slice(2).join('\n')}`;
    }
    const { stack, frames } = mapStack(e.stack ?? `${e.name}: ${e.message}`, doc, compiled);
    error = { name: e.name, message: e.message, stack, cellIndex: cell.index };
    // Refused by --sandbox: say what, and how a project asks for it.
    const denial = findDenial(raw);
    if (denial) Object.assign(error, { name: 'SandboxDenied', message: denialMessage(denial, `${doc.path} cell ${cell.index + 1}`) });
    const own = frames.find((f) => f.cellIndex === cell.index) ?? frames[0];
    if (own && own.cellIndex === cell.index) { error.cellLine = own.cellLine; error.fileLine = own.fileLine; }
  }
  return error;
}
