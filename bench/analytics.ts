/**
 * Analytics: how long a full refresh of the derived tables takes, and how well bursts are detected.
 *
 * 1. Refresh cost: riotgames1 (43k real messages) is loaded `copies` times, each copy shifted by one
 *    day and renamed to its own channel (riotgames_0, ...; nothing else is changed), then every
 *    refreshable view is refreshed once (refreshDerived) and timed. Every view recomputes its full
 *    history, so these times are what each 30-s / 5-min refresh costs at that history size.
 * 2. Detection: 20 injected bursts (analytics/inject.ts, seed 42) of emotes of increasing natural
 *    use, in the unmodified log: BibleThump (~2 uses / 30 s), Kreygasm (~5), PogChamp (~20); recall
 *    and precision counted as in test/analytics/bursts.test.ts.
 *
 * 3. --incremental: the 30-s burst views (burst_windows_mv, bursts_mv, hype_predictions_mv) in steady
 *    state at a history size where history dominates: `copies` copies as in 1 (default 100, 4.33M
 *    messages), one refresh of everything, then `rounds` rounds that each append a small batch and
 *    refresh the three views, timing each: live rounds append the next 500 messages of the log as a
 *    new channel's chat after all copies (a live stream), late rounds add 500 messages into an hour of
 *    riotgames_0 computed long ago (an import of old chat). Before 0053 every refresh recomputed all
 *    history; since, a refresh costs about the hours the batch touched. Then what reading the views costs
 *    at that size (`readers_ms`, each reader `--reader-runs` times in turn, default 7; they read the row
 *    tables with FINAL, see migrations 0053 and 0057): the Grafana burst alerts as provisioned (macros
 *    expanded over their lookback up to the newest window + 65 s, when an evaluation first sees it), the
 *    dashboards' burst panels over 7 days (all channels), the API's burst list
 *    (GET /api/v1/analytics/riotgames_0/bursts, cache off), one channel-day of burst_windows.
 *
 *   node bench/analytics.ts            10 copies (433k messages) + 3 emotes
 *   node bench/analytics.ts --quick    1 copy + BibleThump only
 *   node bench/analytics.ts --copies 100 --refresh-only   4.33M messages, refresh cost only (the scale
 *                                      the 5-minute views were measured at in migrations 0051-0052)
 *   node bench/analytics.ts --incremental [--copies 100] [--rounds 5] [--reader-runs 7]
 *
 * Prints one JSON document on stdout.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClickHouse, type ClickHouseClient } from '../core/clickhouse.ts';
import { loadConfig } from '../core/config.ts';
import { migrateUp } from '../clickhouse/migrate.ts';
import { chTime, insertRows, readChattyLog, RIOT_LOG } from '../analytics/chatty.ts';
import { burstMessages, planBursts } from '../analytics/inject.ts';
import { refreshDerived } from '../analytics/refresh.ts';
import { buildApp } from '../api/app.ts';
import { createLogger } from '../core/logger.ts';
import { ALERTS } from '../grafana/build/alerts.ts';
import { DASHBOARDS } from '../grafana/build/dashboards.ts';
import { expandDashboardQuery, expandMacros, queryIntervalMs } from '../test/grafana/macros.ts';

const toMs = (s: string) => Date.parse(s.replace(' ', 'T') + 'Z');
const DAY = 86_400_000;

const configFor = (dir: string, database: string) => loadConfig({ TWICHIST_DATA_DIR: dir, CLICKHOUSE_DATABASE: database, LOG_LEVEL: 'silent' });

async function open(dir: string, database: string): Promise<ClickHouseClient> {
  const client = await createClickHouse(configFor(dir, database), { viaControl: false });
  await migrateUp(client);
  return client;
}

async function count<T>(client: ClickHouseClient, query: string, params: Record<string, unknown>): Promise<T[]> {
  return (await client.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
}

async function refreshCost(dir: string, copies: number) {
  const client = await open(dir, 'bench_refresh');
  const log = readChattyLog(RIOT_LOG);
  for (let c = 0; c < copies; c++) {
    const shift = (m: { ts: string }) => chTime(toMs(m.ts) + c * DAY);
    await insertRows(client,
      log.messages.map((m) => ({ ...m, id: `${m.id}-${c}`, channel: `riotgames_${c}`, ts: shift(m), received_at: shift(m) })),
      log.mods.map((m) => ({ ...m, id: `${m.id}-${c}`, channel: `riotgames_${c}`, ts: shift(m), received_at: shift(m) })));
  }
  const views: Record<string, number> = {};
  const started = Date.now();
  await refreshDerived(client, { onRefreshed: (v, ms) => (views[v] = ms) });
  return { messages: log.messages.length * copies, copies, total_ms: Date.now() - started, views_ms: views };
}

async function detection(dir: string, emote: string, sizeMin: number, sizeMax: number) {
  const client = await open(dir, `bench_detect_${emote.toLowerCase()}`);
  const log = readChattyLog(RIOT_LOG);
  await insertRows(client, log.messages, log.mods);
  await refreshDerived(client);
  const q = "SELECT start, `end` FROM bursts WHERE kind = 'emote' AND emote = {e:String}";
  const natural = await count<{ start: string; end: string }>(client, q, { e: emote });
  const times = log.messages.map((m) => toMs(m.ts));
  const injected = planBursts({ channel: 'riotgames', emote, from: Math.min(...times), to: Math.max(...times), seed: 42, sizeMin, sizeMax });
  await insertRows(client, burstMessages(injected, { channel: 'riotgames', emote }));
  await refreshDerived(client);
  const found = await count<{ start: string; end: string }>(client, q, { e: emote });
  const ov = (a: { start: number; end: number }, b: { start: string; end: string }) => toMs(b.start) < a.end && a.start < toMs(b.end);
  const tp = found.filter((f) => injected.some((i) => ov(i, f))).length;
  const fp = found.filter((f) => !injected.some((i) => ov(i, f)) && !natural.some((n) => ov({ start: toMs(n.start), end: toMs(n.end) }, f))).length;
  const natUses = log.messages.reduce((s, m) => s + m.emote_names.filter((e) => e === emote).length, 0);
  return {
    emote, natural_uses_per_30s: +(natUses / ((Math.max(...times) - Math.min(...times)) / 30_000)).toFixed(1), injected_uses_per_window: [sizeMin, sizeMax],
    recall: injected.filter((i) => found.some((f) => ov(i, f))).length / injected.length, precision: tp + fp === 0 ? null : tp / (tp + fp),
  };
}

const BURST_VIEWS = ['burst_windows_mv', 'bursts_mv', 'hype_predictions_mv'];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Every `sql` string of a dashboard spec (panels, annotations). */
function sqlOf(spec: unknown): string[] {
  if (Array.isArray(spec)) return spec.flatMap(sqlOf);
  if (spec === null || typeof spec !== 'object') return [];
  return Object.entries(spec).flatMap(([k, v]) => (k === 'sql' && typeof v === 'string' ? [v] : sqlOf(v)));
}

