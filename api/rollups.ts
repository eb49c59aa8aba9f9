/**
 * Reads of the enrich rollups (`chat_*`, `emotes_*`, see DEVELOPERS.md). A missing rollup table
 * (enrich not deployed yet) reads as no data, not as an error.
 */
import type { ClickHouseClient } from '../core/clickhouse.ts';
import { BUCKET_MS, cachedRowsOrEmpty as rowsOrEmpty, iso, rollupTable, type Bucket, type Params } from './db.ts';
import { ApiError } from './errors.ts';

/** Most points one timeline answer may hold; more is a range/bucket mismatch, not a chart. */
export const MAX_POINTS = 10_000;

export interface ResolvedRange {
  from: number;
  to: number;
}

/** The channel's (or every channel's) first or last window in a rollup table, epoch ms; null when it holds none. */
async function edgeWindow(client: ClickHouseClient, table: string, channel: string | null, edge: 'min' | 'max'): Promise<number | null> {
  // `table` and `edge` come from this module, never from input.
  const r = await rowsOrEmpty<{ w: number | null }>(
    client,
    `SELECT if(count() = 0, NULL, toUnixTimestamp(${edge}(window))) AS w FROM ${table} ${channel ? 'WHERE channel = {channel:String}' : ''}`,
    { channel },
  );
  const w = r[0]?.w ?? null;
  return w === null ? null : Number(w) * 1000;
}

/**
 * Fills an open range: without `to`, the end of the channel's latest window (archives of 2016 chat
 * still chart without a date); without `from`, `points` buckets before `to`.
 */
export async function resolveRange(client: ClickHouseClient, table: string, channel: string | null, bucket: Bucket, from: number | undefined, to: number | undefined, points = 500): Promise<ResolvedRange | null> {
  const step = BUCKET_MS[bucket];
  let end = to;
  if (end === undefined) {
    const last = await edgeWindow(client, table, channel, 'max');
    if (last === null) return null;
    end = last + step;
  }
  let start = from ?? Math.max(0, end - points * step);
  if (start >= end) throw new ApiError(400, 'from must be before to');
  if ((end - start) / step > MAX_POINTS) {
    // `from=0` ("the beginning", docs/api.md) and other starts before any data: the range starts at the
    // channel's first window instead. It was a 400 for 1970-2016 in days, for a channel with one day of chat.
    const first = await edgeWindow(client, table, channel, 'min');
    if (first !== null && first > start) start = Math.min(first, end - step);
    if ((end - start) / step > MAX_POINTS) throw new ApiError(400, `range holds more than ${MAX_POINTS} buckets of ${bucket}: use a bigger bucket or a shorter range`);
  }
  // the range as read: whole buckets, the one holding `from` to the one holding the last instant before `to`
  // (answers echo it, so a caller sees what the figures cover)
  return { from: Math.floor(start / step) * step, to: Math.ceil(end / step) * step };
}

export interface ChatPointRow {
  w: number;
  msgs: number;
  chatters: number;
  first_time_chatters: number;
  sentiment_mean: number | null;
  neg: number;
  neu: number;
  pos: number;
  toxicity_mean: number | null;
  toxicity_max: number;
  emote_uses: number;
  bits: number;
  bans: number;
  timeouts: number;
  deletions: number;
  clears: number;
}

const CHAT_SUMS = `sum(messages) AS msgs, sum(first_time_chatters) AS first_time_chatters,
  if(sum(messages) = 0, NULL, sum(sentiment_sum) / sum(messages)) AS sentiment_mean,
  sum(sentiment_neg) AS neg, sum(sentiment_neu) AS neu, sum(sentiment_pos) AS pos,
  if(sum(messages) = 0, NULL, sum(toxicity_sum) / sum(messages)) AS toxicity_mean, max(toxicity_max) AS toxicity_max,
  sum(emote_uses) AS emote_uses, sum(bits) AS bits, sum(bans) AS bans, sum(timeouts) AS timeouts, sum(deletions) AS deletions, sum(clears) AS clears`;
