import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createProgress, estimateEta } from '../src/engine/util/terminal-progress.ts';
import { progressListener } from '../src/engine/grid/listeners.ts';

/**
 * Progress on long work promises an end time; one that counts units found in the store as work
 * promised `verify` of a frozen value "ETA 21s" while its first unit trained for half an hour.
 */

test('the ETA is the rate of the work done: units that took no work fill the bar but not the rate', () => {
  assert.equal(estimateEta(100, 14, 16, 13), 200, 'one unit of work in 100 s, two to go');
  assert.equal(estimateEta(100, 8, 16), 100);
  assert.ok(Number.isNaN(estimateEta(90, 13, 16, 13)), 'no unit has taken work yet: unknown, not 21 s');
});

test("the grid's progress line says ? while only cached units are done, then the rate of the units that ran", () => {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const grid = progressListener(createProgress({ stream, live: false, intervalMs: 0 }), 'experiment', 16);
  for (let i = 0; i < 13; i++) grid.onEvent({ type: 'cached', unitId: `u${i}` });
  grid.onEvent({ type: 'start', unitId: 'T100/teacher', kind: 'train' });
  assert.match(lines.at(-1)!, /^experiment: 13\/16 units \(81\.3%\) ETA \? T100\/teacher started/);
  grid.onEvent({ type: 'ran', unitId: 'T100/teacher', ms: 5 });
  assert.match(lines.at(-1)!, /^experiment: 14\/16 units \(87\.5%\) ETA \d+s/);
});
