/**
 * Message listing shared by `/api/v1/messages`, `/api/v1/users/{login}/messages` and the justlog
 * endpoints: filters, full-text search through the `text_idx` text index, and keyset pagination on
 * (ts, id) so a page boundary never moves while new messages arrive.
 */
import { z } from 'zod';
import type { ClickHouseClient } from '../core/clickhouse.ts';
import { TOPIC_WINDOW_MS } from '../core/config.ts';
import { iso, msParam, rows, type Params } from './db.ts';
import { ApiError } from './errors.ts';
import { isoTime, keysetPage, type Cursor } from './schemas.ts';
import { authoredBy, renamed, type UserIdentity } from './user-identity.ts';
import { newestTopicVersionSql } from '../enrich/topics/refresh.ts';

export const messageSchema = z.object({
  id: z.string(),
  channel: z.string(),
  ts: isoTime,
  login: z.string(),
  display_name: z.string().nullable(),
  user_id: z.string().nullable(),
  text: z.string(),
  action: z.boolean(),
  color: z.string().nullable(),
  bits: z.number().nullable(),
  first_msg: z.boolean(),
  badges: z.record(z.string(), z.string()),
  /** Emote names found in the text (Twitch and third-party), in order. */
  emotes: z.array(z.string()),
  reply_parent_msg_id: z.string().nullable(),
  sentiment: z.number(),
  sentiment_label: z.number(),
  toxicity: z.number(),
  /** Risk (0..1) that the author is timed out or banned within 60 s of this message, as scored when it arrived: higher ranks higher; as a probability it fits no channel exactly (moderators' strictness differs; docs/sentiment.md, "Scale"). */
  mod_risk: z.number(),
  /** Its topic in its 5-minute window (`message_topics`, the newest computation), -1 none. */
  topic_id: z.number(),
  /** A moderator deleted it (CLEARMSG). Bans/timeouts of the author do not count: see docs/api.md. */
  deleted: z.boolean(),
});
export type MessageOut = z.infer<typeof messageSchema>;

export const messagePageSchema = z.object({
  items: z.array(messageSchema),
  /** Pass as `cursor` for the next (older) page; `null` on the last page. */
  next_cursor: z.string().nullable(),
});

export interface MessageFilter {
  channel?: string | null;
  /** The login as stored (`/api/v1/messages?user=`). */
  login?: string | null;
  /** A user under every login of their ids (`/api/v1/users/{login}/messages`, api/user-identity.ts). */
  user?: UserIdentity | null;
  /** Free text; every token must occur (case-insensitive, whole tokens). */
  q?: string | null;
  from?: number | null;
  to?: number | null;
  includeDeleted?: boolean;
  cursor?: Cursor | null;
  limit: number;
}

