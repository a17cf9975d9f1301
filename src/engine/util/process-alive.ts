/**
 * Whether a process with this pid exists on this host (signal 0 probes without sending).
 * EPERM means it exists but belongs to another user: alive. Used to take over the locks and
 * temporary folders of processes that died.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
