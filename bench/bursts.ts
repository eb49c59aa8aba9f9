/**
 * Burst detection on all real chat of ../shared/data, before and after migration 0058 (baseline since the chat
 * started; emote windows count chatters): where in a stream the bursts fall, emote bursts made by one or a few
 * chatters, and how often the Grafana burst alerts fire on riotgames1. Not a speed benchmark and not a stage of
 * `npm run bench`: the figures in clickhouse/README.md and docs/grafana.md come from it.
 *
 * The chat goes through the importers and enrich as in production (test/grafana/support/fill.ts): the Chatty
 * logs (six channels), Northernlion's five v5 rechat VODs, the xqc raw IRC capture and arypie's five GQL VODs.
 * Then it is measured with the latest migrations, migrated down to 0057, refreshed (every hour is recomputed
 * with 0057's rules) and measured again.
 *
 * Streams are `channel_streams` (no 30-minute silence) of at least 30 minutes; a burst falls in the minute of
 * its stream its first window starts in. Alerts are evaluated as Grafana does (test/grafana/support/provisioned.ts):
 * every minute at second 17, from the stream's second minute to 3 minutes after its last message; an episode is a
 * run of consecutive firing evaluations of one label set (channel, emote).
 *
 *   nice -n 19 node bench/bursts.ts        prints {"after": {...}, "before": {...}} (~2 minutes)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClickHouse, type ClickHouseClient } from '../core/clickhouse.ts';
import { loadConfig } from '../core/config.ts';
import { migrateDown, migrateUp } from '../clickhouse/migrate.ts';
import { refreshDerived } from '../analytics/refresh.ts';
import { SHARED_DATA } from '../test/support/paths.ts';
import { fillWithRealChat } from '../test/grafana/support/fill.ts';
import { alertRule } from '../test/grafana/support/provisioned.ts';

const MINUTE = 60_000;
const BUCKETS: Array<[string, number, number]> = [['0-5', 0, 5], ['5-10', 5, 10], ['10-20', 10, 20], ['20+', 20, Infinity]];
/** The windows the audit named (channel, kind, emote, window). */
const AUDITED: Array<[string, string, string, string]> = [
  ['northernlion', 'volume', '', '2016-08-16 00:39:00'],
  ['xqc', 'volume', '', '2023-04-01 03:19:00'],
  ['riotgames', 'emote', 'MrDestructoid', '2016-09-30 01:50:30'],
  ['riotgames', 'emote', 'HotPokket', '2016-09-30 01:46:30'],
  ['riotgames', 'emote', 'WutFace', '2016-09-30 02:47:30'],
];

function chatFiles(): Array<{ file: string }> {
  const under = (dir: string, keep: (f: string) => boolean) =>
    (fs.readdirSync(path.join(SHARED_DATA, dir), { recursive: true }) as string[]).filter(keep).sort().map((f) => ({ file: path.join(dir, f) }));
  return [
    ...under('chatty', (f) => f.endsWith('.log')),
    ...under('vod-json/v5-rechat', (f) => f.endsWith('.json')),
    { file: 'irc/xqc-2023-04-01.raw.irc' },
    ...under('vod-json/gql-verbose', (f) => f.endsWith('verbose_chat.json.gz')),
  ];
}

const ms = (v: unknown) => Date.parse(`${String(v).replace(' ', 'T')}Z`);

async function rows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  return (await client.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
}

