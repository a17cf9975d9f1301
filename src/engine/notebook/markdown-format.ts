import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { parseDocument, isMap, isScalar, isSeq, LineCounter } from 'yaml';
import type { CellOptions, CodeCell, NotebookBlock, NotebookDocument, NotebookFrontMatter, ParamValue, Params } from '../core/records.ts';
import { UserError } from '../util/errors.ts';
import { isSimpleName, SIMPLE_NAME_HINT } from '../util/names.ts';
import { DURATION_HINT, parseDuration, validateTimeoutSettings } from './timeouts.ts';

/**
 * The on-disk notebook format: Markdown with YAML front matter and fenced ```ts cells whose
 * leading `//| key: value` lines are Quarto-style options. A careful line scanner (not a full
 * Markdown parser) because every block must keep its exact file line for error messages and
 * source maps, and because only fences matter for execution.
 */

export class NotebookFormatError extends UserError {
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, message: string, hint?: string) {
    super(`${file}:${line}: ${message}`, hint);
    this.name = 'NotebookFormatError';
    this.file = file;
    this.line = line;
  }
}

const CODE_LANGS = new Set(['ts', 'typescript', '{ts}', '{typescript}']);
const OPTION_KEYS: Record<keyof CellOptions, 'string' | 'boolean' | 'duration' | 'list'> = {
  label: 'string',
  caption: 'string',
  echo: 'boolean',
  output: 'boolean',
  cache: 'boolean',
  timeout: 'duration',
  depends: 'list',
};
const FRONT_MATTER_KEYS = ['title', 'summary', 'parameters', 'profiles', 'timeout'];

export async function parseNotebook(absPath: string, relPath: string = absPath): Promise<NotebookDocument> {
  let text: string;
  try {
    text = await readFile(absPath, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read notebook ${relPath}: ${(err as Error).message}`, 'check the path; notebooks live in <root>/notebooks/*.md');
  }
  return parseNotebookSource(text, relPath);
}

/** Parse notebook text; `relPath` names the file in errors and in the document. */
export function parseNotebookSource(text: string, relPath: string): NotebookDocument {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const name = basename(relPath, extname(relPath));
  let start = 0;
  let frontMatter: NotebookFrontMatter = { title: name, parameters: {} };
  if (lines[0]?.trim() === '---') {
    const end = lines.findIndex((l, i) => i > 0 && (l.trim() === '---' || l.trim() === '...'));
    if (end < 0) throw new NotebookFormatError(relPath, 1, 'front matter is not closed', "end the YAML front matter with a line containing only '---'");
    frontMatter = parseFrontMatter(lines.slice(1, end).join('\n'), relPath, 2, name);
    start = end + 1;
  }

  const blocks: NotebookBlock[] = [];
  let prose: string[] = [];
  let proseLine = start + 1;
  let cellIndex = 0;
  const flushProse = () => {
    // Trim leading/trailing blank lines but keep the line number of the first kept line.
    let a = 0;
    while (a < prose.length && prose[a]!.trim() === '') a++;
    let b = prose.length;
    while (b > a && prose[b - 1]!.trim() === '') b--;
    if (b > a) blocks.push({ kind: 'prose', markdown: prose.slice(a, b).join('\n'), line: proseLine + a });
    prose = [];
  };

  for (let i = start; i < lines.length; i++) {
    const open = /^( {0,3})(`{3,}|~{3,})\s*(.*)$/.exec(lines[i]!);
    if (!open || (open[2]![0] === '`' && open[3]!.includes('`'))) {
      if (prose.length === 0) proseLine = i + 1;
      prose.push(lines[i]!);
      continue;
    }
    flushProse();
    const indent = open[1]!.length;
    const fence = open[2]!;
    const lang = (open[3]!.trim().split(/\s+/)[0] ?? '').toLowerCase();
    let close = -1;
    for (let j = i + 1; j < lines.length; j++) {
      const m = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(lines[j]!);
      if (m && m[1]![0] === fence[0] && m[1]!.length >= fence.length) { close = j; break; }
    }
    if (close < 0) {
      throw new NotebookFormatError(relPath, i + 1, `unterminated code fence ${fence}${lang}`, `close the block with a line containing only ${fence}`);
    }
    const body = lines.slice(i + 1, close).map((l) => stripIndent(l, indent));
    if (CODE_LANGS.has(lang)) {
      blocks.push(parseCell(body, i + 2, cellIndex++, relPath));
    } else {
      blocks.push({ kind: 'shown', lang: lang.replace(/^\{|\}$/g, ''), source: body.join('\n'), line: i + 2 });
    }
    i = close;
    proseLine = close + 2;
  }
  flushProse();
  checkUniqueLabels(blocks, lines, relPath);
  return { path: relPath, name, frontMatter, blocks };
}

