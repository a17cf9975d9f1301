/**
 * Progress for long work: the contract between work that reports it (training, attacks, the
 * grid, the notebooks) and what shows it (terminal-progress.ts). Only the contract lives
 * here: the training code imports it, and everything the training code imports keys the
 * stored networks, so how progress is drawn must not (a new ETA would retrain every network).
 */
export interface ProgressUpdate {
  /** Extra fields shown after the bar, e.g. { loss: '0.123', 'img/s': '180' }. */
  fields?: Record<string, string | number>;
  /**
   * Of the units done, how many took no work (found in the store, skipped). They fill the bar
   * but stay out of the rate: a run whose store already holds 13 of 16 units would otherwise
   * promise to end in seconds while its first real unit trains for half an hour.
   */
  free?: number;
}

export interface ProgressTask {
  /** Set the absolute number of units done. */
  update(done: number, update?: ProgressUpdate): void;
  /** Finish the task (prints a final line). */
  done(summary?: string): void;
}

export interface ProgressReporter {
  start(label: string, total: number, unit?: string): ProgressTask;
}

/** A reporter that prints nothing, for tests and quiet runs. */
export const silentProgress: ProgressReporter = {
  start() { return { update() {}, done() {} }; },
};