/** The text index splits on ASCII non-alphanumerics and lowercases; the query must tokenize the same way. */
export function searchTokens(q: string): string[] {
  // ASCII-only lowercasing, as ClickHouse's lower() (the index preprocessor and the row filter): with
  // toLowerCase() a word holding a non-ASCII capital ("PARÇA" -> "parça") never matched lower(text) ("parÇa").
  return [...new Set(q.replace(/[A-Z]+/g, (c) => c.toLowerCase()).split(/[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+/).filter((t) => t.length > 0))];
}

/** Most distinct words a search takes: each is one more index lookup, and every one must occur. */
export const MAX_SEARCH_WORDS = 16;

/**
 * A 400 with the reason when `q` cannot be searched as given (the message listings' check). Words are never
 * dropped: a search finds messages holding every word of `q` or is refused. Word length is bounded by `q`'s
 * 500 characters.
 */
export function assertSearchable(q: string | undefined): void {
  if (q === undefined) return;
  const n = searchTokens(q).length;
  if (n === 0) throw new ApiError(400, 'q has no searchable word (letters or digits)', { q });
  if (n > MAX_SEARCH_WORDS) throw new ApiError(400, `q has ${n} distinct words; at most ${MAX_SEARCH_WORDS} can be searched (every word must occur)`, { q });
}

export interface MessageRow {
  id: string;
  channel: string;
  ts_ms: number;
  login: string;
  display_name: string | null;
  user_id: string | null;
  text: string;
  action: boolean;
  color: string | null;
  bits: number | null;
  first_msg: boolean;
  badges: Record<string, string>;
  emote_names: string[];
  reply_parent_msg_id: string | null;
  sentiment: number;
  sentiment_label: number;
  toxicity: number;
  mod_risk: number;
  deleted: number | boolean;
}

/** `messages` columns of a {@link MessageRow}; its topic comes from {@link withTopics}, not from `messages.topic_id` (deprecated, no longer written). */
export const MESSAGE_COLUMNS = `id, channel, toUnixTimestamp64Milli(ts) AS ts_ms, login, display_name, user_id, text, action, color, bits, first_msg, badges,
  emote_names, reply_parent_msg_id, sentiment, sentiment_label, toxicity, mod_risk`;

export function toMessage({ ts_ms, emote_names, action, first_msg, deleted, ...rest }: MessageRow & { topic_id: number }): MessageOut {
  return { ...rest, ts: iso(Number(ts_ms)), emotes: emote_names, action: Boolean(action), first_msg: Boolean(first_msg), deleted: Boolean(deleted) };
}

/**
 * The messages with their topic ids (-1: none) from `message_topics`, one query for a page: only the
 * page's channels, 5-minute windows and ids are read, so the cost follows the page, not the archive
 * (the primary key is (channel, window_start, message_id)). A re-run window has a row per version
 * until the refresh's delete of the older one is applied (enrich's timer does not wait for it), so
 * each message takes its newest row (argMax by computed_at) and appears once.
 */
/**
 * Only the window's newest computation, as `topic_window_state` records it (the rule the topics endpoint and
 * the Grafana panel use): rows of a refresh killed before it recorded its window, or of an older one whose
 * delete is not applied yet, would otherwise name topics that the topics endpoint does not list.
 */
const PAGE_NEWEST = newestTopicVersionSql("channel IN {channels:Array(String)} AND window_start IN {windows:Array(DateTime('UTC'))}", { perChannel: true });

export async function withTopics<R extends { id: string; channel: string; ts_ms: number }>(client: ClickHouseClient, list: R[]): Promise<Array<R & { topic_id: number }>> {
  if (list.length === 0) return [];
  const windows = new Set<string>();
  for (const m of list) windows.add(new Date(Math.floor(Number(m.ts_ms) / TOPIC_WINDOW_MS) * TOPIC_WINDOW_MS).toISOString().slice(0, 19).replace('T', ' '));
  const found = await rows<{ channel: string; message_id: string; topic_id: number }>(
    client,
    `SELECT channel, message_id, argMax(topic_id, computed_at) AS topic_id FROM message_topics
     WHERE channel IN {channels:Array(String)} AND window_start IN {windows:Array(DateTime('UTC'))} AND message_id IN {ids:Array(String)}
       AND ${PAGE_NEWEST}
     GROUP BY channel, message_id`,
    { channels: [...new Set(list.map((m) => m.channel))], windows: [...windows], ids: [...new Set(list.map((m) => m.id))] },
  );
  const topicOf = new Map(found.map((r) => [`${r.channel}\n${r.message_id}`, Number(r.topic_id)]));
  return list.map((m) => ({ ...m, topic_id: topicOf.get(`${m.channel}\n${m.id}`) ?? -1 }));
}

/** WHERE clauses and params for a filter (without the cursor). */
export function messageWhere(f: MessageFilter): { where: string[]; params: Params; deletedIn: string } {
  const where: string[] = [];
  const params: Params = {};
  const modWhere: string[] = ["action = 'delete'", 'target_msg_id IS NOT NULL'];
  if (f.channel) {
    where.push('channel = {channel:String}');
    modWhere.push('channel = {channel:String}');
    params.channel = f.channel;
  }
  if (f.login) {
    where.push('login = {login:String}');
    modWhere.push('target_login = {login:String}');
    params.login = f.login;
  }
  if (f.user) {
    const by = authoredBy(f.user);
    where.push(by.sql);
    // only narrows the deletions read: the outer `id IN` matches the user's messages alone
    modWhere.push(renamed(f.user) ? 'target_login IN {ulogins:Array(String)}' : 'target_login = {ulogin:String}');
    Object.assign(params, by.params);
  }
  if (f.q) {
    // The index (preprocessor lower(text)) only prunes granules: `indexHint` keeps it out of row
    // filtering, because `hasAllTokens(text, ...)` evaluated on rows is case-sensitive and chdb 26.7
    // evaluates it on rows whenever the direct index read is skipped (e.g. under ORDER BY ... LIMIT
    // top-K filtering: measured 0 hits instead of 10,965). Rows are matched on lower(text) instead:
    // always correct, at the cost of lowercasing the texts of the granules that can match.
    where.push('indexHint(hasAllTokens(text, {tokens:Array(String)})) AND hasAllTokens(lower(text), {tokens:Array(String)})');
    params.tokens = searchTokens(f.q);
  }
  if (f.from != null) {
    where.push(`ts >= ${msParam('from')}`);
    // A deletion comes after its message, so the same lower bound keeps every relevant deletion.
    modWhere.push(`ts >= ${msParam('from')}`);
    params.from = f.from;
  }
  if (f.to != null) {
    where.push(`ts < ${msParam('to')}`);
    params.to = f.to;
  }
  const deletedIn = `id IN (SELECT assumeNotNull(target_msg_id) FROM mod_actions WHERE ${modWhere.join(' AND ')})`;
  if (!f.includeDeleted) where.push(`NOT ${deletedIn}`);
  return { where, params, deletedIn };
}

/** Windows tried newest first when no channel or user narrows the read (see {@link listMessages}). */
const WINDOWS_MS = [3_600_000, 6 * 3_600_000, 86_400_000, 7 * 86_400_000, 30 * 86_400_000];

/**
 * Newest first, one page. With a channel or a user the read follows the sort key (channel, ts) or the
 * `by_login` projection and stops after the page. Across all channels it does not: a common word
 * would make ClickHouse match every granule of the archive to sort them. So such a read walks back
 * in time windows (1 h, 6 h, 1 d, 7 d, 30 d, then the rest), each pruned by the primary key on ts,
 * until the page is full: a page of a common word costs the newest hour; a rare word costs up to six
 * queries, each pruned by the text index.
 */
export async function listMessages(client: ClickHouseClient, f: MessageFilter): Promise<{ items: MessageOut[]; next_cursor: string | null }> {
  const { where, params, deletedIn } = messageWhere(f);
  if (f.cursor) {
    where.push(`(ts, id) < (${msParam('cts')}, {cid:String})`);
    params.cts = f.cursor.ts;
    params.cid = f.cursor.id;
  }
  const select = (extra: string[], limit: number) => {
    const all = [...where, ...extra];
    return rows<MessageRow>(
      client,
      `SELECT ${MESSAGE_COLUMNS}, ${f.includeDeleted ? deletedIn : '0'} AS deleted
       FROM messages ${all.length ? 'WHERE ' + all.join(' AND ') : ''}
       ORDER BY ts DESC, id DESC LIMIT {limit:UInt32}`,
      { ...params, limit },
    );
  };
  if (f.channel || f.login || f.user) return keysetPage(await withTopics(client, await select([], f.limit + 1)), f.limit, toMessage);

  const lowest = f.from ?? 0;
  let hi = Math.min(f.to ?? Number.POSITIVE_INFINITY, f.cursor ? f.cursor.ts + 1 : Number.POSITIVE_INFINITY);
  // Walked from the newest message, also when `to` lies beyond it: from `to=<year 2200>` every window
  // but the last was empty, so a common word sorted the whole archive (1.7 s instead of 0.4 s on 5M rows).
  const [r] = await rows<{ last: number | null }>(client, 'SELECT if(count() = 0, NULL, toUnixTimestamp64Milli(max(ts)) + 1) AS last FROM messages');
  if (!r || r.last === null) return { items: [], next_cursor: null };
  hi = Math.min(hi, Number(r.last));
  const found: MessageRow[] = [];
  for (let i = 0; i <= WINDOWS_MS.length && hi > lowest && found.length <= f.limit; i++) {
    const lo = i < WINDOWS_MS.length ? Math.max(lowest, hi - WINDOWS_MS[i]) : lowest;
    params.wlo = lo;
    params.whi = hi;
    found.push(...(await select([`ts >= ${msParam('wlo')}`, `ts < ${msParam('whi')}`], f.limit + 1 - found.length)));
    hi = lo;
  }
  return keysetPage(await withTopics(client, found), f.limit, toMessage);
}
