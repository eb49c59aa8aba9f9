/**
 * Every real chat log of ../shared/data imported as `twichist import` does (importers, in-process bus,
 * enrich with what is installed), and Grafana's alert state machine over a rule's evaluations every
 * minute of it: what test/grafana/toxicity-surge.test.ts and scripts/calibrate-toxicity-alert.ts share.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ClickHouseClient } from '../../../core/clickhouse.ts';
import type { Config } from '../../../core/config.ts';
import { SHARED_DATA } from '../../support/paths.ts';
import { importThroughEnrich } from './fill.ts';
import { runSql } from './provisioned.ts';

const MINUTE = 60_000;

/** Every chat log under `data` (Chatty, raw IRC, v5 rechat, GQL) with its channel (null: the file names it), in a fixed order. */
export function realChatFiles(data = SHARED_DATA): Array<{ file: string; channel: string | null }> {
  const out: Array<{ file: string; channel: string | null }> = [];
  const ls = (dir: string) => fs.readdirSync(path.join(data, dir)).sort();
  for (const ch of ls('chatty')) for (const f of ls(`chatty/${ch}`)) if (f.endsWith('.log')) out.push({ file: `chatty/${ch}/${f}`, channel: ch });
  for (const f of ls('irc')) if (f.endsWith('.raw.irc')) out.push({ file: `irc/${f}`, channel: /^([a-z0-9_]+)-\d{4}-/.exec(f)?.[1] ?? null });
  for (const f of ls('vod-json/v5-rechat')) out.push({ file: `vod-json/v5-rechat/${f}`, channel: null });
  for (const ch of ls('vod-json/gql-verbose')) {
    for (const vod of ls(`vod-json/gql-verbose/${ch}`)) {
      for (const f of ls(`vod-json/gql-verbose/${ch}/${vod}`)) if (f !== 'vod.json') out.push({ file: `vod-json/gql-verbose/${ch}/${vod}/${f}`, channel: null });
    }
  }
  return out;
}

/** Imports `files` (paths under ../shared/data) through the in-process bus and enrich, as `twichist import` does. */
export async function importRealChat(client: ClickHouseClient, config: Config, files = realChatFiles()): Promise<void> {
  await importThroughEnrich(client, config, files.map(({ file, channel }) => (channel === null ? { file } : { file, channel })));
}

export interface ChatStream {
  channel: string;
  /** First and last message, epoch ms. */
  first: number;
  last: number;
  messages: number;
  meanToxicity: number;
}

/** Each channel's stretches of chat: a silence over an hour starts a new one (as test/grafana/semantics.test.ts). */
export async function chatStreams(client: ClickHouseClient): Promise<ChatStream[]> {
  const rows = (await runSql(client, `
    SELECT channel, toUnixTimestamp64Milli(min(ts)) AS first, toUnixTimestamp64Milli(max(ts)) AS last, count() AS messages, avg(toxicity) AS mean
    FROM (
      SELECT channel, ts, toxicity, sum(gap) OVER (PARTITION BY channel ORDER BY ts) AS stream
      FROM (SELECT channel, ts, toxicity, dateDiff('second', lagInFrame(ts, 1, ts) OVER (PARTITION BY channel ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), ts) > 3600 AS gap FROM messages))
    GROUP BY channel, stream ORDER BY channel, first`)).data;
  return rows.map((r) => ({ channel: String(r.channel), first: Number(r.first), last: Number(r.last), messages: Number(r.messages), meanToxicity: Number(r.mean) }));
}

/**
 * Grafana's evaluation times over the streams: every minute (at :17, any second of the minute Grafana
 * picks) from a minute after each stream's first message to 6 minutes after its last, ascending.
 */
export function evaluationTimes(streams: ChatStream[]): number[] {
  const times = new Set<number>();
  for (const s of streams) for (let t = Math.floor(s.first / MINUTE) * MINUTE + MINUTE + 17_000; t <= s.last + 6 * MINUTE; t += MINUTE) times.add(t);
  return [...times].sort((a, b) => a - b);
}

/** One series (channel) in one evaluation's result: it is absent when the query returned no row for it. */
export interface SeriesEvaluation {
  at: number;
  channel: string;
  value: number;
}

export interface PagedAlert {
  channel: string;
  /** Evaluation that went from Pending to Alerting, and the one that started Pending. */
  firing: number;
  pending: number;
  /** Highest value while firing, and the evaluations it fired in. */
  peak: number;
  evaluations: number;
}

/**
 * Grafana's alert states over a rule's evaluations (pkg/services/ngalert/state): a series over the threshold
 * goes Pending, and Alerting at the first evaluation at least `forMs` after it went Pending with every one
 * between over too; a row under the threshold makes it Normal. A series missing from the result is dropped
 * (Normal) once it has not been seen for 2 intervals (Grafana's stale states), so one missing evaluation
 * keeps it Pending or Alerting. Returns the evaluations over the threshold and each alert as it is paged.
 */
export function alertsOf(evals: SeriesEvaluation[], threshold: number, forMs: number, intervalMs = MINUTE): { over: SeriesEvaluation[]; alerts: PagedAlert[] } {
  const byChannel = new Map<string, SeriesEvaluation[]>();
  for (const e of evals) {
    const list = byChannel.get(e.channel) ?? [];
    list.push(e);
    byChannel.set(e.channel, list);
  }
  const over: SeriesEvaluation[] = [];
  const alerts: PagedAlert[] = [];
  for (const [channel, list] of byChannel) {
    list.sort((x, y) => x.at - y.at);
    let pending: number | null = null;
    let current: PagedAlert | null = null;
    let seen = -Infinity;
    for (const e of list) {
      if (e.at - seen > 2 * intervalMs) pending = current = null;
      seen = e.at;
      if (!(e.value > threshold)) {
        pending = current = null;
        continue;
      }
      over.push(e);
      pending ??= e.at;
      if (current) {
        current.evaluations++;
        current.peak = Math.max(current.peak, e.value);
      } else if (e.at - pending >= forMs) {
        current = { channel, firing: e.at, pending, peak: e.value, evaluations: 1 };
        alerts.push(current);
      }
    }
  }
  alerts.sort((x, y) => x.firing - y.firing);
  return { over, alerts };
}
