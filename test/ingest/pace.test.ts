import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPacer, sleep } from '../../ingest/pace.ts';

test('the pacer keeps the recorded spacing divided by the speed', async () => {
  const pace = createPacer(10);
  const t0 = performance.now();
  await pace(1_000_000); // first event: no wait
  assert.ok(performance.now() - t0 < 1000, 'the first event is not delayed');
  await pace(1_001_000); // 1 s recorded at 10x: 100 ms after the first
  const took = performance.now() - t0;
  // At least the paced 100 ms; far less than the recorded 1 s (generous bound for a loaded machine).
  assert.ok(took >= 95 && took < 900, `waited ${took} ms`);
});

test('aborting ends a wait at once', async () => {
  const stop = new AbortController();
  const pace = createPacer(1, stop.signal);
  await pace(0);
  const t0 = performance.now();
  setTimeout(() => stop.abort(), 20);
  await pace(60_000); // a minute at 1x
  assert.ok(performance.now() - t0 < 10_000, 'the one-minute wait ended when aborted');
});

test('a wait beyond setTimeout\'s 24.8-day limit is kept, not cut to 1 ms', (t) => {
  // Node fires a setTimeout of more than 2^31-1 ms after 1 ms: a replay with such a gap (or a stray event
  // stamped 1970 before real ones) ran unpaced. The sleep is split into steps the timer can hold.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let done = false;
  void sleep(40 * 86_400_000).then(() => (done = true));
  const step = 2 ** 31 - 1;
  t.mock.timers.tick(step);
  t.mock.timers.tick(1);
  return Promise.resolve().then(() => {
    assert.equal(done, false, 'still waiting after 24.8 days and 1 ms');
    t.mock.timers.tick(40 * 86_400_000 - step - 1);
    return new Promise<void>((r) => setImmediate(r));
  }).then(() => assert.equal(done, true, 'resolved after 40 days'));
});
