/**
 * The ClickHouse side of topics: read a range of messages, compute topics per channel and window,
 * and replace the stored topics and message topic ids of those windows. Parameterised SQL only.
 *
 * Versions: a refresh stamps everything it writes with `computed_at` = the server's clock just before
 * it read the messages, records that version per window in `topic_window_state` (migration 0043), and
 * then deletes the rows of every version older than the window's newest one. Whatever order refreshes
 * of one window run in (two enrich processes, an opt-out racing the periodic refresh), the delete
 * queued last sees every version, so one set is left: the one computed from the latest read.
 *
 * A message's topic is stored in `message_topics` only, never in `messages` (whose `topic_id` column
 * is deprecated, -1 for everything stored since): readers take each message's newest row there
 * (api/messages-query.ts `withTopics`). Copying the ids into `messages` took an `ALTER TABLE ... UPDATE`
 * mutation per refresh whose cost grew with the parts of `messages`, not with the window: a refresh of
 * one window of a channel with one message a month took 1.7 s at 10 monthly partitions, 7.9 s at 40,
 * 19.9 s at 120, and takes 0.13 s at each without it (`node bench/topics-refresh.ts`).
 */
import type { ClickHouseClient } from '../../core/clickhouse.ts';
import { computeTopics, type TopicMessage, type TopicMethod, type TopicOptions } from './compute.ts';

export interface RefreshTopicsOptions extends TopicOptions {
  /** Database holding `messages`, `topics` and `message_topics` (config `clickhouse.database`). */
  database: string;
  /** One channel (login), or every channel with messages in the range. */
  channel?: string | null;
  /** Start of the range (rounded down to a window). Default: 6 hours before `until`. */
  since?: Date | null;
  /** End of the range (exclusive), rounded up to a window end (a window is computed whole). Default: now; the current, unfinished window is included and recomputed next time. */
  until?: Date | null;
  /**
   * Messages this long before the range are read and computed with it but not written: the keyword
   * method ranks a window's terms against the channel's other windows (c-TF-IDF), so a range of one or
   * two windows (the enrich stage's periodic refresh) needs windows around it to tell a window's
   * subject from the channel's everyday words. Ignored with an embedder (it groups each window on
   * its own, and embedding the context would cost as much as the range again). Default 0.
   */
  contextMs?: number;
  /**
   * Wait for the deletes of older versions to be applied before returning. Default true. false returns
   * once they are queued (readers take each message's newest version, so the old rows do not show
   * meanwhile). The enrich stage's periodic refresh uses false: with embedded ClickHouse, waiting held
   * the next inserts
   * (`node bench/enrich.ts --mode freshness --seconds 30 --topics-interval-s 5`: publish-to-queryable
   * p99 1,969 ms waiting, 462 ms not, 359 ms without refreshes).
   */
  wait?: boolean;
}

export interface RefreshTopicsResult {
  channels: string[];
  /** Windows recomputed (with at least one message). */
  windows: number;
  topics: number;
  messages: number;
  method: TopicMethod | null;
}

/** Longest range one refresh reads: it holds the range's messages (of one channel) in memory. */
export const TOPIC_RANGE_MAX_MS = 6 * 3_600_000;
/** Context for refreshes of a few windows (enrich's periodic one, an opt-out's): see {@link RefreshTopicsOptions.contextMs}. */
export const TOPIC_CONTEXT_MS = 1_800_000;

/**
 * Window starts (ms, any order, duplicates allowed) as ranges [from, to) to refresh: windows less
 * than `maxGapMs` apart share a range (one read and one set of writes and deletes instead of several), and no range
 * spans more than `maxSpanMs`, because a refresh holds its range's messages in memory (an import of
 * a year of one channel's chat must not be one range).
 */
export function windowRanges(starts: Iterable<number>, windowMs = 300_000, maxGapMs = 3_600_000, maxSpanMs = TOPIC_RANGE_MAX_MS): Array<{ from: number; to: number }> {
  const sorted = [...new Set(starts)].sort((a, b) => a - b);
  const out: Array<{ from: number; to: number }> = [];
  for (const w of sorted) {
    const last = out.at(-1);
    if (last && w - last.to <= maxGapMs && w + windowMs - last.from <= maxSpanMs) last.to = w + windowMs;
    else out.push({ from: w, to: w + windowMs });
  }
  return out;
}

/** UTC ms as ClickHouse DateTime64(3) text. */
export const dateTime = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
const dateTimeSeconds = (ms: number): string => dateTime(ms).slice(0, 19);

