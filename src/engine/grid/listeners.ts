import { describeCorrupt } from '../store/artifacts.ts';
import type { ProgressReporter } from '../util/progress.ts';
import { formatShard } from './shard.ts';
import { taskLabel } from './unit-progress.ts';
import type { GridEvent, ShardSpec } from './unit.ts';

/**
 * What a run's events become for a person: lines for the log, and the progress line. Both are
 * listeners of the same events as a caller's `onEvent`, so the run itself formats nothing.
 */

export type GridListener = (event: GridEvent) => void;

/** The label of a run's lines and bar: `experiment`, `grid shard 2/4`. */
export function runLabel(label: string | undefined, shard: ShardSpec | undefined): string {
  return `${label ?? 'grid'}${shard ? ` shard ${formatShard(shard)}` : ''}`;
}

/** One line per event worth a line, prefixed with the run's label (a quarantine's line as the store words it). */
export function logListener(label: string, log: (line: string) => void, shard: ShardSpec | undefined): GridListener {
  const say = (line: string) => log(`${label}: ${line}`);
  return (e) => {
    switch (e.type) {
      case 'start': return say(`start ${e.unitId} [${e.kind}]`);
      case 'ran': return say(`done ${e.unitId} in ${(e.ms / 1000).toFixed(1)}s`);
      case 'cached': return say(`cached ${e.unitId}${e.meanwhile ? ' (stored meanwhile by another run)' : ''}`);
      case 'external': return say(`from store ${e.unitId} (shard ${e.shard}/${shard?.count ?? 1})`);
      case 'skipped': return say(`skipped ${e.unitId}: ${e.reason}`);
      case 'failed': return say(`FAILED ${e.unitId}: ${e.message}`);
      case 'corrupt': return log(describeCorrupt(e.artifact).trimEnd());
      case 'log': return say(`[${e.unitId}] ${e.message}`);
      case 'progress-done': {
        const task = taskLabel(e.unitId, e.label);
        return say(`[${e.unitId}] ${task ? `${task} ` : ''}done${e.summary ? `: ${e.summary}` : ''}`);
      }
      case 'progress': return undefined;
    }
  };
}

/**
 * The run's bar: how many of this run's `total` units are settled (ran, cached, skipped or
 * failed), and what each running unit is doing. `finish` closes it with the run's summary.
 */
export function progressListener(reporter: ProgressReporter, label: string, total: number): { onEvent: GridListener; finish(summary: string): void } {
  const bar = reporter.start(label, total, 'units');
  const running = new Map<string, string>();
  let settled = 0;
  let free = 0;
  const refresh = () => bar.update(settled, { fields: Object.fromEntries(running), free });
  return {
    onEvent(e) {
      if (e.type === 'start') running.set(e.unitId, 'started');
      else if (e.type === 'progress') {
        // Shown after the unit's id (formatFields), so the label only when it adds to the id.
        const task = taskLabel(e.unitId, e.label);
        if (running.has(e.unitId)) running.set(e.unitId, `${task ? `${task} ` : ''}${e.done}/${e.total}${e.unit ? ` ${e.unit}` : ''}`);
      } else if (e.type === 'ran' || e.type === 'cached' || e.type === 'skipped' || e.type === 'failed') {
        running.delete(e.unitId);
        settled++;
        if (e.type === 'cached' || e.type === 'skipped') free++;
      } else return;
      refresh();
    },
    finish: (summary) => bar.done(summary),
  };
}
