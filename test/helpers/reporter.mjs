import { Readable } from 'node:stream';
import { spec, tap } from 'node:test/reporters';

/**
 * `npm test`'s reporter: node's own (spec on a terminal, TAP otherwise, as node picks when
 * no reporter is named), then one closing line for the tests skipped because the machine
 * lacks something (skip reasons "needs NAME (HOW); NAME (HOW)", written by ./requirements.ts).
 * One reporter rather than two side by side, so the line comes after node's summary.
 *
 * Plain JavaScript: node loads reporters without the --import hooks, so not through tsx.
 */

const PREFIX = 'needs ';

/** The closing line for these skip reasons (the ones written by needs()), or undefined. */
export function skipSummary(reasons) {
  const mine = reasons.filter((r) => r.startsWith(PREFIX));
  if (mine.length === 0) return undefined;
  const counts = new Map();
  for (const r of mine) for (const what of r.slice(PREFIX.length).split('; ')) counts.set(what, (counts.get(what) ?? 0) + 1);
  return `skipped ${mine.length} test${mine.length === 1 ? '' : 's'} this machine cannot run, needing ${[...counts].map(([what, n]) => `${what} ×${n}`).join('; ')}; `
    + 'REPROBOOK_REQUIRE_ALL=1 (as in CI) makes them failures';
}

export default async function* reporter(source) {
  const reasons = [];
  async function* watched() {
    for await (const event of source) {
      if (event.type === 'test:pass' && typeof event.data?.skip === 'string') reasons.push(event.data.skip);
      yield event;
    }
  }
  const terminal = Boolean(process.stdout.isTTY);
  const lines = terminal ? Readable.from(watched()).pipe(new spec()) : tap(watched());
  for await (const line of lines) yield line;
  const summary = skipSummary(reasons);
  if (summary) yield terminal ? `\u2139 ${summary}\n` : `# ${summary}\n`;
}
