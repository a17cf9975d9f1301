/**
 * A problem a build found in the report, as a record (mystmd's way): where (the project file
 * and its 1-based line, when known), which rule, and what. The renderer collects them; the
 * caller prints them, or fails on them under --strict.
 */
export interface ReportWarning {
  /** Project-relative file ('report/index.md', 'notebooks/a.md'). */
  file?: string;
  line?: number;
  /** A short, stable name of the check: 'missing-result', 'stale-value', 'unknown-citation', … */
  rule: string;
  message: string;
}

/** One line for a terminal: `file:line: message`. */
export function formatWarning(w: ReportWarning): string {
  const where = w.file ? `${w.file}${w.line ? `:${w.line}` : ''}: ` : '';
  return `${where}${w.message}`;
}
