/**
 * The in-process pipeline of `twichist ingest` without NATS computes topics while it runs, on the config's timer
 * (an import's pipeline has none: it refreshes once everything is stored). A commit that turned the timer off for
 * every in-process pipeline left live windows without topics for the whole session.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../core/config.ts';
import type { ChatMessage } from '../../core/events.ts';
import { openPublishPipeline } from '../../ingest/pipeline.ts';

const message = (i: number, ts: number): ChatMessage => ({
  v: 1, id: `pipe-${i}`, channel: 'pipechan', channel_id: null, ts, received_at: ts, source: 'live', tags: {}, kind: 'message',
  user_id: String(100 + (i % 7)), login: `viewer${i % 7}`, display_name: null, text: `speedrun world record attempt ${i % 3}`, action: false,
  badges: {}, badge_info: {}, color: null, emotes: [], bits: null, first_msg: false, returning_chatter: false, reply: null, source_room_id: null, source_id: null, flags: null,
});

test('ingest without NATS: topics of stored windows appear on the timer, without a settle', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-pipeline-topics-'));
  const config = loadConfig({ TWICHIST_DATA_DIR: dir, TWICHIST_ONLINE: 'false', TOPICS_INTERVAL_S: '1' });
  const pipeline = await openPublishPipeline(config, pino({ level: 'silent' }));
  try {
    // 12 s old: past the refresh's 10 s slack, so the first timer run after the store computes the window
    const now = Date.now() - 12_000;
    for (let i = 0; i < 30; i++) await pipeline.batcher.push(message(i, now + i));
    await pipeline.batcher.flush();
    const client = await pipeline.clickhouse();
    const deadline = Date.now() + 30_000;
    let n = 0;
    while (Date.now() < deadline) {
      const rs = await client.query({ query: "SELECT count() AS n FROM message_topics WHERE channel = 'pipechan'", format: 'JSONEachRow' });
      n = Number((await rs.json<{ n: number | string }>())[0].n);
      if (n > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(n, 30, 'every stored message got a topic row from the timer');
  } finally {
    await pipeline.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
