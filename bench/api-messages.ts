/**
 * Message listing latency (`/api/v1/messages`, `/api/v1/users/{login}/messages`), p50/p95 of sequential
 * in-process requests (no HTTP, one at a time): what reading each page's topic ids from `message_topics`
 * (api/messages-query.ts `withTopics`) adds to a page read.
 *
 * Data, synthetic and kept in `--data` for later runs: `--messages` (300,000) over 5 channels and 30 days
 * (about 2 messages a minute a channel), 2,000 logins, texts of 3-8 words from a 400-word vocabulary;
 * `message_topics` holds a row for every message (topic -1..5), and a second, newer version for every
 * tenth window (a re-run whose delete is not applied yet, as enrich's timer leaves them).
 *
 *   node bench/api-messages.ts [--messages 300000] [--requests 200] [--data DIR] [--root DIR]
 *
 * `--root` serves another checkout's API (e.g. the commit before) from the same data folder.
 * Prints one JSON document on stdout.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from '../cli/command.ts';

const { flags } = parseArgs(process.argv.slice(2), { messages: 'string', requests: 'string', data: 'string', root: 'string' });
const N = Number(flags.messages ?? 300_000);
const REQUESTS = Number(flags.requests ?? 200);
const DATA = path.resolve(typeof flags.data === 'string' ? flags.data : path.join(os.tmpdir(), `twichist-bench-api-messages-${N}`));
const ROOT = path.resolve(typeof flags.root === 'string' ? flags.root : path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const load = (rel: string) => import(pathToFileURL(path.join(ROOT, rel)).href);

const { migrateUp } = await load('clickhouse/migrate.ts');
const { createClickHouse } = await load('core/clickhouse.ts');
const { loadConfig } = await load('core/config.ts');
const { createLogger } = await load('core/logger.ts');
const { buildApp } = await load('api/app.ts');

const config = loadConfig({ TWICHIST_DATA_DIR: DATA, TWICHIST_ONLINE: 'false', LOG_LEVEL: 'warn' });
const client = await createClickHouse(config, { viaControl: false });
await migrateUp(client);
const one = async (query: string, params: Record<string, unknown> = {}) => ((await (await client.query({ query, query_params: params, format: 'JSONEachRow' })).json()) as Array<Record<string, unknown>>)[0];

const END = Date.UTC(2026, 0, 31);
const SPAN = 30 * 86_400_000;
if (Number((await one('SELECT count() AS n FROM messages')).n) < N) {
  const settings = { insert_deduplication_token: '', max_partitions_per_insert_block: '1000' };
  // ten inserts: parts as a stream of batches leaves them, not one
  for (let k = 0; k < 10; k++) {
    await client.command({
      query: `INSERT INTO messages (id, channel, ts, received_at, source, user_id, login, text, enrich_version)
              SELECT concat('m', toString(number)) AS id, concat('chan', toString(number % 5)) AS channel,
                     fromUnixTimestamp64Milli(toInt64({end:Int64} - intDiv(number * {span:Int64}, {n:UInt64})), 'UTC') AS ts, ts AS received_at, 'bench' AS source,
                     concat('u', toString(cityHash64(number, 1) % 2000)) AS user_id, concat('user', toString(cityHash64(number, 1) % 2000)) AS login,
                     arrayStringConcat(arrayMap(i -> concat('w', toString(cityHash64(number, i) % 400)), range(3 + cityHash64(number) % 6)), ' ') AS text, 'bench' AS enrich_version
              FROM numbers({from:UInt64}, {count:UInt64})`,
      query_params: { end: END, span: SPAN, n: N, from: (k * N) / 10, count: N / 10 },
      clickhouse_settings: settings,
    });
  }
  for (const [version, every] of [['2026-02-01 00:00:00.000', 1], ['2026-02-01 00:05:00.000', 10]] as const) {
    await client.command({
      query: `INSERT INTO message_topics (channel, window_start, message_id, ts, topic_id, computed_at)
              SELECT channel, toStartOfInterval(ts, INTERVAL 5 MINUTE) AS w, id, ts, toInt32(cityHash64(id, {v:String}) % 7) - 1, toDateTime64({v:String}, 3, 'UTC')
              FROM messages WHERE toUInt32(w) / 300 % {every:UInt32} = 0`,
      query_params: { v: version, every },
      clickhouse_settings: settings,
    });
  }
}

const app = await buildApp({ config, logger: createLogger('warn'), client, rateLimit: false, cacheTtlMs: 0 });
await app.ready();
const pick = (i: number, n: number) => (i * 7919) % n;
const runs: Record<string, { p50_ms: number; p95_ms: number; items: number }> = {};
async function run(name: string, url: (i: number) => string): Promise<void> {
  for (let i = 0; i < 5; i++) await app.inject({ method: 'GET', url: url(i) }); // warm-up
  const ms: number[] = [];
  let items = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = performance.now();
    const r = await app.inject({ method: 'GET', url: url(i) });
    ms.push(performance.now() - t0);
    if (r.statusCode !== 200) throw new Error(`${url(i)}: ${r.statusCode} ${r.body.slice(0, 200)}`);
    items += JSON.parse(r.body).items.length;
  }
  ms.sort((a, b) => a - b);
  runs[name] = { p50_ms: Math.round(ms[Math.floor(ms.length / 2)] * 10) / 10, p95_ms: Math.round(ms[Math.floor(ms.length * 0.95)] * 10) / 10, items: Math.round(items / REQUESTS) };
  console.error(name, JSON.stringify(runs[name]));
}
await run('channel, newest page (limit 100)', (i) => `/api/v1/messages?channel=chan${i % 5}&limit=100`);
await run('channel, page at a random time (limit 100)', (i) => `/api/v1/messages?channel=chan${i % 5}&to=${END - pick(i, SPAN)}&limit=100`);
await run('channel, page of 1000', (i) => `/api/v1/messages?channel=chan${i % 5}&to=${END - pick(i, SPAN)}&limit=1000`);
await run('all channels, newest page (limit 100)', () => '/api/v1/messages?limit=100');
await run('one user (limit 100)', (i) => `/api/v1/users/user${pick(i, 2000)}/messages?limit=100`);
await run('search, one channel (limit 100)', (i) => `/api/v1/messages?channel=chan${i % 5}&q=w${pick(i, 400)}&limit=100`);
await app.close();
await client.close();
console.log(JSON.stringify({ root: ROOT, messages: N, requests: REQUESTS, cpus: os.cpus().length, load: os.loadavg().map((l) => Math.round(l * 10) / 10), runs }, null, 2));
