/**
 * Fills a test database the way production does: real chat files through the ingest importers, the
 * in-process bus and enrich (rollups fill through their materialized views), then the analytics
 * refresh. Only the ingest lifecycle and the followed-channel list are written directly: imports
 * emit no lifecycle events, so joins, parts and gaps (silences over 10 minutes in a log) stand in
 * for what a live ingestor records.
 */
import path from 'node:path';
import type { ClickHouseClient } from '../../../core/clickhouse.ts';
import type { Config } from '../../../core/config.ts';
import type { ChatEvent } from '../../../core/events.ts';
import { InProcessBus } from '../../../core/bus.ts';
import { createLogger } from '../../../core/logger.ts';
import { importFile } from '../../../ingest/importers/index.ts';
import { startEnrich } from '../../../enrich/index.ts';
import { refreshDerived } from '../../../analytics/refresh.ts';
import { SHARED_DATA } from '../../support/paths.ts';

/** Real chat: one raw IRC capture (with Twitch emote tags) and Chatty logs of four channels (2016). */
export const CHAT_FILES: Array<{ file: string; channel: string }> = [
  { file: 'irc/xqc-2023-04-01.raw.irc', channel: 'xqc' },
  { file: 'chatty/riotgames/riotgames1.log', channel: 'riotgames' },
  { file: 'chatty/hsdogdog/hsdogdog1.log', channel: 'hsdogdog' },
  { file: 'chatty/hsdogdog/hsdogdog2.log', channel: 'hsdogdog' },
  { file: 'chatty/reckful/reckful1.log', channel: 'reckful' },
  { file: 'chatty/tidesoftime/tidesoftime1.log', channel: 'tidesoftime' },
];

/**
 * Imports `files` (paths under ../shared/data; `channel` for formats that do not name it, or to override it)
 * and refreshes the derived tables.
 */
export async function fillWithRealChat(client: ClickHouseClient, config: Config, files: Array<{ file: string; channel?: string }> = CHAT_FILES): Promise<void> {
  await importThroughEnrich(client, config, files);

  await client.command({
    query: `INSERT INTO channels (login, channel_id, enabled, removed, added_at, updated_at)
            SELECT channel, NULL, true, false, min(ts), max(ts) FROM messages GROUP BY channel`,
  });
  const lifecycle = 'INSERT INTO ingest_events (id, channel, ts, received_at, source, event, ingestor, detail, gap_start, gap_end)';
  await client.command({
    query: `${lifecycle}
            SELECT concat('test-gap-', channel, toString(toUnixTimestamp64Milli(ts))), channel, ts, ts, 'import', 'gap', 'test-import',
                   'silence over 10 minutes in the log', prev, ts
            FROM (SELECT channel, ts, lagInFrame(ts, 1, ts) OVER (PARTITION BY channel ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS prev FROM messages)
            WHERE dateDiff('second', prev, ts) > 600`,
  });
  await client.command({
    query: `${lifecycle}
            SELECT concat('test-', e, '-', channel), channel, t, t, 'import', e, 'test-import', NULL, NULL, NULL
            FROM (SELECT channel, min(ts) AS first, max(ts) AS last FROM messages GROUP BY channel)
            ARRAY JOIN ['joined', 'parted'] AS e, [first, last] AS t`,
  });
  await refreshDerived(client);
}

/** Imports `files` (paths under ../shared/data) through the in-process bus and enrich, as `twichist import` does. */
export async function importThroughEnrich(client: ClickHouseClient, config: Config, files: Array<{ file: string; channel?: string }>): Promise<void> {
  const bus = new InProcessBus();
  const stage = startEnrich({ config, logger: createLogger('silent'), client, consumer: bus.consumer() });
  const publisher = bus.publisher();
  for (const { file, channel } of files) {
    let batch: ChatEvent[] = [];
    const flush = async () => {
      // one publish per channel (a file that names its channel may hold several)
      for (const c of new Set(batch.map((e) => e.channel))) await publisher.publish(c, batch.filter((e) => e.channel === c));
      batch = [];
    };
    await importFile(path.join(SHARED_DATA, file), async (e) => {
      batch.push(e);
      if (batch.length >= 1000) await flush();
    }, { channel });
    await flush();
  }
  await stage.stored();
  await stage.stop();
}
