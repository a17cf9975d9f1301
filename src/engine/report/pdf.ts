import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { UserError } from '../util/errors.ts';
import { escapeHtml } from './html.ts';

/**
 * report.pdf: Chromium prints index.html with the print CSS (A4, margins, figures kept
 * whole, SVG stays vector). Which Chromium: $CHROME_PATH, else Debian's /usr/bin/chromium,
 * else a browser installed by `npx playwright install chromium`.
 */

export const CHROME_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run',
];

export const NO_BROWSER_HINT =
  'install Chromium (`apt-get install chromium` on Debian/Ubuntu) or set CHROME_PATH to a Chrome/Chromium binary; or pass --no-pdf to build the HTML only';

export interface ChromeLocation {
  path: string;
  /** How it was found: "CHROME_PATH", "system" or "playwright". */
  source: string;
}

export const SYSTEM_CHROMES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export interface ChromeSearch {
  /** Where to look for a system browser (tests pass [] to simulate a bare machine). */
  systemPaths?: string[];
  /** Also accept a browser installed by `npx playwright install chromium`. */
  playwright?: boolean;
}

export async function findChrome(env: NodeJS.ProcessEnv = process.env, search: ChromeSearch = {}): Promise<ChromeLocation | undefined> {
  if (env.CHROME_PATH) {
    if (!existsSync(env.CHROME_PATH)) {
      throw new UserError(`CHROME_PATH points to ${env.CHROME_PATH}, which does not exist`, 'set CHROME_PATH to an existing Chrome/Chromium binary, or unset it to use /usr/bin/chromium');
    }
    return { path: env.CHROME_PATH, source: 'CHROME_PATH' };
  }
  for (const p of search.systemPaths ?? SYSTEM_CHROMES) {
    if (existsSync(p)) return { path: p, source: 'system' };
  }
  if (search.playwright === false) return undefined;
  try {
    const { chromium } = await import('playwright-core');
    const p = chromium.executablePath();
    if (p && existsSync(p)) return { path: p, source: 'playwright' };
  } catch {
    // No Playwright-managed browser either.
  }
  return undefined;
}

export async function launchChrome(env: NodeJS.ProcessEnv = process.env): Promise<Browser> {
  const found = await findChrome(env);
  if (!found) throw new UserError('no Chromium found to print report.pdf', NO_BROWSER_HINT);
  const { chromium } = await import('playwright-core');
  try {
    return await chromium.launch({ executablePath: found.path, args: CHROME_ARGS, headless: true });
  } catch (err) {
    // Playwright's message is its whole command line and browser log; the first line says what failed.
    const first = String((err as Error).message).split('\n')[0]!.replace(/^browserType\.launch:\s*/, '').trim();
    throw new UserError(
      `could not start Chromium at ${found.path} (from ${found.source}) to print report.pdf: the program failed or exited before a browser came up${first ? ` (Playwright: ${first})` : ''}`,
      found.source === 'CHROME_PATH'
        ? 'set CHROME_PATH to a Chrome/Chromium binary (e.g. /usr/bin/chromium) or unset it; or pass --no-pdf to build the HTML only'
        : NO_BROWSER_HINT,
    );
  }
}

export interface PdfOptions {
  /** Reuse a browser (tests launch one per file); otherwise one is launched and closed. */
  browser?: Browser;
  format?: 'A4' | 'Letter';
  /** Shown in the running header of every page. */
  headerText?: string;
}

export interface PdfResult {
  path: string;
  bytes: number;
}

export async function printPdf(htmlFile: string, pdfFile: string, opts: PdfOptions = {}): Promise<PdfResult> {
  const browser = opts.browser ?? (await launchChrome());
  try {
    const page = await browser.newPage();
    try {
      await page.goto(pathToFileURL(htmlFile).href, { waitUntil: 'load' });
      await page.emulateMedia({ media: 'print' });
      await page.evaluate(async () => { await document.fonts.ready; });
      const small = 'font-family: system-ui, sans-serif; font-size: 8px; color: #666; width: 100%; padding: 0 18mm;';
      await page.pdf({
        path: pdfFile,
        format: opts.format ?? 'A4',
        printBackground: true,
        preferCSSPageSize: false,
        margin: { top: '20mm', bottom: '20mm', left: '18mm', right: '18mm' },
        displayHeaderFooter: true,
        headerTemplate: `<div style="${small} text-align: right;">${escapeHtml(opts.headerText ?? '')}</div>`,
        footerTemplate: `<div style="${small} text-align: center;"><span class="pageNumber"></span> / <span class="totalPages"></span></div>`,
      });
    } finally {
      await page.close();
    }
  } finally {
    if (!opts.browser) await browser.close();
  }
  return { path: pdfFile, bytes: (await stat(pdfFile)).size };
}
