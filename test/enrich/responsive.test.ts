/**
 * The enrich consume loop lets the event loop turn while it works through a queue of deliveries:
 * in single-process mode the API, the live feed and the write buffer's own insert completions share
 * its thread, and a queue handed over as resolved promises would otherwise hold them all until it is
 * empty. Ordering only (no timing threshold): a timer due during the backlog must fire before the
 * backlog is done.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InProcessBus } from '../../core/bus.ts';
import { createLogger } from '../../core/logger.ts';
import { neutralAnalyzer } from '../../enrich/analyzer.ts';
import { EmoteIndex } from '../../enrich/emotes.ts';
import { startEnrich } from '../../enrich/index.ts';
import { testDatabase } from '../support/clickhouse.ts';
import { chatMessage } from './support/events.ts';

test('a backlog of deliveries does not hold the event loop until it is drained', async () => {
  // Large batch and long tick: nothing is flushed (no I/O to wait on) while the 2,000 events are analyzed.
  const db = await testDatabase({ env: { ENRICH_BATCH_SIZE: '100000', ENRICH_FLUSH_MS: '60000' } });
  const neutral = neutralAnalyzer();
  let analyzed = 0;
  // The timer is set when the first event is analyzed, not when the stage starts: the stage's start-up (it opens
  // the models folder before its first delivery) may take longer than the timer on a loaded machine, and a timer
  // that fired before any delivery proved nothing (and then stored() had nothing to wait for).
  let analyzedWhenTimerFired = -1;
  let timerFired!: () => void;
  const timer = new Promise<void>((resolve) => (timerFired = resolve));
  const slow = {
    ...neutral,
    analyze: (input: Parameters<typeof neutral.analyze>[0]) => {
      if (analyzed === 0) {
        setTimeout(() => {
          analyzedWhenTimerFired = analyzed;
          timerFired();
        }, 20);
      }
      // ~0.5 ms of work per event: the whole backlog is ~1 s of JS.
      const end = performance.now() + 0.5;
      while (performance.now() < end);
      analyzed++;
      return neutral.analyze(input);
    },
  };
  const bus = new InProcessBus(1000);
  const pub = bus.publisher();
  for (let i = 0; i < 40; i++) await pub.publish('testchan', Array.from({ length: 50 }, (_, j) => chatMessage(i * 50 + j)));
  const stage = startEnrich({ config: db.config, logger: createLogger('silent'), client: db.client, consumer: bus.consumer(), analyzer: slow, emotes: { index: new EmoteIndex(), noteChannel: () => {}, close: () => {} } });
  await timer;
  // the bus hands the backlog over in pulls: wait until all of it went through
  for (const deadline = Date.now() + 60_000; (stage.metrics.eventsOut.message ?? 0) < 2000 && Date.now() < deadline; ) {
    await stage.stored();
    await new Promise((r) => setTimeout(r, 10));
  }
  await stage.stop();
  bus.close();
  assert.ok(analyzedWhenTimerFired >= 0 && analyzedWhenTimerFired < 2000, `the timer fired after ${analyzedWhenTimerFired} of 2000 events were analyzed`);
  assert.equal(stage.metrics.eventsOut.message, 2000);
});