/**
 * The ClickHouse server's clock, UTC ms: the clock `messages.inserted_at`, and so
 * `topic_window_state.changed_at`, comes from (a client's clock may be skewed).
 */
export async function serverNowMs(client: ClickHouseClient): Promise<number> {
  const rs = await client.query({ query: 'SELECT toUnixTimestamp64Milli(now64(3)) AS ms', format: 'JSONEachRow' });
  const [{ ms }] = await rs.json<{ ms: number | string }>();
  return Number(ms);
}

let lastVersion = 0;
/**
 * The version of a refresh about to read: the server's clock, made unique within this process so two
 * refreshes of one window in the same millisecond do not both count as newest.
 */
async function nextVersion(client: ClickHouseClient): Promise<number> {
  lastVersion = Math.max(await serverNowMs(client), lastVersion + 1);
  return lastVersion;
}

/**
 * SQL condition on `topics`/`message_topics` rows: the row belongs to its window's newest version as
 * `topic_window_state` records it, among the state's windows that `where` selects. The one definition the
 * refresh's deletes, the API's topics endpoint and the Grafana Topics panel use: the
 * topics table alone cannot tell a newest version with no topics (an opt-out emptied the window) from an
 * older one not yet deleted.
 * @param o.stateTable the state table as the caller's SQL names it (default `topic_window_state`).
 * @param o.perChannel match on the channel too, for a `where` that selects several channels.
 */
export function newestTopicVersionSql(where: string, o: { stateTable?: string; perChannel?: boolean } = {}): string {
  const key = o.perChannel ? 'channel, window_start' : 'window_start';
  return `(${key}, computed_at) IN (SELECT ${key}, max(computed_at) FROM ${o.stateTable ?? 'topic_window_state'} WHERE ${where} GROUP BY ${key})`;
}

/** Rows of `topics`/`message_topics` of a channel's windows in [fromS, toS) that belong to the window's newest version. */
const NEWEST = newestTopicVersionSql(
  "channel = {channel:String} AND window_start >= toDateTime({fromS:Int64}, 'UTC') AND window_start < toDateTime({toS:Int64}, 'UTC')",
  { stateTable: '{db:Identifier}.topic_window_state' },
);

/**
 * Recomputes topics for the range and writes them. Channels are processed one at a time, so memory
 * holds one channel's messages of the range (about 200 bytes a message plus 1.5 KB per distinct
 * text while embeddings are computed).
 */
