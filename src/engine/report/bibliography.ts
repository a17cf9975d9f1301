import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { Cite, plugins } from '@citation-js/core';
import '@citation-js/plugin-bibtex';
import '@citation-js/plugin-csl';
import { UserError } from '../util/errors.ts';
import type { ReferenceEntry } from './markdown.ts';

/**
 * The report's bibliography: BibTeX (`.bib`) or CSL-JSON (`.json`), formatted with a CSL
 * style by citation-js (a maintained implementation of CSL, the styles Zotero and Pandoc use)
 * rather than by hand. Two styles: `numbered` (Vancouver; entries in the file's order, so a
 * reproduction can keep the paper's numbering) and `author-year` (APA; sorted by author).
 * Entries with the keyword `reproduction` are the works only the reproduction cites: listed
 * after the others, under their own heading.
 */

export const CITATION_STYLES = { numbered: 'vancouver', 'author-year': 'apa' } as const;
export type CitationStyle = keyof typeof CITATION_STYLES;

export interface Bibliography {
  entries: ReferenceEntry[];
  /** Index of the first entry cited only by the reproduction (= entries.length when none). */
  extraFrom: number;
  style: CitationStyle;
}

export function checkStyle(style: unknown, where: string): CitationStyle {
  if (style === undefined) return 'numbered';
  if (typeof style === 'string' && style in CITATION_STYLES) return style as CitationStyle;
  throw new UserError(`${where}: unknown citation-style ${JSON.stringify(style)}`, `use one of: ${Object.keys(CITATION_STYLES).join(', ')}`);
}

/**
 * citation-js says only "format not recognized" for a broken .bib: find the entry whose
 * braces do not close, or that has no key, so the message can name its line.
 */
export function checkBibtex(text: string, file: string): void {
  let depth = 0;
  let entry: { line: number; head: string } | null = null;
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\n') line++;
    else if (ch === '%' && depth === 0) { while (i < text.length && text[i] !== '\n') i++; line++; }
    else if (ch === '@' && depth === 0) {
      const m = /^@(\w+)\s*\{\s*([^,\s}]*)\s*(,?)/.exec(text.slice(i));
      if (!m) throw new UserError(`${file}:${line}: an entry must start as @type{key,`, 'e.g. @article{smith2020, author = {…}, title = {…}, year = {2020}}');
      if (!/^(comment|preamble|string)$/i.test(m[1]!) && (!m[2] || !m[3])) {
        throw new UserError(`${file}:${line}: the @${m[1]} entry has no citation key`, 'write @type{key, … } with a key such as smith2020');
      }
      entry = { line, head: `@${m[1]}{${m[2]}` };
    } else if (ch === '{') depth++;
    else if (ch === '}') {
      depth--;
      if (depth < 0) throw new UserError(`${file}:${line}: a closing brace with no opening one`, 'remove it, or open the entry with @type{key,');
    }
  }
  if (depth !== 0 && entry) throw new UserError(`${file}:${entry.line}: the entry ${entry.head} is not closed (unbalanced braces)`, 'close every { with a }; the entry ends with a } of its own');
}

function parse(text: string, file: string): Cite {
  if (extname(file) === '.bib') checkBibtex(text, file);
  let input: unknown = text;
  if (extname(file) === '.json') {
    try {
      input = JSON.parse(text);
    } catch (err) {
      throw new UserError(`${file} is not valid CSL-JSON: ${(err as Error).message}`, 'write a JSON array of CSL items, as Zotero exports them');
    }
  }
  try {
    return new Cite(input);
  } catch (err) {
    throw new UserError(`${file} could not be read as ${extname(file) === '.bib' ? 'BibTeX' : 'CSL-JSON'}: ${(err as Error).message}`, 'check the file; BibTeX entries are @type{key, field = {value}, …}');
  }
}

type CslItem = { id: string; keyword?: string; URL?: string; DOI?: string; note?: string };

/**
 * The entries of `list` formatted as one bibliography, in the style's order (APA: by author,
 * then year; numbered: as listed). One call for the whole list: `Cite.format` with `entry: id`
 * hands citation-js every entry of the file for each one it formats, and 3,000 entries took
 * minutes (the time grew as the square of the count).
 */
function formatEntries(list: CslItem[], style: CitationStyle): Array<{ item: CslItem; text: string }> {
  if (list.length === 0) return [];
  const byId = new Map(list.map((it) => [it.id, it]));
  const formatted = plugins.output.format('bibliography', list, {
    format: 'text', template: CITATION_STYLES[style], lang: 'en-US', asEntryArray: true, nosort: style === 'numbered',
  }) as Array<[string, string]>;
  return formatted.map(([id, text]) => ({ item: byId.get(id)!, text: text.trim() }));
}

export async function loadBibliography(file: string, style: CitationStyle): Promise<Bibliography> {
  const cite = parse(await readFile(file, 'utf8'), file);
  // Cleaned as Cite.format cleans it, once.
  const items = cite.format('data', { format: 'object' }) as CslItem[];
  const seen = new Set<string>();
  for (const it of items) {
    if (seen.has(it.id)) throw new UserError(`${file}: the key ${it.id} is used by two entries`, 'give each entry its own key');
    seen.add(it.id);
  }
  const template = CITATION_STYLES[style];
  // A citation is of its one entry: citation-js is handed that entry alone.
  const citation = (it: CslItem) => (plugins.output.format('citation', [it], { format: 'text', template, lang: 'en-US' }) as string).trim();
  const isExtra = (it: CslItem) => (it.keyword ?? '').split(/[,;]\s*/).includes('reproduction');
  const main = formatEntries(items.filter((i) => !isExtra(i)), style);
  const extra = formatEntries(items.filter(isExtra), style);
  const entries = [...main, ...extra].map(({ item: it, text: formatted }): ReferenceEntry => {
    let text = formatted.replace(/^\d+\.\s*/, '');
    // Some styles drop the note, where BibTeX keeps an arXiv id: keep it, it becomes a link.
    const arxiv = /arXiv:\s*\d{4}\.\d{4,5}(?:v\d+)?/.exec(it.note ?? '')?.[0];
    if (arxiv && !text.includes(arxiv)) text = `${text.replace(/\.?$/, '.')} ${arxiv}.`;
    const url = it.URL ?? (it.DOI ? `https://doi.org/${it.DOI}` : undefined);
    const shown = (it.URL && text.includes(it.URL)) || (it.DOI && text.includes(it.DOI));
    return {
      key: it.id,
      text,
      ...(url && !shown ? { url } : {}),
      ...(style === 'author-year' ? { cite: citation(it).replace(/^\(|\)$/g, '') } : {}),
    };
  });
  return { entries, extraFrom: main.length, style };
}