const spread = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
};

/** Wall time per reader of the burst views, `runs` times each, readers in turn (see the header, 3.). */
async function readerCost(client: ClickHouseClient, dir: string, runs: number) {
  const [{ last }] = await count<{ last: number }>(client, 'SELECT toUInt32(max(`window`)) AS last FROM chat_30s', {});
  const to = new Date((last + 65) * 1000);
  const readers: Record<string, () => Promise<unknown>> = {};
  for (const a of ALERTS.filter((x) => /\bburst_windows\b/.test(x.sql))) {
    const sql = expandMacros(a.sql, { range: { from: new Date(to.getTime() - a.lookbackS * 1000), to }, intervalMs: 1000 });
    readers[`alert: ${a.title}`] = () => count(client, sql, {});
  }
  const week = { from: new Date(to.getTime() - 7 * DAY), to };
  const panels = [...new Set(DASHBOARDS.flatMap((d) => sqlOf(d.spec)).filter((q) => /\bFROM bursts\b/.test(q)))];
  panels.forEach((q, i) => {
    const sql = expandDashboardQuery(q, [{ name: 'channel', value: ['$__all'] }], { range: week, intervalMs: queryIntervalMs(week, 1000, '30s') });
    readers[`dashboard: bursts panel ${i + 1} of ${panels.length}`] = () => count(client, sql, {});
  });
  const app = await buildApp({ config: configFor(dir, 'bench_incremental'), logger: createLogger('silent'), client, rateLimit: false, cacheTtlMs: 0 });
  readers['api: burst list (limit 100)'] = async () => {
    const res = await app.inject({ url: '/api/v1/analytics/riotgames_0/bursts?limit=100' });
    if (res.statusCode !== 200) throw new Error(`burst list: HTTP ${res.statusCode} ${res.body.slice(0, 200)}`);
  };
  const day = Math.floor(last / 86_400) * 86_400;
  readers['burst_windows: one channel-day'] = () =>
    count(client, 'SELECT * FROM burst_windows WHERE channel = {c:String} AND `window` >= toDateTime({d:UInt32}) AND `window` < toDateTime({d:UInt32}) + INTERVAL 1 DAY', { c: 'riotgames_live', d: day });
  const times: Record<string, number[]> = {};
  for (let r = 0; r < runs; r++) {
    for (const [name, read] of Object.entries(readers)) {
      const started = performance.now();
      await read();
      (times[name] ??= []).push(Math.round(performance.now() - started));
    }
  }
  await app.close();
  return Object.fromEntries(Object.entries(times).map(([k, xs]) => [k, spread(xs)]));
}

