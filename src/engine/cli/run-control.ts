/**
 * The command line owns the process around a notebook run: its signals and its exit code.
 * runProject (and verify, which runs one) takes an AbortSignal and reports what happened; this
 * turns Ctrl-C or SIGTERM into that abort, a second signal into an immediate exit, and a
 * notebook that fails after it was reported as run into a non-zero exit code.
 */

export interface RunControl {
  signal: AbortSignal;
  onLateFailure: () => void;
}

const SIGNAL_NUMBER: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGTERM: 15 };

/**
 * `run` with this process's SIGINT and SIGTERM handled for as long as it runs: the first stops
 * the running cell (the abort's reason is the signal's name, which the stopped cell's error
 * and the exit code, 130 or 143, come from); a second quits at once. A caller that owns the
 * signals itself (preview) passes its own `signal`, and none are handled here.
 */
export async function withRunControl<T>(log: (line: string) => void, run: (control: RunControl) => Promise<T>, own?: AbortSignal): Promise<T> {
  const onLateFailure = () => {
    process.exitCode ||= 1;
  };
  if (own) return run({ signal: own, onLateFailure });
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write(`reprobook: ${signal} again: quitting at once\n`);
      process.exit(128 + (SIGNAL_NUMBER[signal] ?? 0));
    }
    log(`${signal}: stopping the running cell (${signal === 'SIGINT' ? 'Ctrl-C' : 'send it'} again to quit at once)`);
    controller.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run({ signal: controller.signal, onLateFailure });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
