import cliProgress from 'cli-progress';
import type { ProgressReporter, ProgressTask } from './progress.ts';

/**
 * How progress is shown: on a terminal a live bar (cli-progress); elsewhere (CI, logs,
 * notebook capture) plain lines at most every `intervalMs`, so that logs stay readable.
 * Kept apart from the contract (progress.ts), which the training code imports.
 */

export interface ProgressOptions {
  stream?: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Force a live bar (true) or plain lines (false); default: live when the stream is a TTY. */
  live?: boolean;
  intervalMs?: number;
}

/** Seconds left at the rate of the work done so far; NaN (shown as ?) until a unit has taken work. */
export function estimateEta(elapsedSeconds: number, done: number, total: number, free = 0): number {
  const worked = done - free;
  return worked > 0 ? ((total - done) * elapsedSeconds) / worked : NaN;
}

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  if (h > 0) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

function formatFields(fields: Record<string, string | number> | undefined): string {
  if (!fields) return '';
  return Object.entries(fields).map(([k, v]) => `${k} ${v}`).join('  ');
}

export function createProgress(options: ProgressOptions = {}): ProgressReporter {
  const stream = (options.stream ?? process.stderr) as NodeJS.WriteStream;
  const live = options.live ?? Boolean((stream as NodeJS.WriteStream).isTTY);
  const intervalMs = options.intervalMs ?? 5000;

  return {
    start(label: string, total: number, unit = 'it'): ProgressTask {
      const t0 = Date.now();
      if (live) {
        const bar = new cliProgress.SingleBar(
          {
            stream,
            // Our ETA, not the bar's: the bar's own rate would count free units as work.
            format: `${label} [{bar}] {value}/{total} ${unit} | {percentage}% | ETA {etaOwn} | {extra}`,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0, { extra: '', etaOwn: '?' });
        return {
          update(done, u) {
            const eta = estimateEta((Date.now() - t0) / 1000, done, total, u?.free);
            bar.update(done, { extra: formatFields(u?.fields), etaOwn: formatEta(eta) });
          },
          done(summary) {
            bar.stop();
            if (summary) stream.write(`${label}: ${summary}\n`);
          },
        };
      }
      let last = 0;
      return {
        update(done, u) {
          const now = Date.now();
          if (now - last < intervalMs && done < total) return;
          last = now;
          const eta = estimateEta((now - t0) / 1000, done, total, u?.free);
          const pct = total > 0 ? ((100 * done) / total).toFixed(1) : '100.0';
          stream.write(`${label}: ${done}/${total} ${unit} (${pct}%) ETA ${formatEta(eta)} ${formatFields(u?.fields)}\n`);
        },
        done(summary) {
          const elapsed = ((Date.now() - t0) / 1000).toFixed(1);
          stream.write(`${label}: done in ${elapsed}s${summary ? ` — ${summary}` : ''}\n`);
        },
      };
    },
  };
}

/**
 * A line sink for a terminal that may be showing a live bar: on a TTY the bar owns the last
 * line, so clear it first (the bar redraws below). For the CLI edge, e.g. a grid's `log`.
 */
export function terminalLines(stream: NodeJS.WriteStream = process.stderr): (line: string) => void {
  return (line) => stream.write(`${stream.isTTY ? '\r\x1b[2K' : ''}${line}\n`);
}