export async function refreshTopics(client: ClickHouseClient, o: RefreshTopicsOptions): Promise<RefreshTopicsResult> {
  const windowMs = o.windowMs ?? 300_000;
  // whole windows: a window marked computed from part of its messages would never be redone
  const until = Math.ceil((o.until ?? new Date()).getTime() / windowMs) * windowMs;
  const from = Math.floor((o.since?.getTime() ?? until - 6 * 3600_000) / windowMs) * windowMs;
  const range = { db: o.database, from, to: until };
  const embeds = o.embedder != null && o.embedder.available.embeddings !== null;
  const readFrom = embeds ? from : from - Math.max(0, Math.floor((o.contextMs ?? 0) / windowMs) * windowMs);
  const channelRows = await client.query({
    query: `SELECT DISTINCT channel FROM {db:Identifier}.messages
            WHERE ts >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND ts < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
              AND ({channel:String} = '' OR channel = {channel:String})
            ORDER BY channel`,
    query_params: { ...range, channel: o.channel ?? '' },
    format: 'JSONEachRow',
  });
  const channels = (await channelRows.json<{ channel: string }>()).map((r) => r.channel);
  // A named channel is processed even when the range has no messages left (an opt-out deleted them):
  // its stored topics of the range are then deleted, not kept.
  if (o.channel && !channels.includes(o.channel)) channels.push(o.channel);
  const result: RefreshTopicsResult = { channels, windows: 0, topics: 0, messages: 0, method: null };

  for (const channel of channels) {
    // Taken before the read: every message stored (or deleted) before it is in (or out of) the read.
    const version = await nextVersion(client);
    const computedAt = dateTime(version);
    const rs = await client.query({
      query: `SELECT id, channel, toUnixTimestamp64Milli(ts) AS ts_ms, text, emote_names AS emoteNames FROM {db:Identifier}.messages
              WHERE channel = {channel:String} AND ts >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND ts < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
              ORDER BY ts, id`,
      query_params: { ...range, from: readFrom, channel },
      format: 'JSONEachRow',
    });
    // Aliased ts_ms: an alias named ts would shadow the column in WHERE (ClickHouse resolves aliases there).
    const read: TopicMessage[] = (await rs.json<Omit<TopicMessage, 'ts'> & { ts_ms: number }>()).map(({ ts_ms, ...m }) => ({ ...m, ts: Number(ts_ms) }));
    const computed = await computeTopics(read, { ...o, windowMs });
    // the context windows were computed for contrast only
    const messages = readFrom < from ? read.filter((m) => m.ts >= from) : read;
    if (readFrom < from) computed.topics = computed.topics.filter((t) => t.windowStart >= from);
    result.method = computed.method;
    const scope = { ...range, channel, fromS: Math.floor(from / 1000), toS: Math.ceil(until / 1000) };
    const model = computed.method === 'embeddings' ? (o.embedder?.available.embeddings ?? '') : '';
    if (computed.topics.length > 0) {
      await client.insert({
        table: `${o.database}.topics`,
        format: 'JSONEachRow',
        values: computed.topics.map((t) => ({
          channel: t.channel,
          window_start: dateTimeSeconds(t.windowStart),
          window_seconds: Math.round(windowMs / 1000),
          topic_id: t.topicId,
          label: t.label,
          terms: t.terms,
          weights: t.weights,
          messages: t.messages,
          method: t.method,
          model,
          computed_at: computedAt,
        })),
        clickhouse_settings: { insert_deduplication_token: '' },
      });
    }
    if (messages.length > 0) {
      await client.insert({
        table: `${o.database}.message_topics`,
        format: 'JSONEachRow',
        values: messages.map((m) => ({
          channel: m.channel,
          window_start: dateTimeSeconds(Math.floor(m.ts / windowMs) * windowMs),
          message_id: m.id,
          ts: dateTime(m.ts),
          topic_id: computed.assignments.get(m.id) ?? -1,
          computed_at: computedAt,
        })),
        clickhouse_settings: { insert_deduplication_token: '' },
      });
    }
    // The version of every window of the range the state knows (every window ever stored into has a
    // row, from the view on messages; one an opt-out emptied too), server-side: a range of years
    // (`twichist analytics topics --since`) is not a list of every window in it.
    await client.command({
      query: `INSERT INTO {db:Identifier}.topic_window_state (channel, window_start, changed_at, computed_at)
              SELECT channel, window_start, toDateTime64(0, 3, 'UTC'), fromUnixTimestamp64Milli({version:Int64}, 'UTC')
              FROM {db:Identifier}.topic_window_state
              WHERE channel = {channel:String} AND window_start >= toDateTime({fromS:Int64}, 'UTC') AND window_start < toDateTime({toS:Int64}, 'UTC')
              GROUP BY channel, window_start`,
      query_params: { ...scope, version },
      clickhouse_settings: { insert_deduplication_token: '' },
    });
    // Replace, not append: a recomputed window may have fewer topics than the stored one. Older versions
    // only, by the window's newest version in topic_window_state, so a slower refresh that read before
    // a faster one (or before an opt-out's delete) removes its own rows instead of the newer ones.
    // Counted first: a DELETE is a mutation of the whole table even when it matches nothing, and they
    // piled up: importing 158 lines spread over two years refreshed 39 ranges, each slower than the one
    // before (0.1 s rising to 5 s). Windows computed for the first time (every one of an import into a
    // new period) have nothing to delete. Counting after this refresh's own inserts keeps the rule above:
    // a refresh whose rows are already outdated finds them and deletes them.
    for (const table of ['topics', 'message_topics']) {
      const stale = await client.query({
        query: `SELECT count() AS n FROM {db:Identifier}.{table:Identifier} WHERE channel = {channel:String}
                AND window_start >= toDateTime({fromS:Int64}, 'UTC') AND window_start < toDateTime({toS:Int64}, 'UTC')
                AND NOT ${NEWEST}`,
        query_params: { ...scope, table },
        format: 'JSONEachRow',
      });
      const [{ n }] = await stale.json<{ n: number | string }>();
      if (Number(n) === 0) continue;
      await client.command({
        query: `DELETE FROM {db:Identifier}.{table:Identifier} WHERE channel = {channel:String}
                AND window_start >= toDateTime({fromS:Int64}, 'UTC') AND window_start < toDateTime({toS:Int64}, 'UTC')
                AND NOT ${NEWEST}`,
        query_params: { ...scope, table },
        clickhouse_settings: { lightweight_deletes_sync: o.wait === false ? '0' : '2' },
      });
    }
    result.windows += new Set(messages.map((m) => Math.floor(m.ts / windowMs))).size;
    result.topics += computed.topics.length;
    result.messages += messages.length;
  }
  return result;
}