async function incrementalCost(dir: string, copies: number, rounds: number, readerRuns: number) {
  const client = await open(dir, 'bench_incremental');
  const log = readChattyLog(RIOT_LOG);
  const t0 = toMs(log.messages[0].ts);
  const shifted = (m: { id: string; ts: string }, id: string, channel: string, ms: number) => ({ ...m, id, channel, ts: chTime(toMs(m.ts) + ms), received_at: chTime(toMs(m.ts) + ms) });
  for (let c = 0; c < copies; c++) {
    await insertRows(client, log.messages.map((m) => shifted(m, `${m.id}-${c}`, `riotgames_${c}`, c * DAY)), log.mods.map((m) => shifted(m, `${m.id}-${c}`, `riotgames_${c}`, c * DAY)));
  }
  const initial: Record<string, number> = {};
  await refreshDerived(client, { onRefreshed: (v, ms) => { if (BURST_VIEWS.includes(v)) initial[v] = ms; } });
  const batch = 500;
  const runs: Array<{ kind: string; views_ms: Record<string, number> }> = [];
  for (let r = 0; r < rounds * 2; r++) {
    const late = r % 2 === 1;
    const i = Math.floor(r / 2);
    const part = log.messages.slice(i * batch, (i + 1) * batch);
    // live: a new channel streaming after every copy; late: more chat in riotgames_0's hour of minutes 40-50, long computed.
    const rows = late
      ? part.map((m, k) => shifted({ ...m, ts: chTime(t0 + 40 * 60_000 + ((k * 1_200) % 600_000)) }, `late-${r}-${k}`, 'riotgames_0', 0))
      : part.map((m) => shifted(m, `${m.id}-live`, 'riotgames_live', copies * DAY));
    await insertRows(client, rows);
    const views_ms: Record<string, number> = {};
    await refreshDerived(client, { skipHypeModel: true, views: BURST_VIEWS, onRefreshed: (v, ms) => (views_ms[v] = ms) });
    runs.push({ kind: late ? 'late' : 'live', views_ms });
  }
  const summary = (kind: string) => Object.fromEntries(BURST_VIEWS.map((v) => [v, median(runs.filter((x) => x.kind === kind).map((x) => x.views_ms[v]))]));
  const readers_ms = await readerCost(client, dir, readerRuns);
  return { messages: log.messages.length * copies, copies, batch, initial_ms: initial, median_live_ms: summary('live'), median_late_ms: summary('late'), runs, readers_ms };
}

if (!fs.existsSync(RIOT_LOG)) {
  console.log(JSON.stringify({ skipped: `no ${RIOT_LOG}: the real chat logs are not on this machine` }));
} else {
  const quick = process.argv.includes('--quick');
  const incremental = process.argv.includes('--incremental');
  const arg = (name: string, dflt: number) => {
    const i = process.argv.indexOf(name);
    const v = i < 0 ? dflt : Number(process.argv[i + 1]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} takes a positive integer`);
    return v;
  };
  const copies = arg('--copies', incremental ? 100 : quick ? 1 : 10);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-bench-analytics-'));
  try {
    if (incremental) {
      console.log(JSON.stringify({ incremental: await incrementalCost(dir, copies, arg('--rounds', 5), arg('--reader-runs', 7)) }, null, 2));
    } else {
      const refresh = await refreshCost(dir, copies);
      const configs: Array<[string, number, number]> = process.argv.includes('--refresh-only') ? [] : quick ? [['BibleThump', 10, 40]] : [['BibleThump', 10, 40], ['Kreygasm', 10, 40], ['PogChamp', 40, 80]];
      const detect = [];
      for (const [e, lo, hi] of configs) detect.push(await detection(dir, e, lo, hi));
      console.log(JSON.stringify(configs.length > 0 ? { refresh, detection: detect } : { refresh }, null, 2));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
