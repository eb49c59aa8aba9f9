/**
 * A batch of sparse chat spanning more months than ClickHouse's default cap of partitions per insert
 * block (100): raw tables and rollups are partitioned by month, and enrich retried such a batch for ever
 * (TOO_MANY_PARTS), so an import of a small channel's years of history never finished.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { storeEvents } from '../api/support/load.ts';
import { testDatabase } from '../support/clickhouse.ts';
import { imported } from '../support/irc-fixtures.ts';

test('one enrich batch of chat spanning 120 months is stored, with its rollups', async () => {
  const db = await testDatabase();
  const t0 = Date.UTC(2014, 0, 15);
  const lines = Array.from({ length: 120 }, (_, i) => {
    const ts = t0 + i * 31 * 86_400_000;
    return `@badges=;color=;display-name=Sparse;emotes=;id=sparse-${i};room-id=1;tmi-sent-ts=${ts};user-id=2 :sparse!sparse@sparse.tmi.twitch.tv PRIVMSG #quietchannel :month ${i} Kappa`;
  });
  const events = await imported('sparse.irc', lines.join('\n') + '\n');
  assert.equal(events.length, 120);
  await storeEvents(db.config, db.client, events);
  const [r] = await (
    await db.client.query({ query: "SELECT (SELECT count() FROM messages) AS messages, (SELECT count() FROM chat_1d WHERE channel = 'quietchannel') AS days, (SELECT uniqExact(_partition_id) FROM messages) AS months", format: 'JSONEachRow' })
  ).json<{ messages: number; days: number; months: number }>();
  assert.deepEqual(r, { messages: 120, days: 120, months: 120 });
  // Dropped: while this history's refreshable views kept refreshing (chatter_counts_1m_mv and
  // stream_chatters_mv took ~20 s each over 120 monthly partitions), the embedded engine kept the
  // test process from exiting.
  await db.client.command({ query: `DROP DATABASE ${db.database} SYNC` });
});
