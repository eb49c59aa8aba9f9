/**
 * Topics: what it costs to find the windows due for a topic refresh in `topic_window_state`
 * (migration 0043, enrich/topics/job.ts `pendingTopicWindows`), against deriving it from `messages`.
 *
 * Synthetic messages (`--messages`, default 500,000) over `--channels` (10) and `--days` (30), inserted
 * server-side (INSERT ... SELECT FROM numbers()) in 10 equal inserts, alternately with and without the
 * view that fills the state table (its insert cost). Then the state is what live chat leaves: each window changed when it
 * ended and computed a minute later; a live insert touches the newest window of two channels. Figures,
 * median of `--repeat` (20) runs each:
 * - check: the query every periodic refresh runs (all of the state table), as the background merges
 *   left it and after OPTIMIZE FINAL (one row per window);
 * - from messages: the same answer from messages.inserted_at (a scan of every message's channel, ts
 *   and inserted_at), what the check would cost without the state table.
 *
 *   node bench/topics.ts [--messages 500000] [--channels 10] [--days 30] [--repeat 20]
 *
 * Prints one JSON document on stdout.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from '../cli/command.ts';
import { migrateUp } from '../clickhouse/migrate.ts';
import { createClickHouse, type ClickHouseClient } from '../core/clickhouse.ts';
import { loadConfig } from '../core/config.ts';
import { pendingTopicWindows } from '../enrich/topics/job.ts';

const { flags } = parseArgs(process.argv.slice(2), { messages: 'string', channels: 'string', days: 'string', repeat: 'string' });
const N = Number(flags.messages ?? 500_000);
const CHANNELS = Number(flags.channels ?? 10);
const DAYS = Number(flags.days ?? 30);
const REPEAT = Number(flags.repeat ?? 20);
const DB = 'bench_topics';

async function one<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T> {
  return (await (await client.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>())[0];
}

async function median(fn: () => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return Math.round(ms[Math.floor(ms.length / 2)] * 10) / 10;
}

/** N synthetic messages from `offset`, spread evenly over the channels and the days before now. */
async function insertMessages(client: ClickHouseClient, n: number, offset: number): Promise<number> {
  const t0 = performance.now();
  await client.command({
    query: `INSERT INTO messages (id, channel, ts, received_at, source, login, text)
            SELECT concat('b', toString(number + {offset:UInt64})) AS id, concat('chan', toString(number % {channels:UInt32})) AS channel,
                   now64(3) - toIntervalMillisecond(intDiv((number + {offset:UInt64}) * {spanMs:UInt64}, {total:UInt64})) AS ts, ts AS received_at,
                   'bench' AS source, concat('user', toString(cityHash64(number) % 5000)) AS login, 'some chat text here' AS text
            FROM numbers({n:UInt64})`,
    query_params: { n, offset, channels: CHANNELS, spanMs: DAYS * 86_400_000, total: N },
    clickhouse_settings: { insert_deduplication_token: '' },
  });
  return Math.round(performance.now() - t0);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-bench-topics-'));
try {
  const client = await createClickHouse(loadConfig({ TWICHIST_DATA_DIR: dir, CLICKHOUSE_DATABASE: DB, LOG_LEVEL: 'silent' }), { viaControl: false });
  await migrateUp(client);
  // the view's insert cost: equal inserts alternately with and without it
  const VIEW = "CREATE MATERIALIZED VIEW topic_window_state_mv TO topic_window_state AS SELECT channel, toStartOfInterval(ts, INTERVAL 5 MINUTE) AS window_start, max(inserted_at) AS changed_at, toDateTime64(0, 3, 'UTC') AS computed_at FROM messages GROUP BY channel, window_start";
  const ROUNDS = 10;
  const each = Math.floor(N / ROUNDS);
  const withView: number[] = [];
  const withoutView: number[] = [];
  await client.command({ query: 'DROP VIEW topic_window_state_mv' });
  for (let r = 0; r < ROUNDS; r++) {
    const view = r % 2 === 0;
    if (view) await client.command({ query: VIEW });
    (view ? withView : withoutView).push(await insertMessages(client, each, r * each));
    if (view) await client.command({ query: 'DROP VIEW topic_window_state_mv' });
  }
  await client.command({ query: VIEW });
  // the state live chat leaves (the synthetic insert stamped every window with the same inserted_at)
  await client.command({ query: 'TRUNCATE TABLE topic_window_state' });
  await client.command({
    query: `INSERT INTO topic_window_state
            SELECT channel, toStartOfInterval(ts, INTERVAL 5 MINUTE) AS w, least(toDateTime64(w, 3, 'UTC') + INTERVAL 5 MINUTE, now64(3) - INTERVAL 2 MINUTE) AS changed, changed + INTERVAL 1 MINUTE
            FROM messages GROUP BY channel, w`,
  });
  // a live insert into the newest window of two channels
  await client.command({
    query: `INSERT INTO messages (id, channel, ts, received_at, source, login, text)
            SELECT concat('live', toString(number)), concat('chan', toString(number % 2)), now64(3), now64(3), 'bench', 'live', 'live text' FROM numbers(50)`,
    clickhouse_settings: { insert_deduplication_token: '' },
  });
  const stats = await one<{ messages: number; windows: number; state_rows: number }>(
    client,
    'SELECT (SELECT count() FROM messages) AS messages, (SELECT uniqExact(channel, window_start) FROM topic_window_state) AS windows, (SELECT count() FROM topic_window_state) AS state_rows',
  );
  const check = () => pendingTopicWindows(client, { database: DB });
  const due = await check();
  const fromMessages = () =>
    client.query({ query: 'SELECT channel, toStartOfInterval(ts, INTERVAL 5 MINUTE) AS w, max(inserted_at) AS c FROM messages GROUP BY channel, w HAVING c >= now64(3) - INTERVAL 15 MINUTE', format: 'JSONEachRow' }).then((r) => r.json());
  const result: Record<string, unknown> = {
    messages: Number(stats.messages),
    channels: CHANNELS,
    days: DAYS,
    windows: Number(stats.windows),
    due_windows_found: [...due.values()].reduce((n, w) => n + w.length, 0),
    state_rows: Number(stats.state_rows),
    check_ms: await median(check),
    from_messages_scan_ms: await median(fromMessages),
  };
  await client.command({ query: 'OPTIMIZE TABLE topic_window_state FINAL' });
  result.after_optimize = {
    state_rows: Number((await one<{ n: number }>(client, 'SELECT count() AS n FROM topic_window_state')).n),
    check_ms: await median(check),
  };
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  result.insert = { messages_each: each, with_view_ms: withView, without_view_ms: withoutView, with_view_median_ms: med(withView), without_view_median_ms: med(withoutView) };
  result.repeat = REPEAT;
  await client.close();
  console.log(JSON.stringify(result, null, 2));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