async function measure(client: ClickHouseClient) {
  const streams = (await rows<{ channel: string; start: string; end: string }>(client,
    "SELECT channel, start, `end` FROM channel_streams WHERE dateDiff('second', start, `end`) >= 1800 ORDER BY channel, start"))
    .map((s) => ({ channel: s.channel, start: ms(s.start), end: ms(s.end) }));
  const bursts = await rows<{ channel: string; kind: string; emote: string; start: string; peak_window: string }>(client,
    'SELECT channel, kind, emote, start, peak_window FROM bursts ORDER BY channel, start');
  const minutes: Record<string, number> = {};
  const byBucket: Record<string, Record<string, number>> = { volume: {}, emote: {} };
  for (const [name, from, to] of BUCKETS) {
    minutes[name] = streams.reduce((sum, s) => sum + Math.max(0, Math.min(to, (s.end - s.start) / MINUTE) - from), 0);
    for (const kind of ['volume', 'emote']) {
      byBucket[kind][name] = bursts.filter((b) => b.kind === kind && streams.some((s) => {
        const m = (ms(b.start) - s.start) / MINUTE;
        return s.channel === b.channel && m >= from && m < to && ms(b.start) < s.end;
      })).length;
    }
  }
  const perHour = (kind: string) => Object.fromEntries(BUCKETS.map(([name]) => [name, Math.round((byBucket[kind][name] / minutes[name]) * 60 * 100) / 100]));

  // Who made each emote burst's peak window, from the raw messages (the rules count uses or chatters).
  const [makers] = await rows<{ bursts: number; one_message: number; one_chatter: number; under_5_chatters: number }>(client, `
    SELECT count() AS bursts, countIf(messages = 1) AS one_message, countIf(chatters = 1) AS one_chatter, countIf(chatters < 5) AS under_5_chatters
    FROM (SELECT b.channel, b.emote, b.start, uniqExact(p.id) AS messages, uniqExact(p.login) AS chatters
          FROM (SELECT channel, emote, start, peak_window FROM bursts WHERE kind = 'emote') AS b
          INNER JOIN (SELECT channel, emote, login, id, toDateTime(toStartOfInterval(ts, INTERVAL 30 SECOND), 'UTC') AS w
                      FROM messages ARRAY JOIN emote_names AS emote
                      WHERE (channel, toDateTime(toStartOfInterval(ts, INTERVAL 30 SECOND), 'UTC')) IN (SELECT channel, peak_window FROM bursts WHERE kind = 'emote')) AS p
            ON p.channel = b.channel AND p.emote = b.emote AND p.w = b.peak_window
          GROUP BY b.channel, b.emote, b.start)`);

  const alerts: Record<string, { evaluations: number; firing_minutes: number; episodes: number }> = {};
  const riot = streams.find((s) => s.channel === 'riotgames')!;
  for (const title of ['Emote burst', 'Chat volume burst']) {
    const rule = alertRule(client, title);
    let evaluations = 0;
    let firingMinutes = 0;
    let episodes = 0;
    let previous = new Set<string>();
    for (let now = Math.floor(riot.start / MINUTE) * MINUTE + MINUTE + 17_000; now <= riot.end + 3 * MINUTE; now += MINUTE) {
      const firing = new Set((await rule.firing(now)).filter((f) => f.labels.channel === 'riotgames').map((f) => JSON.stringify(f.labels)));
      evaluations++;
      if (firing.size > 0) firingMinutes++;
      for (const f of firing) if (!previous.has(f)) episodes++;
      previous = firing;
    }
    alerts[title] = { evaluations, firing_minutes: firingMinutes, episodes };
  }

  const audited = [];
  for (const [channel, kind, emote, window] of AUDITED) {
    const [w] = await rows<{ count: number; baseline: number; score: number; hot: boolean }>(client,
      'SELECT count, baseline, round(score, 1) AS score, hot FROM burst_windows WHERE channel = {c:String} AND kind = {k:String} AND emote = {e:String} AND `window` = {w:DateTime}',
      { c: channel, k: kind, e: emote, w: window });
    audited.push({ channel, kind, emote, window, ...w });
  }
  return {
    streams: streams.length,
    stream_minutes: Object.fromEntries(Object.entries(minutes).map(([k, v]) => [k, Math.round(v)])),
    volume_bursts: byBucket.volume,
    volume_bursts_per_stream_hour: perHour('volume'),
    emote_bursts: byBucket.emote,
    emote_bursts_per_stream_hour: perHour('emote'),
    bursts_total: { volume: bursts.filter((b) => b.kind === 'volume').length, emote: bursts.filter((b) => b.kind === 'emote').length },
    emote_burst_peaks: makers,
    riotgames_alerts: alerts,
    audited,
  };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-bench-bursts-'));
try {
  const config = loadConfig({ TWICHIST_DATA_DIR: dir, CLICKHOUSE_DATABASE: 'bench_bursts', LOG_LEVEL: 'silent' });
  const client = await createClickHouse(config, { viaControl: false });
  const applied = await migrateUp(client);
  const latest = applied.at(-1)!.version;
  const files = chatFiles();
  process.stderr.write(`importing ${files.length} files\n`);
  await fillWithRealChat(client, config, files);
  const after = await measure(client);
  await migrateDown(client, { to: 57 });
  await refreshDerived(client);
  const before = await measure(client);
  console.log(JSON.stringify({ files: files.map((f) => f.file), after: { migration: latest, ...after }, before: { migration: 57, ...before } }, null, 1));
  await client.close();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
