import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPacer } from '../../ingest/pace.ts';

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
