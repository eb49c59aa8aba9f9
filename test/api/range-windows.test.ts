/**
 * Rollup reads over a range whose ends are not on the bucket's boundaries (no ../shared/data needed).
 * The windows read are the ones that overlap [from, to): `/channels/{c}/stats` documents "30 s with the
 * ends widened to 30 s boundaries". Before the fix the first window was left out whenever `from` was inside
 * it (window >= from) while the window holding `to` was kept, so a range shifted by up to one bucket was
 * summed: from 03:15:10 to 03:17:40 read [03:15:30, 03:18:00) on the #xqc capture (1,914 messages and 9
 * timeouts where [03:15:10, 03:17:40) holds 1,917 and 10); timelines and moderation stats dropped the
 * window holding `from` the same way.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildApp } from '../../api/app.ts';
import type { ChatEvent, ChatMessage } from '../../core/events.ts';
import { createLogger } from '../../core/logger.ts';
import { sampleMessage } from '../support/events.ts';
import { testDatabase, type TestDatabase } from '../support/clickhouse.ts';
import { storeEvents } from './support/load.ts';

let db: TestDatabase;
const T0 = Date.UTC(2016, 8, 30, 2, 0, 0);

const msg = (i: number, sec: number): ChatMessage => ({
  ...sampleMessage,
  id: `range-${i}`,
  channel: 'rangechan',
  channel_id: null,
  ts: T0 + sec * 1000,
  received_at: T0 + sec * 1000,
  source: 'import',
  user_id: null,
  login: `user${i}`,
  display_name: `user${i}`,
  text: `hello ${i}`,
  emotes: [],
});

before(async () => {
  db = await testDatabase();
  // one message in each of the windows 02:00:00, 02:00:30, 02:01:00, 02:01:30 (30 s) and a timeout at 02:00:05
  const events: ChatEvent[] = [msg(1, 5), msg(2, 35), msg(3, 65), msg(4, 95)];
  events.push({ v: 1, kind: 'timeout', id: 'range-t1', channel: 'rangechan', channel_id: null, ts: T0 + 5000, received_at: T0 + 5000, source: 'import', tags: {}, target_user_id: null, target_login: 'user1', duration_s: 60, reason: null });
  await storeEvents(db.config, db.client, events);
});
after(async () => {
  await db?.client.close();
});

describe('ranges not on bucket boundaries', () => {
  it('stats, timeline and moderation stats read every window that overlaps [from, to)', async () => {
    const app = await buildApp({ config: db.config, logger: createLogger('silent'), client: db.client, rateLimit: false, cacheTtlMs: 0 });
    try {
      // 02:00:02 .. 02:01:10: overlaps the 30 s windows 02:00:00, 02:00:30 and 02:01:00 (messages 1-3)
      const from = new Date(T0 + 2000).toISOString();
      const to = new Date(T0 + 70_000).toISOString();
      const s = JSON.parse((await app.inject({ method: 'GET', url: `/api/v1/channels/rangechan/stats?from=${from}&to=${to}` })).body);
      assert.equal(s.bucket, '30s');
      assert.deepEqual([s.messages, s.chatters, s.moderation.timeouts], [3, 3, 1]);
      // and says which range that is: 02:00:00 to 02:01:30, not the asked ends
      assert.deepEqual([s.from, s.to], [new Date(T0).toISOString(), new Date(T0 + 90_000).toISOString()]);
      // an open end does not force the finest rollup: a day-aligned `from` alone reads the daily one
      const day = Math.floor(T0 / 86_400_000) * 86_400_000;
      const open = JSON.parse((await app.inject({ method: 'GET', url: `/api/v1/channels/rangechan/stats?from=${new Date(day).toISOString()}` })).body);
      assert.deepEqual([open.bucket, open.messages, open.from, open.to], ['1d', 4, new Date(day).toISOString(), null]);
      const tl = JSON.parse((await app.inject({ method: 'GET', url: `/api/v1/analytics/rangechan/timeline?bucket=1m&from=${from}&to=${to}` })).body);
      assert.deepEqual(tl.points.map((p: { window: string; messages: number }) => [p.window, p.messages]), [
        [new Date(T0).toISOString(), 2],
        [new Date(T0 + 60_000).toISOString(), 2],
      ]);
      // the answer says which range its figures cover: the whole minutes read, not the range asked
      assert.deepEqual(tl.range, { from: new Date(T0).toISOString(), to: new Date(T0 + 120_000).toISOString() });
      const ms = JSON.parse((await app.inject({ method: 'GET', url: `/api/v1/moderation/stats?channel=rangechan&bucket=1m&from=${from}&to=${to}` })).body);
      assert.equal(ms.totals.timeouts, 1);
    } finally {
      await app.close();
    }
  });
});
