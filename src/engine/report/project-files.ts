import { realpathSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { UserError } from '../util/errors.ts';
import { within } from './site-output.ts';
import type { MarkdownSource } from './markdown.ts';

/**
 * The files of the project a build reads into what it writes (the report's Markdown, style,
 * bibliography, claims, and the images its Markdown shows), checked to lie inside the project
 * root once `..` and symlinks are resolved: a site, its PDF, the one-file report and the bundle
 * go to a reviewer, and nothing from elsewhere on the author's machine may ride along. A
 * Markdown image is copied into the site (`assets/files/<its path in the project>`), so that
 * the pages, the PDF printed from them and the bundle hold it, and read nothing from outside.
 */
export class ProjectFiles {
  /** The root with its symlinks resolved: what files must lie in. */
  readonly realRoot: string;
  /** Files to copy into the site: site path → the project file. */
  readonly copies = new Map<string, string>();
  /** Every file checked, by its real path: what the build read (a preview watches them). */
  readonly read = new Set<string>();

  constructor(readonly root: string) {
    this.realRoot = realpathSync(root);
  }

  /** `file`'s real path; a UserError, naming `where`, when it is missing or outside the project. */
  inside(file: string, where: string): string {
    let real: string;
    try {
      real = realpathSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      throw new UserError(`${where}: ${relative(this.root, file) || file} does not exist`, 'fix the path (relative to the Markdown file), or add the file to the project');
    }
    if (!within(this.realRoot, real)) {
      throw new UserError(
        `${where}: ${file} is outside the project (it resolves to ${real}); a build reads only files inside ${this.realRoot}`,
        'copy the file into the project (e.g. report/figures/) and refer to that copy',
      );
    }
    this.read.add(real);
    return real;
  }

  /**
   * The project's style sheet, checked: what it loads (`url(…)`, `@import`) would be read when
   * the PDF is printed, from wherever it points, so only data: URLs (which carry their content).
   */
  checkStyle(css: string, file: string): string {
    const lines = css.split('\n');
    for (const [i, text] of lines.entries()) {
      for (const m of text.matchAll(/url\(\s*(["']?)([^"')]*)\1\s*\)|@import\s+(["'])([^"']*)\3/gi)) {
        const target = (m[2] ?? m[4] ?? '').trim();
        if (m[4] === undefined && /^data:/i.test(target)) continue;
        throw new UserError(
          `${file}:${i + 1}: ${m[0]} loads a file the site does not hold; a style sheet may load only data: URLs`,
          'inline what it loads as a data: URL (e.g. a small image), or drop the rule',
        );
      }
    }
    return css;
  }

  /** A local image `src` of Markdown from `source` (at `line` of its file): its path in the site, once checked and listed for copying. */
  markdownImage(src: string, source: MarkdownSource, line: number): string {
    let path = src.replace(/[?#].*$/, '');
    try {
      path = decodeURI(path);
    } catch {
      // Not percent-encoded after all: the path as written.
    }
    const where = `${source.file}:${line}${source.output ? ` (${source.output})` : ''}`;
    const real = this.inside(resolve(dirname(join(this.root, source.file)), path), where);
    const at = `assets/files/${relative(this.realRoot, real).split(sep).join('/')}`;
    this.copies.set(at, real);
    return at.split('/').map(encodeURIComponent).join('/');
  }
}