const CHAT_AGGREGATES = `${CHAT_SUMS}, uniqExactMerge(chatters) AS chatters`;

/**
 * The windows of `bucket` that overlap [from, to): the window holding `from` is read too (it was left out
 * when `from` fell inside it, while the window holding `to` was read), so an unaligned range is widened to
 * the bucket's boundaries at both ends, as `/channels/{c}/stats` documents.
 */
function rangeWhere(channel: string | null, range: ResolvedRange | null, bucket: Bucket): { where: string; params: Params } {
  const w: string[] = [];
  const params: Params = {};
  if (channel) {
    w.push('channel = {channel:String}');
    params.channel = channel;
  }
  if (range) {
    w.push("window >= toDateTime(intDiv({from:Int64}, 1000), 'UTC') AND window < toDateTime(intDiv({to:Int64} + 999, 1000), 'UTC')");
    params.from = Math.floor(range.from / BUCKET_MS[bucket]) * BUCKET_MS[bucket];
    params.to = range.to;
  }
  return { where: w.length ? 'WHERE ' + w.join(' AND ') : '', params };
}

/** One row per window with data, without chatters: what moderation charts read (no chatter states). */
export async function chatSums(client: ClickHouseClient, channel: string | null, bucket: Bucket, range: ResolvedRange): Promise<Array<Omit<ChatPointRow, 'chatters'>>> {
  const { where, params } = rangeWhere(channel, range, bucket);
  return rowsOrEmpty(client, `SELECT toUnixTimestamp(window) * 1000 AS w, ${CHAT_SUMS} FROM ${rollupTable('chat', bucket)} ${where} GROUP BY window ORDER BY window`, params);
}

/**
 * One row per window with data (empty windows are left out, not zero-filled).
 *
 * Chatters of one channel come from `chatter_counts` (migration 0040) for every window whose stored
 * message count still matches the rollup's, and from merging the rollup's `uniqExact` states for the
 * rest (the live window, late or imported events not yet counted): exact either way, and the states
 * of a 500-window chart are not read when the counts are current. All channels together need the
 * union of chatters, so that case merges states.
 */
export async function chatTimeline(client: ClickHouseClient, channel: string | null, bucket: Bucket, range: ResolvedRange): Promise<ChatPointRow[]> {
  const { where, params } = rangeWhere(channel, range, bucket);
  const table = rollupTable('chat', bucket);
  if (channel === null) {
    return rowsOrEmpty<ChatPointRow>(client, `SELECT toUnixTimestamp(window) * 1000 AS w, ${CHAT_AGGREGATES} FROM ${table} ${where} GROUP BY window ORDER BY window`, params);
  }
  // A window without a counted row joins as (messages 0, chatters 0): right for a window with only
  // moderation actions (no messages, no chatters), a mismatch for any window with messages.
  const points = await rowsOrEmpty<Omit<ChatPointRow, 'chatters'> & { counted_messages: number; counted_chatters: number }>(
    client,
    `SELECT toUnixTimestamp(window) * 1000 AS w, r.* EXCEPT (window), c.messages AS counted_messages, c.chatters AS counted_chatters
     FROM (SELECT window, ${CHAT_SUMS} FROM ${table} ${where} GROUP BY window) AS r
     LEFT JOIN (
       SELECT window, argMax(messages, counted_at) AS messages, argMax(chatters, counted_at) AS chatters
       FROM chatter_counts ${where} AND resolution = {resolution:String} GROUP BY window
     ) AS c USING (window)
     ORDER BY window`,
    { ...params, resolution: bucket },
  );
  const stale = points.filter((p) => Number(p.counted_messages) !== Number(p.msgs)).map((p) => Number(p.w) / 1000);
  const merged = new Map<number, number>();
  if (stale.length > 0) {
    const live = await rowsOrEmpty<{ w: number; chatters: number }>(
      client,
      `SELECT toUnixTimestamp(window) * 1000 AS w, uniqExactMerge(chatters) AS chatters FROM ${table}
       WHERE channel = {channel:String} AND window >= toDateTime({lo:UInt32}, 'UTC') AND window <= toDateTime({hi:UInt32}, 'UTC')
         AND toUnixTimestamp(window) IN {stale:Array(UInt32)}
       GROUP BY window`,
      { channel, lo: Math.min(...stale), hi: Math.max(...stale), stale },
    );
    for (const l of live) merged.set(Number(l.w), Number(l.chatters));
  }
  return points.map(({ counted_messages, counted_chatters, ...p }) => ({ ...p, chatters: merged.get(Number(p.w)) ?? Number(counted_chatters) }));
}

