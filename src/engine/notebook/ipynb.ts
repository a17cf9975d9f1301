import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { CellOutput, DisplayItem, ExecutedNotebook } from '../core/records.ts';
import { itemToText } from './display.ts';
import { profileDir } from '../store/executed.ts';

/**
 * Export an executed notebook as Jupyter nbformat 4, so that it opens in Jupyter or an
 * editor with its outputs: prose becomes Markdown cells, TypeScript cells code cells with
 * their outputs (stream, display_data, execute_result, error).
 */

type Json = Record<string, unknown>;

function lines(text: string): string[] {
  const parts = text.split('\n');
  return parts.map((p, i) => (i < parts.length - 1 ? `${p}\n` : p)).filter((p) => p !== '');
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function tableHtml(item: Extract<DisplayItem, { kind: 'table' }>): string {
  const cell = (v: unknown) => escapeHtml(v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const head = `<tr>${item.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>`;
  const body = item.rows.map((r) => `<tr>${item.columns.map((c) => `<td>${cell(r[c])}</td>`).join('')}</tr>`).join('\n');
  const cap = item.caption ? `<caption>${escapeHtml(item.caption)}</caption>` : '';
  return `<table>${cap}\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

export function itemToMimeBundle(item: DisplayItem): Json {
  const data: Json = { 'text/plain': lines(itemToText(item)) };
  switch (item.kind) {
    case 'markdown': data['text/markdown'] = lines(item.markdown); break;
    case 'table': data['text/html'] = lines(tableHtml(item)); break;
    // A Plot figure (legend, title, caption) or a swatch legend alone is HTML around SVGs, not an SVG document.
    case 'svg': data[/^\s*<(figure|div)[\s>]/i.test(item.svg) ? 'text/html' : 'image/svg+xml'] = lines(item.svg); break;
    case 'image': data['image/png'] = item.base64; break;
    case 'json': data['application/json'] = item.value as unknown; break;
    case 'text': break;
  }
  return data;
}

function outputToJupyter(o: CellOutput, executionCount: number): Json {
  if (o.type === 'stream') return { output_type: 'stream', name: o.name, text: lines(o.text) };
  const data = itemToMimeBundle(o.item);
  const metadata: Json = o.item.kind === 'image' ? { 'image/png': { width: o.item.width, height: o.item.height } } : {};
  if (o.type === 'result') return { output_type: 'execute_result', execution_count: executionCount, data, metadata };
  return { output_type: 'display_data', data, metadata };
}

export function toIpynb(executed: ExecutedNotebook): Json {
  const cells: Json[] = [];
  const fm = executed.notebook.frontMatter;
  cells.push({ cell_type: 'markdown', metadata: {}, source: lines(`# ${fm.title}${fm.summary ? `\n\n${fm.summary}` : ''}`) });
  const results = new Map(executed.cells.map((c) => [c.index, c]));
  for (const b of executed.notebook.blocks) {
    if (b.kind === 'prose') cells.push({ cell_type: 'markdown', metadata: {}, source: lines(b.markdown) });
    else if (b.kind === 'shown') cells.push({ cell_type: 'markdown', metadata: {}, source: lines(`\`\`\`${b.lang}\n${b.source}\n\`\`\``) });
    else {
      const r = results.get(b.index);
      const n = b.index + 1;
      const outputs = (r?.outputs ?? []).map((o) => outputToJupyter(o, n));
      if (r?.error) {
        outputs.push({ output_type: 'error', ename: r.error.name, evalue: r.error.message, traceback: (r.error.stack ?? `${r.error.name}: ${r.error.message}`).split('\n') });
      }
      const metadata: Json = {};
      if (b.options.label) metadata.label = b.options.label;
      if (b.options.echo === false) metadata.jupyter = { source_hidden: true };
      if (b.options.output === false) metadata.jupyter = { ...(metadata.jupyter as Json | undefined), outputs_hidden: true };
      const opts = Object.entries(b.options).map(([k, v]) => `//| ${k}: ${v}\n`);
      cells.push({ cell_type: 'code', execution_count: r ? n : null, metadata, source: [...opts, ...lines(b.source)], outputs });
    }
  }
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: 'deno', display_name: 'TypeScript (reprobook)', language: 'typescript' },
      language_info: { name: 'typescript', file_extension: '.ts', mimetype: 'text/x.typescript', pygments_lexer: 'typescript' },
      reprobook: { notebook: executed.notebook.path, profile: executed.profile, params: executed.params, cacheKey: executed.cacheKey, status: executed.status, startedAt: executed.startedAt },
    },
    cells: cells.map((c, i) => ({ id: `cell-${i}`, ...c })),
  };
}

/** Write <root>/.reprobook/ipynb/<profile>/<name>.ipynb and return its path. */
export async function writeIpynb(root: string, executed: ExecutedNotebook): Promise<string> {
  const dir = join(root, '.reprobook', 'ipynb', profileDir(executed.profile));
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${executed.notebook.name}.ipynb`);
  await writeFileAtomic(path, `${JSON.stringify(toIpynb(executed), null, 1)}\n`);
  return path;
}
