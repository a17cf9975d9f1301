import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/**
 * The project's name: package.json's `name` when there is one, else the folder's. One rule for
 * the title of a project's index page and the project a frozen record must belong to.
 */
export function projectName(root: string): string {
  try {
    const name = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: unknown }).name;
    if (typeof name === 'string' && name.trim()) return name.trim();
  } catch {
    // No package.json (or not JSON): the folder names the project.
  }
  return basename(root);
}