/** Totals over a range (null range = everything); null when the rollup is missing. */
export async function chatTotals(client: ClickHouseClient, channel: string | null, bucket: Bucket, range: ResolvedRange | null): Promise<(ChatPointRow & { first_window: number | null; last_window: number | null }) | null> {
  const { where, params } = rangeWhere(channel, range, bucket);
  const r = await rowsOrEmpty<ChatPointRow & { first_window: number | null; last_window: number | null }>(
    client,
    `SELECT 0 AS w, ${CHAT_AGGREGATES}, if(count() = 0, NULL, toUnixTimestamp(min(window)) * 1000) AS first_window,
       if(count() = 0, NULL, toUnixTimestamp(max(window)) * 1000) AS last_window
     FROM ${rollupTable('chat', bucket)} ${where}`,
    params,
  );
  return r[0] ?? null;
}

/**
 * The coarsest rollup whose bucket both asked range ends fall on, so totals are exact for the range asked;
 * 30s (the range widened to 30 s boundaries) when none does. An open end (undefined) is on every boundary:
 * `from` alone on a day reads the daily rollup (its stand-in end, 8e12, is on none).
 */
export function alignedBucket(from: number | undefined, to: number | undefined): Bucket {
  for (const b of ['1d', '1h', '1m'] as const) if ((from ?? 0) % BUCKET_MS[b] === 0 && (to ?? 0) % BUCKET_MS[b] === 0) return b;
  return '30s';
}

/** The asked ends widened to whole `bucket`s, as ISO (`null`: that end was open): what the figures of a total cover. */
export function coveredEnds(from: number | undefined, to: number | undefined, bucket: Bucket): { from: string | null; to: string | null } {
  const step = BUCKET_MS[bucket];
  return { from: from === undefined ? null : iso(Math.floor(from / step) * step), to: to === undefined ? null : iso(Math.ceil(to / step) * step) };
}

export interface EmoteRow {
  emote: string;
  uses: number;
  users: number;
}

export async function topEmotes(client: ClickHouseClient, channel: string, bucket: Bucket, range: ResolvedRange | null, limit: number): Promise<EmoteRow[]> {
  const { where, params } = rangeWhere(channel, range, bucket);
  return rowsOrEmpty<EmoteRow>(
    client,
    `SELECT emote, sum(uses) AS uses, uniqExactMerge(users) AS users FROM ${rollupTable('emotes', bucket)} ${where} GROUP BY emote ORDER BY uses DESC, emote LIMIT {limit:UInt32}`,
    { ...params, limit },
  );
}

export async function emoteTimeline(client: ClickHouseClient, channel: string, emotes: string[], bucket: Bucket, range: ResolvedRange): Promise<Array<{ w: number; emote: string; uses: number; users: number }>> {
  const { where, params } = rangeWhere(channel, range, bucket);
  return rowsOrEmpty(
    client,
    `SELECT toUnixTimestamp(window) * 1000 AS w, emote, sum(uses) AS uses, uniqExactMerge(users) AS users FROM ${rollupTable('emotes', bucket)}
     ${where} AND emote IN {emotes:Array(String)} GROUP BY window, emote ORDER BY window, emote`,
    { ...params, emotes },
  );
}

