import { UserError } from './errors.ts';

/**
 * A file-system error the user can act on, as a UserError naming the path and the fix; undefined
 * for anything else. Used once, where the CLI reports errors (its own module: errors.ts is imported by the flagship's
 * training code, whose every edit retrains the networks): Node's own text (`ENOSPC: no space
 * left on device, write`) names neither what was being written nor what to do.
 */
export function explainFsError(err: unknown): UserError | undefined {
  if (!(err instanceof Error) || err instanceof UserError) return undefined;
  const e = err as NodeJS.ErrnoException & { dest?: string };
  const path = e.dest ?? e.path;
  if (!path) return undefined;
  const parent = path.replace(/[\\/][^\\/]*[\\/]?$/, '') || '/';
  switch (e.code) {
    case 'ENOSPC':
      return new UserError(`no space left on the device holding ${path}`, 'free space on that disk (.reprobook/artifacts, the artifact store, can be large: delete old entries there), or write the output elsewhere with --out');
    case 'EROFS':
      return new UserError(`${path} is on a read-only file system`, 'run the command on a writable copy of the project, or write the output to a writable folder with --out');
    case 'EISDIR':
      return new UserError(`${path} is a folder, where a file was expected`, 'name a file there instead (e.g. --out reviews/report-bundle.zip), or move the folder away');
    case 'ENOENT':
      return new UserError(`${path}: no such file or folder`, `check that ${parent} exists (create it, or correct the path), then run the command again`);
    default:
      return undefined;
  }
}
