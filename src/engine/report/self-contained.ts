import { readFile } from 'node:fs/promises';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { UserError } from '../util/errors.ts';

/**
 * `build --self-contained`: the report as one HTML file that makes no request of its own:
 * every stylesheet inlined, the fonts it uses (KaTeX's) as data: URLs, and figures already
 * inline (SVG) or data: PNGs. Links to the notebook pages stay links (navigation, not loads).
 * KaTeX lists each font as woff2, woff and ttf; every browser that reads this file takes
 * woff2, so only those are inlined (a third of the size).
 */

const MIME: Record<string, string> = {
  '.woff2': 'font/woff2', '.woff': 'font/woff', '.ttf': 'font/ttf', '.png': 'image/png', '.svg': 'image/svg+xml',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp',
};

async function dataUrl(file: string): Promise<string> {
  return `data:${MIME[extname(file).toLowerCase()] ?? 'application/octet-stream'};base64,${(await readFile(file)).toString('base64')}`;
}

function inside(siteDir: string, path: string): string {
  const p = normalize(path);
  if (!p.startsWith(normalize(siteDir) + sep)) throw new UserError(`the page links ${path}, outside the site`, 'report it: a built page links only files of its own site');
  return p;
}

async function inlineCss(css: string, cssPath: string, siteDir: string): Promise<string> {
  const woff2Only = css.replace(/,\s*url\([^)]*\.(?:woff|ttf)\)\s*format\("(?:woff|truetype)"\)/g, '');
  const urls = [...new Set([...woff2Only.matchAll(/url\(\s*["']?([^"')]+)["']?\s*\)/g)].map((m) => m[1]!))].filter((u) => !/^(data:|#)/.test(u));
  let out = woff2Only;
  for (const u of urls) {
    const data = await dataUrl(inside(siteDir, join(dirname(cssPath), u)));
    out = out.split(`url(${u})`).join(`url(${data})`).split(`url("${u}")`).join(`url(${data})`).split(`url('${u}')`).join(`url(${data})`);
  }
  return out;
}

/** `pageFile`'s HTML with its stylesheets (and what they load) and its images of the site (the report's own figures) inlined. */
export async function selfContainedPage(siteDir: string, pageFile: string): Promise<string> {
  const html = await readFile(pageFile, 'utf8');
  let out = '';
  let last = 0;
  for (const m of html.matchAll(/<link rel="stylesheet" href="([^"]+)">|(<img\b[^>]*?\bsrc=")([^"]+)"/g)) {
    let replacement: string;
    if (m[1] !== undefined) {
      const cssPath = inside(siteDir, join(dirname(pageFile), m[1]));
      const css = await inlineCss(await readFile(cssPath, 'utf8'), cssPath, siteDir);
      replacement = `<style>\n${css.replace(/<\/style/gi, '<\\/style')}\n</style>`;
    } else {
      const src = m[3]!;
      replacement = /^[a-z][a-z\d+.-]*:/i.test(src) ? m[0] : `${m[2]}${await dataUrl(inside(siteDir, join(dirname(pageFile), decodeURIComponent(src))))}"`;
    }
    out += html.slice(last, m.index) + replacement;
    last = m.index! + m[0].length;
  }
  return out + html.slice(last);
}
