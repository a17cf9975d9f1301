/**
 * A refusal under --sandbox, as the permission model (ERR_ACCESS_DENIED with `permission` and
 * `resource`, or ERR_DLOPEN_DISABLED for a native addon) or the sandbox's own guard
 * (child/guard.mjs, the same shape) raises it, turned into a message that says what was
 * refused and what a project would declare to be allowed it.
 */
export interface Denial {
  permission: string;
  resource: string;
}

/** The refusal in `err` or in its causes (fetch wraps the socket's error in `cause`), if any. */
export function findDenial(err: unknown): Denial | null {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, permission, resource } = e as { code?: unknown; permission?: unknown; resource?: unknown };
    if (code === 'ERR_ACCESS_DENIED' && typeof permission === 'string') return { permission, resource: typeof resource === 'string' ? resource : '' };
    if (code === 'ERR_DLOPEN_DISABLED') return { permission: 'Addons', resource: '' };
  }
  return null;
}

const NEVER = 'which --sandbox never allows; build without --sandbox only if you trust the project';

/** `<where> was denied <what> by --sandbox; <how to declare it, or that it cannot be>`. */
export function denialMessage(d: Denial, where: string): string {
  const r = d.resource;
  const list = (key: string) => `${where} was denied ${key === 'read' ? 'reading' : 'writing'} ${r} by --sandbox; a project that needs it declares it in reprobook.config.yaml: sandbox: { ${key}: [${JSON.stringify(r)}] }`;
  switch (d.permission) {
    case 'FileSystemRead': return list('read');
    case 'FileSystemWrite': return list('write');
    case 'Addons': return `${where} was denied loading a native addon by --sandbox; a project that needs it declares it in reprobook.config.yaml: sandbox: { addons: true } (an addon's native code runs outside every check)`;
    case 'ChildProcess': return `${where} was denied starting a process${r ? ` (${r})` : ''}, ${NEVER}`;
    case 'Network': return `${where} was denied a network connection${r ? ` (${r})` : ''}, ${NEVER}`;
    case 'WorkerThreads': return `${where} was denied a worker thread started from a string (eval: true), which would run outside the sandbox's guard; start it from a file`;
    default: return `${where} was denied ${d.permission}${r ? ` (${r})` : ''}, ${NEVER}`;
  }
}
