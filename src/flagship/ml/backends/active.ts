/**
 * The identity of the backend this thread's code initialised (select.ts sets it), read by
 * the project plugin for provenance. A module of its own, free of tfjs, so that asking costs
 * nothing in a notebook that never loaded a backend.
 */
let identity: (() => string) | undefined;

export function setActiveBackendIdentity(fn: () => string): void {
  identity = fn;
}

export function activeBackendIdentity(): string | undefined {
  return identity?.();
}
