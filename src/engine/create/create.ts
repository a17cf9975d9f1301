import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.ts';

/**
 * `reprobook create DIR`: a project of one's own, from the template next to this module
 * (template/): two notebooks with a figure, a table and published values, a report that
 * embeds, cross-references and cites them and checks one claim, a config with a default
 * and a smoke profile, a README, a .gitignore and a GitHub Pages workflow. The engine knows
 * no paper, and neither does the template: it estimates π.
 *
 * Never overwrites: a folder with anything in it is refused unless `force`, and even then
 * each file is created exclusively, so one that exists is kept as it is.
 */

export const TEMPLATE_DIR = fileURLToPath(new URL('./template/', import.meta.url));

/**
 * Template entries stored without their leading dot: `npm pack` leaves any .gitignore out of
 * a package (so the engine's tarball would lose the template's), and a dotted folder hides
 * the workflow from a reader of the engine's sources.
 */
const UNDOTTED = new Set(['gitignore', 'github']);

/** Where a template file (path relative to template/, with `/`) goes in the new project. */
export function projectPath(templatePath: string): string {
  const [head, ...rest] = templatePath.split('/');
  return [UNDOTTED.has(head!) ? `.${head}` : head, ...rest].join('/');
}

/** An npm package name for the project, from its folder's name. */
export function packageName(dir: string): string {
  const name = basename(dir).toLowerCase().replace(/[^a-z0-9._~-]+/g, '-').replace(/^[._~-]+|[-]+$/g, '');
  return name || 'my-reproduction';
}

/** The template's package.json with the project's name and its dependency on the engine. */
export function projectPackageJson(template: string, name: string, engineSpec: string): string {
  const pkg = JSON.parse(template) as { name: string; dependencies: Record<string, string> };
  pkg.name = name;
  pkg.dependencies = { ...pkg.dependencies, reprobook: engineSpec };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

/** The version of this engine: its package.json, the nearest one above this module named reprobook. */
export async function engineVersion(from = dirname(fileURLToPath(import.meta.url))): Promise<string> {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(await readFile(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'reprobook' && pkg.version) return pkg.version;
    }
    if (dirname(dir) === dir) throw new Error(`no package.json of reprobook above ${from}`);
  }
}

/** The template's files, relative to template/ with `/`, sorted. */
export async function templateFiles(templateDir = TEMPLATE_DIR): Promise<string[]> {
  const entries = await readdir(templateDir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(templateDir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

export interface CreateOptions {
  dir: string;
  /** Add the template to a folder that is not empty (existing files are still kept). */
  force?: boolean;
  /** The dependency on reprobook written to package.json; default `^` this engine's version. */
  engineSpec?: string;
  templateDir?: string;
}

export interface CreatedProject {
  dir: string;
  /** Project paths written, and those that existed and were kept, in template order. */
  written: string[];
  kept: string[];
}

async function refuseNonEmpty(dir: string, force: boolean): Promise<void> {
  let entries: string[];
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) throw new UserError(`${dir} exists and is not a folder`, 'choose a new folder name for the project');
    entries = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (entries.length > 0 && !force) {
    const shown = entries.sort().slice(0, 5).join(', ') + (entries.length > 5 ? ', …' : '');
    throw new UserError(
      `${dir} is not empty (${shown}): reprobook create starts a project in a new or empty folder`,
      'choose another folder, or pass --force to add the template\'s files to this one (a file that exists is kept, never overwritten)',
    );
  }
}

export async function createProject(opts: CreateOptions): Promise<CreatedProject> {
  const templateDir = opts.templateDir ?? TEMPLATE_DIR;
  await refuseNonEmpty(opts.dir, !!opts.force);
  const engineSpec = opts.engineSpec ?? `^${await engineVersion()}`;
  const created: CreatedProject = { dir: opts.dir, written: [], kept: [] };
  for (const file of await templateFiles(templateDir)) {
    const target = projectPath(file);
    const raw = await readFile(join(templateDir, file));
    const content = file === 'package.json' ? projectPackageJson(raw.toString('utf8'), packageName(opts.dir), engineSpec) : raw;
    await mkdir(dirname(join(opts.dir, target)), { recursive: true });
    try {
      // 'wx': created only if absent, in one step, so a file that appears meanwhile is not overwritten either.
      await writeFile(join(opts.dir, target), content, { flag: 'wx' });
      created.written.push(target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      created.kept.push(target);
    }
  }
  return created;
}