/** Labels become the cells' ids in the page (and the targets of links to them): one per cell. */
function checkUniqueLabels(blocks: NotebookBlock[], lines: string[], file: string): void {
  const seen = new Map<string, { cell: CodeCell; line: number }>();
  for (const b of blocks) {
    if (b.kind !== 'code' || b.options.label === undefined) continue;
    // The option line: the last `//| label:` line above the cell's code.
    let line = b.line;
    for (let i = b.line - 2; i >= 0 && /^\s*\/\/\|/.test(lines[i]!); i--) {
      if (/^\s*\/\/\|\s?label\s*:/.test(lines[i]!)) { line = i + 1; break; }
    }
    const first = seen.get(b.options.label);
    if (first) {
      throw new NotebookFormatError(file, line, `cell label '${b.options.label}' is used by two cells: cell ${first.cell.index + 1} (line ${first.line}) and cell ${b.index + 1} (line ${line})`,
        'give each cell its own label: a label is the cell\'s id in the page and the target of links to it');
    }
    seen.set(b.options.label, { cell: b, line });
  }
}

function stripIndent(line: string, n: number): string {
  let k = 0;
  while (k < n && line[k] === ' ') k++;
  return line.slice(k);
}

function parseCell(body: string[], firstLine: number, index: number, file: string): CodeCell {
  const options: CellOptions = {};
  let k = 0;
  for (; k < body.length; k++) {
    const m = /^\s*\/\/\|\s?(.*)$/.exec(body[k]!);
    if (!m) break;
    const line = firstLine + k;
    const opt = /^([A-Za-z][\w-]*)\s*:\s*(.*)$/.exec(m[1]!.trim());
    if (!opt) throw new NotebookFormatError(file, line, `malformed cell option '${body[k]!.trim()}'`, "write options as '//| key: value'");
    const key = opt[1]! as keyof CellOptions;
    if (!(key in OPTION_KEYS)) {
      throw new NotebookFormatError(file, line, `unknown cell option '${opt[1]}'`, `valid options: ${Object.keys(OPTION_KEYS).join(', ')}`);
    }
    const raw = opt[2]!.trim();
    let value: unknown;
    try {
      value = parseDocument(raw).toJS();
    } catch {
      value = raw;
    }
    if (OPTION_KEYS[key] === 'boolean') {
      if (typeof value !== 'boolean') throw new NotebookFormatError(file, line, `cell option '${key}' must be true or false, got '${raw}'`, `write '//| ${key}: false'`);
      (options as Record<string, unknown>)[key] = value;
    } else if (OPTION_KEYS[key] === 'list') {
      // `a.ts b.ts`, `a.ts, b.ts` or a YAML list `[a.ts, b.ts]`.
      const items = Array.isArray(value) ? value : String(value ?? '').split(/[\s,]+/);
      if (!items.every((x) => typeof x === 'string')) throw new NotebookFormatError(file, line, `cell option '${key}' must be a list of module paths, got '${raw}'`, `e.g. '//| ${key}: ../src/model.ts ../src/data.cjs'`);
      (options as Record<string, unknown>)[key] = (items as string[]).map((x) => x.trim()).filter(Boolean);
    } else if (OPTION_KEYS[key] === 'duration') {
      if (parseDuration(value) === undefined) throw new NotebookFormatError(file, line, `cell option '${key}': '${raw}' is not a duration`, DURATION_HINT);
      (options as Record<string, unknown>)[key] = String(value).trim();
    } else {
      (options as Record<string, unknown>)[key] = typeof value === 'string' ? value : raw.replace(/^(['"])(.*)\1$/, '$2');
    }
  }
  return { kind: 'code', index, lang: 'ts', source: body.slice(k).join('\n'), options, line: firstLine + k };
}

function isParamValue(v: unknown): v is ParamValue {
  if (typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every((x) => typeof x === 'number' && Number.isFinite(x)) || v.every((x) => typeof x === 'string');
  return false;
}

/**
 * Validate a YAML map of parameter values. `where` names it in errors; `lineOf` finds the
 * file line of a key.
 */
export function validateParams(value: unknown, where: string, fail: (key: string | null, msg: string, hint?: string) => never): Params {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) fail(null, `${where} must be a map of name: value`);
  const out: Params = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (!isParamValue(v)) {
      fail(k, `${where}: '${k}' must be a number, string, boolean or a list of numbers or of strings`, `got ${JSON.stringify(v)}`);
    }
    out[k] = v;
  }
  return out;
}

/** 1-based line of the deepest key of `path` that exists in a parsed YAML document (for error messages). */
export function yamlKeyLine(doc: ReturnType<typeof parseDocument>, lineCounter: LineCounter, path: string[]): number {
  let node: unknown = doc.contents;
  let pos = 0;
  for (const k of path) {
    if (!isMap(node)) break;
    const pair = node.items.find((p) => isScalar(p.key) && p.key.value === k);
    if (!pair) break;
    const range = (pair.key as { range?: [number, number, number] }).range;
    if (range) pos = range[0];
    node = pair.value;
  }
  return lineCounter.linePos(pos).line;
}

function parseFrontMatter(yamlText: string, file: string, firstLine: number, name: string): NotebookFrontMatter {
  const lineCounter = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = firstLine + (lineCounter.linePos(e.pos[0]).line - 1);
    throw new NotebookFormatError(file, line, `bad front matter: ${e.message.split('\n')[0]}`, 'the front matter must be valid YAML between two --- lines');
  }
  const lineOfKey = (path: string[]): number => firstLine + (yamlKeyLine(doc, lineCounter, path) - 1);
  const root = doc.contents;
  if (root !== null && !isMap(root)) {
    throw new NotebookFormatError(file, firstLine, 'front matter must be a YAML map (title: ..., parameters: ...)');
  }
  const data = (doc.toJS() ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(data)) {
    if (!FRONT_MATTER_KEYS.includes(k)) {
      throw new NotebookFormatError(file, lineOfKey([k]), `unknown front matter key '${k}'`, `valid keys: ${FRONT_MATTER_KEYS.join(', ')}`);
    }
  }
  if (data.title !== undefined && typeof data.title !== 'string') throw new NotebookFormatError(file, lineOfKey(['title']), 'title must be a string');
  if (data.summary !== undefined && typeof data.summary !== 'string') throw new NotebookFormatError(file, lineOfKey(['summary']), 'summary must be a string');
  const parameters = validateParams(data.parameters, 'parameters', (k, msg, hint) => {
    throw new NotebookFormatError(file, lineOfKey(k ? ['parameters', k] : ['parameters']), msg, hint);
  });
  let profiles: Record<string, Params> | undefined;
  if (data.profiles !== undefined) {
    if (typeof data.profiles !== 'object' || data.profiles === null || Array.isArray(data.profiles)) {
      throw new NotebookFormatError(file, lineOfKey(['profiles']), 'profiles must be a map of profile name to parameter values');
    }
    profiles = {};
    for (const [p, values] of Object.entries(data.profiles as Record<string, unknown>)) {
      if (!isSimpleName(p)) throw new NotebookFormatError(file, lineOfKey(['profiles', p]), `profile name ${JSON.stringify(p)} is not a simple name`, SIMPLE_NAME_HINT);
      const ps = validateParams(values, `profile '${p}'`, (k, msg, hint) => {
        throw new NotebookFormatError(file, lineOfKey(k ? ['profiles', p, k] : ['profiles', p]), msg, hint);
      });
      for (const k of Object.keys(ps)) {
        if (!(k in parameters)) {
          throw new NotebookFormatError(file, lineOfKey(['profiles', p, k]), `profile '${p}' sets '${k}', which is not a declared parameter`,
            `declare it under parameters: (declared: ${Object.keys(parameters).join(', ') || 'none'})`);
        }
      }
      profiles[p] = ps;
    }
  }
  const timeout = validateTimeoutSettings(data.timeout, (k, msg, hint) => {
    throw new NotebookFormatError(file, lineOfKey(k ? ['timeout', k] : ['timeout']), msg, hint);
  });
  const fm: NotebookFrontMatter = { title: (data.title as string | undefined) ?? name, parameters };
  if (data.summary !== undefined) fm.summary = data.summary as string;
  if (profiles) fm.profiles = profiles;
  if (Object.keys(timeout).length > 0) fm.timeout = timeout;
  return fm;
}

export function codeCells(doc: NotebookDocument): CodeCell[] {
  return doc.blocks.filter((b): b is CodeCell => b.kind === 'code');
}
