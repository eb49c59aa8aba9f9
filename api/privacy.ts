/**
 * Opt-out: delete a user's stored chat and everything aggregated from it, and blank the user where other
 * users' rows name them (replies to them, threads they started, gift subs to them, gifts they passed on:
 * the fields of core/privacy.ts, which enrich blanks in later events too), and the dead letters naming
 * them. Moderation rows against the user keep `target_login` (the moderators' record; a deletion's
 * text goes). The deletes wait OPT_OUT_SETTLE_MS after `opt_outs` is written: enrich stores what it
 * consumed before it re-reads the list, and a delete before that left those messages for good. Whose
 * rows: the login's newest holder (`holderOf`).
 *
 * Deletes are `ALTER TABLE ... DELETE ... SETTINGS mutations_sync = 2` (a lightweight DELETE leaves the
 * `by_login` projection answering counts for deleted rows). A mutation rewrites every part holding a
 * matching row, so on a large archive one opt-out costs a rewrite of the parts (months) the user
 * chatted in; it is rare and correctness wins.
 *
 * Rollups hold per-user state (`uniqExact` chatters and emote users), so the (channel, day) rows the
 * user contributed to are deleted from every rollup and re-inserted from the remaining raw rows with
 * the very SELECTs of the materialized views that feed the 30 s rollups (read from `system.tables`,
 * so this follows enrich's migrations). Inserting into the 30 s tables cascades to 1m/1h/1d through
 * their own views. Whole days are rebuilt: cost ~ the affected channels' messages of those days.
 *
 * Concurrent inserts. Enrich keeps storing other users' chat while this runs. An insert whose view
 * parts land after a rollup DELETE but whose raw row is read by the re-INSERT is counted twice (the
 * DELETE mutation only rewrites parts older than itself); no ordering of DELETE and INSERT closes
 * that window without stopping the writers, and nothing ties a rollup row to the raw rows it came
 * from. So every round is verified and the days that came out wrong are redone:
 * - Per (channel, day) and per rollup table (all four resolutions: the cascade into 1m/1h/1d has its
 *   own window, between its DELETE and the 30 s re-INSERT), the sums are read first
 *   (`messages`, `bans`, `timeouts`, `deletions`, `clears`; emotes `uses`), then the raw counts
 *   (`messages`, `mod_actions`, emote names). ClickHouse writes an insert's block to the raw table
 *   before it pushes it to the views, so a rollup read before the raw read cannot legitimately
 *   exceed it: rollup > raw is a double count, redone at once (were the order ever reversed, a false
 *   alarm would cost one redo, checked again by the next round). Rollup < raw is usually an insert in
 *   flight between the two reads; the rollup is read again SETTLE_MS later and only a deficit that
 *   outlived the wait is redone. `uniqExact` states are unions and a redo rebuilds them whole, so the
 *   sums are all that needs checking.
 * - A redo deletes and rebuilds the flagged days only, with the same window, so it is bounded by
 *   MAX_ROUNDS; what still disagrees after the last round is logged at error level and returned in
 *   `rollup_mismatches` (the API answer says so), never left silently.
 * Cost: two small GROUP BY reads per round over the affected days (rollups are ~3k rows per channel
 * day at 30 s, the raw read scans those days' messages once more), plus SETTLE_MS only when a
 * rollup lagged; a redo costs one more rebuild of the flagged days. Measured on the #xqc capture's
 * day: the check ~30-70 ms next to ~0.4-0.9 s for the whole opt-out (load average 2.5); on the
 * riotgames1 import (43k messages in one day) a whole opt-out takes 1.2-5.4 s (docs/api.md). Limits: a
 * double count of d messages is hidden from the check while >= d other messages of that day are
 * stored between the two reads or sit between their raw and view commits (milliseconds); opt-outs are
 * serialized per process, opt-outs of one day from two API processes at once are only caught by this
 * check.
 *
 * `chatter_counts` (migration 0040) rows of the rebuilt days are deleted at the end: a count is
 * trusted while its `messages` equals the rollup's, and after an opt-out a window whose lost messages
 * were made up by new ones would match again with the opted-out user still counted. The burst views'
 * hour markers of those days (`burst_window_rows`, 0053) are poisoned for the same reason.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import type { ClickHouseClient } from '../core/clickhouse.ts';
import { deadLetterAuthor, escapeRegExp, namesMatcher, NOTICE_PARTIES, OPT_OUT_SETTLE_MS, redactDeadLetter, PARTY_NOTICE_TYPES, SYSTEM_MSG_PARTY, THREAD_PARENT_TAGS, UNMODELLED_PARENT_TAGS } from '../core/privacy.ts';
import { refreshTopics, TOPIC_CONTEXT_MS, windowRanges } from '../enrich/topics/refresh.ts';
import { markTopicWindowsChanged } from '../enrich/topics/job.ts';
import { isMissingTable, rows, type Params } from './db.ts';

export const ROLLUP_TABLES = ['chat_30s', 'chat_1m', 'chat_1h', 'chat_1d', 'emotes_30s', 'emotes_1m', 'emotes_1h', 'emotes_1d'] as const;
/** Refreshable per-chatter analytics tables (0031); they are recomputed from messages on refresh anyway. */
const PER_USER_TABLES = ['chatter_features', 'stream_chatters'] as const;

export const optOutResultSchema = z.object({
  login: z.string(),
  user_ids: z.array(z.string()),
  deleted: z.object({ messages: z.number(), user_notices: z.number(), user_names: z.number() }),
  /** (channel, day) rollup rows rebuilt. */
  rebuilt_days: z.number(),
  rollups: z.array(z.string()),
  per_user_tables: z.array(z.string()),
  /** Delete + rebuild rounds run: 1 when the first rebuild verified exact, 0 without messages. */
  rebuild_rounds: z.number(),
  /** 5-minute topic windows recomputed without the user's messages (their words can be topic terms). */
  topic_windows: z.number(),
  /** Rollup sums still disagreeing with the raw rows after the last round (empty when exact). */
  rollup_mismatches: z.array(
    z.object({ table: z.string(), channel: z.string(), day: z.string(), column: z.string(), rollup: z.number(), raw: z.number() }),
  ),
  /** True when dead letters naming the user may be left (a failure, logged): repeat the opt-out. */
  dead_letters_incomplete: z.boolean(),
});
export type OptOutResult = z.infer<typeof optOutResultSchema>;

const SYNC = { mutations_sync: '2' } as const;
/** Delete + rebuild rounds before a disagreement is reported instead of redone. */
const MAX_ROUNDS = 5;
/** How long a rollup may lag its raw rows (one insert's view pushes) before a deficit counts. */
const SETTLE_MS = 250;

type DayPair = { channel: string; day: string };
export type RollupMismatch = OptOutResult['rollup_mismatches'][number];

export interface OptOutOptions {
  /**
   * How long to wait after writing `opt_outs` before reading and deleting the user's rows, so that what
   * enrich consumed before its next read of the list is stored by then and deleted too. Default
   * OPT_OUT_SETTLE_MS (6 s: enrich's 5 s refresh plus 1 s for a batch in flight); 0 where no enrich
   * runs alongside (tests over a finished fixture).
   */
  settleMs?: number;
  /**
   * Test hook: awaited in every round after the rollup DELETEs and before the re-INSERT, the window in
   * which a concurrently stored message is counted twice. Tests store a message here to prove the
   * verification; production passes nothing.
   */
  onRollupsDeleted?: (round: number, days: readonly DayPair[]) => Promise<void>;
  /** Test hook: bytes of (channel, day) parameters per rollup query (default DAY_PARAM_BYTES). */
  dayParamBytes?: number;
  /** Test hook: the changes held for one round of dead-letter write-back (default DEAD_LETTER_WRITE_BYTES). */
  deadLetterWriteBytes?: number;
}

interface RollupView {
  name: string;
  target: string;
  source: 'messages' | 'mod_actions';
  select: string;
}

/** The views that fill rollups straight from raw tables, with their target and source. */
export async function rollupViews(client: ClickHouseClient): Promise<RollupView[]> {
  const views = await rows<{ name: string; create_table_query: string; as_select: string }>(
    client,
    "SELECT name, create_table_query, as_select FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView'",
  );
  const out: RollupView[] = [];
  for (const v of views) {
    const target = /\bTO\s+(?:`?\w+`?\.)?`?(\w+)`?/.exec(v.create_table_query)?.[1];
    const source = /\bFROM\s+(?:`?\w+`?\.)?`?(messages|mod_actions)`?(?=[\s)]|$)/.exec(v.as_select)?.[1] as RollupView['source'] | undefined;
    if (!target || !source || !(ROLLUP_TABLES as readonly string[]).includes(target)) continue;
    out.push({ name: v.name, target, source, select: v.as_select });
  }
  return out;
}

/** The view's SELECT with its raw source narrowed to the given (channel, day) pairs. */
function restrictSource(v: RollupView, filter: string): string {
  return v.select.replace(/\bFROM\s+(?:`?\w+`?\.)?`?(messages|mod_actions)`?(\s+AS\s+`?\w+`?)?(?=[\s)]|$)/, (_m, table: string, alias?: string) => {
    return `FROM (SELECT * FROM ${table} WHERE ${filter}) ${alias ? alias.trim() : `AS ${table}`}`;
  });
}

async function tryCommand(client: ClickHouseClient, query: string, params: Params, log: FastifyBaseLogger): Promise<boolean> {
  try {
    await client.command({ query, query_params: params, clickhouse_settings: SYNC });
    return true;
  } catch (err) {
    if (isMissingTable(err)) return false;
    // A per-user table without a `login` column, or a view: nothing of ours to delete there.
    if (['47', '48', '16'].includes(String((err as { code?: unknown }).code))) {
      log.warn({ err, query }, 'opt-out: table skipped');
      return false;
    }
    throw err;
  }
}

const PAIRS = 'arrayZip({pc:Array(String)}, {pd:Array(Date)})';
/** A marker `uses` no hour of chat reaches (UInt64 max): the hour never matches chat_1h again until recomputed. */
const POISONED_MARKER = '18446744073709551615';
const CHAT_COLUMNS = ['messages', 'bans', 'timeouts', 'deletions', 'clears'] as const;
const COUNT_COLUMNS = [...CHAT_COLUMNS, 'uses'] as const;
type Counts = Record<(typeof COUNT_COLUMNS)[number], number>;

/** The checked sums a rollup table holds: chat_* the CHAT_COLUMNS, emotes_* `uses`. */
function columnsOf(table: string): ReadonlyArray<keyof Counts> {
  return table.startsWith('chat_') ? CHAT_COLUMNS : ['uses'];
}

/**
 * Bytes of (channel, day) parameters per query. The HTTP interface carries query parameters in the
 * URL (a field at most 128 KB, the URL 1 MiB): a user who chatted on thousands of channel days (about
 * 3,000 pairs with long channel names) made every rollup query of the opt-out fail. Days are rebuilt
 * and verified in batches of this size instead: one set of mutations per batch.
 */
const DAY_PARAM_BYTES = 48_000;

/** The days in batches of at most `bytes` of parameters (at least one day each). */
function dayBatches(days: readonly DayPair[], bytes: number): DayPair[][] {
  const out: DayPair[][] = [];
  let batch: DayPair[] = [];
  let size = 0;
  for (const d of days) {
    // a channel and a day as parameter text: quotes, comma and URL escaping of the day's dashes included
    const n = d.channel.length * 3 + 20;
    if (batch.length > 0 && size + n > bytes) {
      out.push(batch);
      batch = [];
      size = 0;
    }
    batch.push(d);
    size += n;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

function pairParams(days: readonly DayPair[]): Params {
  return { pc: days.map((d) => d.channel), pd: days.map((d) => d.day) };
}

/** Sums per (table, channel, day), one query over every rebuilt rollup table. */
async function rollupSums(client: ClickHouseClient, tables: readonly string[], days: readonly DayPair[]): Promise<Map<string, Counts>> {
  const selects = tables.map((t) => {
    const held = columnsOf(t);
    const sums = COUNT_COLUMNS.map((c) => (held.includes(c) ? `toUInt64(sum(${c})) AS ${c}` : `toUInt64(0) AS ${c}`));
    return `SELECT '${t}' AS t, channel, toString(toDate(window)) AS day, ${sums.join(', ')}
      FROM ${t} WHERE has(${PAIRS}, (channel, toDate(window))) GROUP BY channel, day`;
  });
  const out = new Map<string, Counts>();
  if (selects.length === 0) return out;
  for (const r of await rows<Counts & { t: string; channel: string; day: string }>(client, selects.join(' UNION ALL '), pairParams(days))) {
    out.set(`${r.t}\u0000${r.channel}\u0000${r.day}`, r);
  }
  return out;
}

/** What the rollups should hold per (channel, day), counted from the raw tables. */
async function rawCounts(client: ClickHouseClient, days: readonly DayPair[]): Promise<Map<string, Counts>> {
  const rs = await rows<Counts & { channel: string; day: string }>(
    client,
    `SELECT channel, toString(toDate(ts)) AS day, toUInt64(count()) AS messages, toUInt64(0) AS bans, toUInt64(0) AS timeouts,
       toUInt64(0) AS deletions, toUInt64(0) AS clears, toUInt64(sum(length(emote_names))) AS uses
     FROM messages WHERE has(${PAIRS}, (channel, toDate(ts))) GROUP BY channel, day
     UNION ALL
     SELECT channel, toString(toDate(ts)) AS day, toUInt64(0), toUInt64(countIf(action = 'ban')), toUInt64(countIf(action = 'timeout')),
       toUInt64(countIf(action = 'delete')), toUInt64(countIf(action = 'clear')), toUInt64(0)
     FROM mod_actions WHERE has(${PAIRS}, (channel, toDate(ts))) GROUP BY channel, day`,
    pairParams(days),
  );
  const out = new Map<string, Counts>();
  for (const r of rs) {
    const key = `${r.channel}\u0000${r.day}`;
    const sum = out.get(key) ?? { messages: 0, bans: 0, timeouts: 0, deletions: 0, clears: 0, uses: 0 };
    for (const c of COUNT_COLUMNS) sum[c] += Number(r[c]);
    out.set(key, sum);
  }
  return out;
}

function differences(tables: readonly string[], days: readonly DayPair[], rollup: Map<string, Counts>, raw: Map<string, Counts>): RollupMismatch[] {
  const out: RollupMismatch[] = [];
  for (const table of tables) {
    const columns = columnsOf(table);
    for (const { channel, day } of days) {
      const r = rollup.get(`${table}\u0000${channel}\u0000${day}`);
      const w = raw.get(`${channel}\u0000${day}`);
      for (const column of columns) {
        const got = Number(r?.[column] ?? 0);
        const want = Number(w?.[column] ?? 0);
        if (got !== want) out.push({ table, channel, day, column, rollup: got, raw: want });
      }
    }
  }
  return out;
}

function daysOf(ms: readonly RollupMismatch[]): DayPair[] {
  const seen = new Map<string, DayPair>();
  for (const m of ms) seen.set(`${m.channel}\u0000${m.day}`, { channel: m.channel, day: m.day });
  return [...seen.values()];
}

/**
 * The rollup sums that are wrong for good: above raw (read before raw, so a double count), or below
 * raw still after SETTLE_MS (a lost row, not an insert in flight).
 */
async function verifyRollups(client: ClickHouseClient, tables: readonly string[], days: readonly DayPair[]): Promise<RollupMismatch[]> {
  if (days.length === 0) return [];
  const rollup = await rollupSums(client, tables, days);
  const raw = await rawCounts(client, days);
  const first = differences(tables, days, rollup, raw);
  const over = first.filter((d) => d.rollup > d.raw);
  const lagging = first.filter((d) => d.rollup < d.raw);
  if (lagging.length === 0) return over;
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const again = daysOf(lagging);
  const under = differences(tables, again, await rollupSums(client, tables, again), raw).filter((d) => d.rollup < d.raw);
  return [...over, ...under];
}

/** Deletes the days from every rollup table and re-inserts them from the raw rows; returns the tables that exist. */
async function rebuildDays(client: ClickHouseClient, tables: readonly string[], views: RollupView[], days: readonly DayPair[], round: number, opts: OptOutOptions, log: FastifyBaseLogger): Promise<string[]> {
  const params = pairParams(days);
  const present: string[] = [];
  for (const table of tables) {
    if (await tryCommand(client, `ALTER TABLE ${table} DELETE WHERE has(${PAIRS}, (channel, toDate(window)))`, params, log)) present.push(table);
  }
  await opts.onRollupsDeleted?.(round, days);
  for (const v of views) {
    const select = restrictSource(v, `has(${PAIRS}, (channel, toDate(ts)))`);
    await client.command({ query: `INSERT INTO ${v.target} ${select}`, query_params: params, clickhouse_settings: { insert_deduplication_token: '' } });
  }
  return present;
}

/**
 * Two opt-outs of the same day in one process would each delete and rebuild it, and the second
 * rebuild would add to the first: one at a time (they are rare; cost: a queue).
 */
let queue: Promise<unknown> = Promise.resolve();

export function optOut(client: ClickHouseClient, login: string, log: FastifyBaseLogger, opts: OptOutOptions = {}): Promise<OptOutResult> {
  const run = queue.then(() => optOutNow(client, login, log, opts));
  queue = run.catch(() => undefined);
  return run;
}

/**
 * Whose rows an opt-out of a login takes. Twitch gives a login up on a rename and lets someone else
 * take it, so the ids seen under a login can be several people's: the opt-out is the newest holder's
 * (the id that used the login last, in `user_names` or `messages`), with that id's other logins
 * (renamed-user support as in api/user-identity.ts). `others` are the earlier holders' ids: a row under
 * the login that carries one of them is theirs and stays. A row under the login without an id (imports)
 * or with an id never seen chatting under it (a gift's recipient) cannot be told apart and counts as the
 * holder's, as before. '' is not an id (user_names rows of id-less messages before migration 0044).
 * The id an earlier opt-out of the login recorded counts as seen then: an opt-out repeated after the
 * user's rows are gone (a message stored late) keeps the id, and
 * with it the rows under the user's other logins.
 */
async function holderOf(client: ClickHouseClient, login: string): Promise<{ ids: string[]; others: string[] }> {
  // The alias is not `user_id`: in ClickHouse a SELECT alias shadows the column in WHERE, so
  // `assumeNotNull(user_id) AS user_id ... WHERE user_id IS NOT NULL` kept the NULLs (as '').
  const seen = await rows<{ uid: string }>(
    client,
    `SELECT uid FROM (
       SELECT user_id AS uid, max(last_seen) AS last FROM user_names WHERE login = {login:String} AND user_id != '' GROUP BY uid
       UNION ALL
       SELECT assumeNotNull(user_id) AS uid, max(ts) AS last FROM messages WHERE login = {login:String} AND user_id IS NOT NULL AND user_id != '' GROUP BY uid
       UNION ALL
       SELECT assumeNotNull(user_id) AS uid, updated_at AS last FROM opt_outs FINAL WHERE login = {login:String} AND user_id IS NOT NULL AND user_id != '')
     GROUP BY uid ORDER BY max(last) DESC, uid`,
    { login },
  );
  return { ids: seen.slice(0, 1).map((r) => r.uid), others: seen.slice(1).map((r) => r.uid).sort() };
}

/**
 * A row naming the opted-out user by `idExpr` (one of `{ids}`) or by `loginExpr` (the asked login) when
 * its id is not an earlier holder's (`{others}`, see {@link holderOf}). Nullable columns give NULL (false).
 */
function ofUser(loginExpr: string, idExpr: string): string {
  return `(${idExpr} IN {ids:Array(String)} OR (${loginExpr} = {login:String} AND NOT has({others:Array(String)}, ifNull(${idExpr}, ''))))`;
}

async function optOutNow(client: ClickHouseClient, login: string, log: FastifyBaseLogger, opts: OptOutOptions): Promise<OptOutResult> {
  const { ids: userIds, others } = await holderOf(client, login);
  // First, so ingest and enrich stop storing the user while the deletes run.
  await client.insert({ table: 'opt_outs', values: [{ login, user_id: userIds[0] ?? null, active: true, updated_at: Date.now() }], format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: '' } });
  // Enrich re-reads the list every OPT_OUT_REFRESH_MS and stores what it consumed before: deleting
  // at once left such messages stored for good. Cost: the opt-out answers settleMs later.
  const settleMs = opts.settleMs ?? OPT_OUT_SETTLE_MS;
  if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));

  const params: Params = { login, ids: userIds, others };
  const byUser = `(${ofUser('login', 'user_id')})`;
  // Every login and display name of the user (renamed users chatted under other logins, deleted by
  // id below), read before their rows go: per-user tables and dead letters hold those names too.
  const names = await rows<{ login: string; display_name: string }>(
    client,
    `SELECT DISTINCT login, display_name FROM user_names WHERE ${byUser}
     UNION DISTINCT
     SELECT DISTINCT login, coalesce(display_name, login) AS display_name FROM messages WHERE ${byUser}`,
    params,
  );
  const logins = [...new Set([login, ...names.map((r) => r.login)])].sort();
  const spellings = [...new Set([...logins, ...names.map((r) => r.display_name.toLowerCase())])].sort();
  // The holder's earlier logins that another id has used (Twitch gave them out again after a rename):
  // per-user tables have no id, so the rows under such a login may be the other user's and stay; the
  // next refresh rebuilds them from the messages left.
  const reused = new Set(
    (
      await rows<{ login: string }>(
        client,
        `SELECT DISTINCT login FROM user_names WHERE login IN {logins:Array(String)} AND login != {login:String} AND user_id != '' AND user_id NOT IN {ids:Array(String)}
         UNION DISTINCT
         SELECT DISTINCT login FROM messages WHERE login IN {logins:Array(String)} AND login != {login:String} AND ifNull(user_id, '') != '' AND assumeNotNull(user_id) NOT IN {ids:Array(String)}`,
        { login, logins, ids: userIds },
      )
    ).map((r) => r.login),
  );
  const days = await rows<DayPair>(client, `SELECT DISTINCT channel, toString(toDate(ts)) AS day FROM messages WHERE ${byUser} ORDER BY channel, day`, params);
  const [m] = await rows<{ n: number }>(client, `SELECT count() AS n FROM messages WHERE ${byUser}`, params);
  const [n] = await rows<{ n: number }>(client, `SELECT count() AS n FROM user_notices WHERE ${byUser}`, params);
  const [u] = await rows<{ n: number }>(client, `SELECT count() AS n FROM user_names WHERE ${byUser}`, params);
  const topicWindows = await rows<{ channel: string; w: number }>(client, `SELECT channel, toUInt32(toStartOfInterval(ts, INTERVAL 5 MINUTE)) AS w FROM messages WHERE ${byUser} GROUP BY channel, w ORDER BY channel, w`, params);

  // CLEARMSG repeats the deleted message's text: keep the action (moderation counts), drop the words. Also
  // by message id, before the messages go: a CLEARMSG names the login the message was sent under, so the
  // deletions of a renamed user's messages under an earlier login (deleted above by user id) kept their text.
  await client.command({
    query: `ALTER TABLE mod_actions UPDATE text = NULL WHERE action = 'delete' AND text IS NOT NULL
            AND ((target_login = {login:String} AND target_msg_id NOT IN (SELECT id FROM messages WHERE login = {login:String} AND has({others:Array(String)}, ifNull(user_id, ''))))
                 OR target_msg_id IN (SELECT id FROM messages WHERE ${byUser}))`,
    query_params: params,
    clickhouse_settings: SYNC,
  });
  await client.command({ query: `ALTER TABLE messages DELETE WHERE ${byUser}`, query_params: params, clickhouse_settings: SYNC });
  // A reply repeats its parent message and names its author (reply-parent-*, served in the justlog
  // endpoints' raw lines and tags): keep the other users' replies, drop the user's words, login, display
  // name and id, and those of a thread the user started (`reply_thread_parent_login`, Twitch's unmodelled
  // `reply-thread-parent-*` tags); core/privacy.ts. Cost: one more mutation of messages, rewriting those
  // columns of the parts holding replies to the user (measured like the text-only one it replaces:
  // 394-726 ms vs 156-1,084 ms with no match, riotgames1 + #xqc, load 6).
  const parent = `ifNull(${ofUser('reply_parent_login', 'reply_parent_user_id')}, 0)`;
  const thread = `(ifNull(${ofUser('reply_thread_parent_login', "tags['reply-thread-parent-user-id']")}, 0) OR ${ofUser("tags['reply-thread-parent-user-login']", "tags['reply-thread-parent-user-id']")})`;
  // a reply whose parent id was empty keeps Twitch's reply-parent-* tags as they came (irc-parser.ts)
  const loose = `(${ofUser("tags['reply-parent-user-login']", "tags['reply-parent-user-id']")})`;
  await client.command({
    query: `ALTER TABLE messages UPDATE reply_parent_text = if(${parent}, NULL, reply_parent_text), reply_parent_login = if(${parent}, NULL, reply_parent_login),
              reply_parent_display_name = if(${parent}, NULL, reply_parent_display_name), reply_parent_user_id = if(${parent}, NULL, reply_parent_user_id),
              reply_thread_parent_login = if(${thread}, NULL, reply_thread_parent_login),
              tags = mapFilter((k, v) -> NOT ((${thread} AND has({threadTags:Array(String)}, k)) OR (${loose} AND has({looseTags:Array(String)}, k))), tags)
            WHERE ${parent} OR ${thread} OR ${loose}`,
    query_params: { ...params, threadTags: [...THREAD_PARENT_TAGS], looseTags: [...UNMODELLED_PARENT_TAGS] },
    clickhouse_settings: SYNC,
  });
  await client.command({ query: `ALTER TABLE user_notices DELETE WHERE ${byUser}`, query_params: params, clickhouse_settings: SYNC });
  const who: Holder = { login, logins, ids: userIds, others, reused: [...reused] };
  await blankNoticeParties(client, who, spellings);
  await client.command({ query: `ALTER TABLE user_names DELETE WHERE ${byUser}`, query_params: params, clickhouse_settings: SYNC });
  const deadLettersDone = await clearDeadLetters(client, who, spellings, log, opts.deadLetterWriteBytes ?? DEAD_LETTER_WRITE_BYTES);

  let rebuilt: string[] = [];
  let rounds = 0;
  let mismatches: RollupMismatch[] = [];
  if (days.length > 0) {
    const views = await rollupViews(client);
    let tables: readonly string[] = ROLLUP_TABLES;
    for (const batch of dayBatches(days, opts.dayParamBytes ?? DAY_PARAM_BYTES)) {
      let pending: DayPair[] = batch;
      let round = 0;
      let left: RollupMismatch[] = [];
      for (;;) {
        const present = await rebuildDays(client, tables, views, pending, round, opts, log);
        if (rounds === 0 && round === 0) rebuilt = present;
        tables = rebuilt;
        round++;
        left = await verifyRollups(client, rebuilt, pending);
        if (left.length === 0 || round >= MAX_ROUNDS) break;
        pending = daysOf(left);
        log.warn({ login, round, mismatches: left }, 'opt-out: rollups disagree with the raw rows (a concurrent insert), redoing those days');
      }
      rounds = Math.max(rounds, round);
      mismatches.push(...left);
      await tryCommand(client, `ALTER TABLE chatter_counts DELETE WHERE has(${PAIRS}, (channel, toDate(window)))`, pairParams(batch), log);
      // Same reason for the burst views' (channel, hour) markers (0053): an impossible emote count makes
      // those hours stale, so the next refresh rescores them and re-picks sample messages without the user.
      await tryCommand(client, `ALTER TABLE burst_window_rows UPDATE uses = ${POISONED_MARKER} WHERE kind = '' AND has(${PAIRS}, (channel, toDate(window)))`, pairParams(batch), log);
    }
    if (mismatches.length > 0) log.error({ login, rounds, mismatches }, 'opt-out: rollups still disagree with the raw rows; reported in rollup_mismatches');
  }
  const perUser: string[] = [];
  // by every login of the user: rows of a renamed user's earlier logins stayed until the next refresh
  const ownLogins = logins.filter((l) => !reused.has(l));
  for (const table of PER_USER_TABLES) if (await tryCommand(client, `ALTER TABLE ${table} DELETE WHERE login IN {logins:Array(String)}`, { logins: ownLogins }, log)) perUser.push(table);
  await recomputeTopics(client, topicWindows, log);
  log.info({ login, messages: m?.n ?? 0, days: days.length, rounds }, 'opt-out applied');
  return {
    login,
    user_ids: userIds,
    deleted: { messages: m?.n ?? 0, user_notices: n?.n ?? 0, user_names: u?.n ?? 0 },
    rebuilt_days: days.length,
    rollups: rebuilt,
    per_user_tables: perUser,
    rebuild_rounds: rounds,
    topic_windows: topicWindows.length,
    rollup_mismatches: mismatches,
    dead_letters_incomplete: !deadLettersDone,
  };
}

/**
 * Who an opt-out takes (holderOf): the asked login, the holder's ids, every login of the holder
 * (`logins`, the asked one included) and the earlier holders' ids of the asked login (`others`).
 */
interface Holder {
  login: string;
  logins: string[];
  ids: string[];
  others: string[];
  /** The holder's earlier logins another id has held since: an id-less row under one is not known to be the holder's. */
  reused: string[];
}

/**
 * Whether a row or payload naming `login` (lowercase) and `id` ('' when it carries none) is the
 * holder's. By id where it has one; by the asked login unless the id is an earlier holder's (an id
 * never seen under the login counts as the holder's, holderOf); by the holder's other logins only
 * without an id and only where no other id has held that login since (`reused`): Twitch gives a login
 * up on a rename, so a later holder of an earlier login of the user (a different id) is someone else,
 * whose rows stay, id-less ones (imports) included.
 */
function isHolders(who: Holder, login: string, id: string): boolean {
  if (id !== '' && who.ids.includes(id)) return true;
  if (login === who.login) return !who.others.includes(id);
  // an id-less row under an earlier login someone else holds now is as likely theirs (their import): it stays
  return id === '' && who.logins.includes(login) && !who.reused.includes(login);
}

/** Dead letters read into memory at once by the opt-out's redaction: rows, and payload bytes (one row may exceed it). */
const DEAD_LETTER_PAGE_ROWS = 5000;
const DEAD_LETTER_PAGE_BYTES = 4 << 20;
/**
 * Redacted payloads held (here, then in the write-back's Join table) for one round of write-back
 * mutations. A mutation rewrites every part it touches: one per 256 KB (an earlier version) took
 * 15-34 s for 40,000 parked events against 0.6-2.2 s for the SQL-only redaction.
 */
const DEAD_LETTER_WRITE_BYTES = 16 << 20;

type DeadLetterKey = { stage: string; at: string; id: string };
/** A dead letter to change: deleted (the user's own) or given a redacted payload; `h` guards the payload read. */
type DeadLetterChange = { id: string; h: string; out: string | null };

/**
 * Dead letters are parked events and rejected lines, kept for an operator to inspect or re-send: the
 * user's own (core/privacy.ts `deadLetterAuthor`, matched by {@link isHolders}) are deleted like their
 * chat; in every other payload each of the user's logins, display names and ids, as a whole word
 * (case folded), becomes `[opted-out]` in free-text and people fields (not enums, badges, the IRC
 * command: a login such as "live" is spelt like `source: live`), except the payload author's own names,
 * and the row stays (core/privacy.ts `redactDeadLetter`).
 * Deleting every payload that named the user would also have deleted other users' parked events that
 * merely use the same word (a login such as "lol").
 *
 * Both run here, not as SQL mutations: the redaction must spare the channel's fields (a streamer's
 * login and id are their channel's name and room id: JSON `channel`/`channel_id`, IRC `room-id`),
 * which takes look-behind and knowing JSON keys, and RE2 has neither (the SQL version turned a parked
 * event's `"channel":"<login>"` into `[opted-out]`, so it could no longer be re-sent); whose a payload
 * is needs its top-level fields even when the JSON is broken (JSONExtract gives '' there).
 * Candidates are found in SQL (the names as words, loosely: a name after a JSON or IRC escape counts)
 * and read a page at a time by the table's key (at most DEAD_LETTER_PAGE_ROWS rows and about
 * DEAD_LETTER_PAGE_BYTES of payload in memory); the changes are written back by id, with a guard on
 * the payload read (its MD5), so a row another process rewrote meanwhile is read and done again
 * instead of overwritten. Costs: for a streamer every parked event of their channel is a candidate and
 * is read once; up to DEAD_LETTER_WRITE_BYTES of changes (redacted payloads; id and hash of a deletion,
 * which counted 0 in an earlier version, so deletions alone were never split) are held for one mutation. A
 * text-log line of the user's (Chatty, justlog) is not recognised as theirs and keeps its words under
 * `[opted-out]`; a number spelt like the user's id in text is rewritten too.
 */
async function clearDeadLetters(client: ClickHouseClient, who: Holder, spellings: string[], log: FastifyBaseLogger, writeBytes: number): Promise<boolean> {
  try {
    return await clearDeadLettersNow(client, who, spellings, log, writeBytes);
  } catch (err) {
    // the user's chat is gone already; the rollups, per-user rows and topics still hold them: go on
    log.error({ err, login: who.login }, 'opt-out: dead letters not cleared (dead_letters_incomplete); repeat the opt-out');
    return false;
  }
}

async function clearDeadLettersNow(client: ClickHouseClient, who: Holder, spellings: string[], log: FastifyBaseLogger, writeBytes: number): Promise<boolean> {
  const words = [...new Set([...spellings, ...who.ids])].filter((w) => w.length > 0);
  const re = namesMatcher(words);
  if (re === null) return true;
  // Another author's own names stay in their payload (C, holding the user's earlier login "carl":
  // "Carl subscribed"): one matcher per set of names left out, few in practice.
  const matchers = new Map<string, RegExp | null>();
  const decide = (payload: string): string | null => {
    const author = deadLetterAuthor(payload);
    if (author.login !== null || author.userId !== null) {
      if (isHolders(who, author.login ?? '', author.userId ?? '')) return null;
    }
    const own = new Set([author.login, author.displayName?.toLowerCase(), author.userId].filter((w) => w != null));
    const left = words.filter((w) => !own.has(w.toLowerCase()));
    if (left.length === words.length) return redactDeadLetter(payload, re);
    const key = left.join('\n');
    if (!matchers.has(key)) matchers.set(key, namesMatcher(left));
    const mine = matchers.get(key)!;
    return mine === null ? payload : redactDeadLetter(payload, mine);
  };
  const escaped = words.map(escapeRegExp);
  // Looser than the JS matcher (a superset of its matches): a name may follow an escape (`\n`, IRC's `\s`, `\u0020`).
  const candidate = { nameRe: `(?i)(?:^|[^\\p{L}\\p{N}_]|\\\\[a-zA-Z]|\\\\u[0-9a-fA-F]{4})(?:${escaped.join('|')})(?:$|[^\\p{L}\\p{N}_])` };
  let pending: DeadLetterChange[] = [];
  let pendingBytes = 0;
  let complete = true;
  let after: DeadLetterKey = { stage: '', at: '1970-01-01 00:00:00.000', id: '' };
  for (;;) {
    const keyParams = { ...candidate, s: after.stage, t: after.at, i: after.id };
    let keys: Array<DeadLetterKey & { bytes: number }>;
    try {
      keys = await rows<DeadLetterKey & { bytes: number }>(
        client,
        `SELECT stage, toString(ts) AS at, id, length(payload) AS bytes FROM dead_letters
         WHERE (stage, ts, id) > ({s:String}, {t:DateTime64(3, 'UTC')}, {i:String}) AND match(payload, {nameRe:String})
         ORDER BY stage, ts, id LIMIT ${DEAD_LETTER_PAGE_ROWS}`,
        keyParams,
      );
    } catch (err) {
      if (isMissingTable(err)) return true;
      throw err;
    }
    if (keys.length === 0) break;
    let n = 0;
    let bytes = 0;
    while (n < keys.length && (n === 0 || bytes + Number(keys[n].bytes) <= DEAD_LETTER_PAGE_BYTES)) bytes += Number(keys[n++].bytes);
    const last = keys[n - 1];
    const page = await rows<{ id: string; payload: string; h: string }>(
      client,
      `SELECT id, payload, hex(MD5(payload)) AS h FROM dead_letters
       WHERE (stage, ts, id) > ({s:String}, {t:DateTime64(3, 'UTC')}, {i:String}) AND (stage, ts, id) <= ({ls:String}, {lt:DateTime64(3, 'UTC')}, {li:String})
         AND match(payload, {nameRe:String})
       ORDER BY stage, ts, id`,
      { ...keyParams, ls: last.stage, lt: last.at, li: last.id },
    );
    for (const r of page) {
      const out = decide(r.payload);
      if (out === r.payload) continue;
      pending.push({ id: r.id, h: r.h, out });
      // a deletion holds its key (id and hash) in the Join table
      pendingBytes += (out?.length ?? 0) + r.id.length + r.h.length;
    }
    if (pendingBytes >= writeBytes) {
      if (!(await writeDeadLetters(client, pending, decide, log))) complete = false;
      pending = [];
      pendingBytes = 0;
    }
    if (keys.length < DEAD_LETTER_PAGE_ROWS && n === keys.length) break;
    after = { stage: last.stage, at: last.at, id: last.id };
  }
  return (await writeDeadLetters(client, pending, decide, log)) && complete;
}

/** The guard of a payload: ClickHouse's `hex(MD5(payload))` of the same bytes. */
const payloadHash = (payload: string) => createHash('md5').update(payload, 'utf8').digest('hex').toUpperCase();

/**
 * Deletes and rewrites the given dead letters by id, where the payload is still the one read (hash
 * `h`); rows changed meanwhile (another process's opt-out) are read again and redone, a few times.
 * The changes go into a `Join` table keyed by id and hash, read by one DELETE and one UPDATE mutation
 * per round: a `transform` over 40,000 payloads passed as parameters took 3.1 s for the same update
 * against 0.65 s. The tables are dropped afterwards (a mutation left reading them is killed first); a
 * crash in between leaves them behind (`opt_out_dead_letters_*`, in memory only, safe to drop once no
 * mutation of `dead_letters` names them). Returns false when changes are left (logged).
 */
async function writeDeadLetters(client: ClickHouseClient, changes: DeadLetterChange[], decide: (payload: string) => string | null, log: FastifyBaseLogger): Promise<boolean> {
  if (changes.length === 0) return true;
  const [{ db }] = await rows<{ db: string }>(client, 'SELECT currentDatabase() AS db');
  const table = `opt_out_dead_letters_${randomBytes(8).toString('hex')}`;
  // the state each id should be in afterwards (nh: the new payload's hash, '' for a deletion), read by
  // the check below from a table: as query parameters (an earlier version) the ids of a streamer's
  // channel (3,400 and more) overflowed the HTTP server's URL limits and the opt-out stopped there
  const expected = `${table}_expected`;
  const jt = `${db}.${table}`;
  const key = "concat(id, '/', hex(MD5(payload)))";
  const settings = { ...SYNC, allow_nondeterministic_mutations: 1 as const };
  let todo = changes;
  let altering = false;
  try {
    for (let attempt = 0; attempt < 5 && todo.length > 0; attempt++) {
      // one change per id: a second row under the same id is read again below
      const byId = new Map<string, DeadLetterChange>();
      for (const c of todo) if (!byId.has(c.id) || c.out === null) byId.set(c.id, c);
      const all = [...byId.values()];
      await client.command({ query: `CREATE TABLE ${table} (k String, payload String, del UInt8) ENGINE = Join(ANY, LEFT, k) SETTINGS persistent = 0` });
      await client.command({ query: `CREATE TABLE ${expected} (id String, nh String) ENGINE = Memory` });
      await client.insert({ table, values: all.map((c) => ({ k: `${c.id}/${c.h}`, payload: c.out ?? '', del: c.out === null ? 1 : 0 })), format: 'JSONEachRow' });
      await client.insert({ table: expected, values: all.map((c) => ({ id: c.id, nh: c.out === null ? '' : payloadHash(c.out) })), format: 'JSONEachRow' });
      altering = true;
      if (all.some((c) => c.out === null)) {
        await client.command({ query: `ALTER TABLE dead_letters DELETE WHERE ${key} IN (SELECT k FROM ${table} WHERE del = 1)`, clickhouse_settings: settings });
      }
      if (all.some((c) => c.out !== null)) {
        await client.command({
          query: `ALTER TABLE dead_letters UPDATE payload = joinGet({jt:String}, 'payload', ${key}) WHERE ${key} IN (SELECT k FROM ${table} WHERE del = 0)`,
          query_params: { jt },
          clickhouse_settings: settings,
        });
      }
      altering = false;
      // rows under those ids not in the state written (a guard failed, or a second row of an id)
      const again = await rows<{ id: string; payload: string; h: string }>(
        client,
        `SELECT id, payload, hex(MD5(payload)) AS h FROM dead_letters
         WHERE id IN (SELECT id FROM ${expected}) AND (id, hex(MD5(payload))) NOT IN (SELECT id, nh FROM ${expected} WHERE nh != '')`,
      );
      await client.command({ query: `DROP TABLE ${table}` });
      await client.command({ query: `DROP TABLE ${expected}` });
      todo = again.flatMap((r) => {
        const out = decide(r.payload);
        return out === r.payload ? [] : [{ id: r.id, h: r.h, out }];
      });
    }
  } finally {
    if (altering) {
      // An ALTER that returned before its mutation ran (a timeout, an error, a KILL of the query) left
      // a mutation reading the Join table: dropped under it, the mutation fails for good and every
      // later mutation of dead_letters waiting for it (mutations_sync) fails until someone kills it.
      try {
        await client.command({
          query: "KILL MUTATION WHERE database = {db:String} AND table = 'dead_letters' AND position(command, {t:String}) > 0 SYNC",
          query_params: { db, t: table },
        });
      } catch (err) {
        log.error({ err, table }, `opt-out: could not kill the dead-letter mutation reading ${table}; KILL MUTATION it before dropping the table`);
      }
    }
    await client.command({ query: `DROP TABLE IF EXISTS ${table}` });
    await client.command({ query: `DROP TABLE IF EXISTS ${expected}` });
  }
  if (todo.length > 0) log.error({ ids: todo.map((r) => r.id) }, 'opt-out: dead letters kept changing under the redaction; repeat the opt-out');
  return todo.length === 0;
}

/**
 * Other users' notices naming the user as a party (a gift sub's recipient, the gifter a continued gift
 * came from, a prior gifter): the party's `msg-param-*` keys and `system_msg` (which spells the names
 * out) are blanked, the notice stays (core/privacy.ts, the same rules enrich applies to later ones).
 * Whose a party is: {@link isHolders} on its id and login; for imported text logs (no party params) by
 * the name after " to "/" from " in the sentence, compared with the user's logins and display names
 * (lowercased).
 */
async function blankNoticeParties(client: ClickHouseClient, who: Holder, spellings: string[]): Promise<void> {
  const { login, ids, others } = who;
  const logins = who.logins.filter((l) => !who.reused.includes(l));
  const params: Params = { login, logins, ids, others, spellings, partyTypes: [...PARTY_NOTICE_TYPES], partyRe: SYSTEM_MSG_PARTY };
  const named = NOTICE_PARTIES.map((p, i) => {
    params[`pid${i}`] = [...p.ids];
    params[`plogin${i}`] = [...p.logins];
    params[`pdrop${i}`] = [...p.drop];
    // isHolders: by id; by the asked login unless the party's id is an earlier holder's; by the other logins only without an id
    const pids = `arrayFilter(v -> v != '', arrayMap(x -> params[x], {pid${i}:Array(String)}))`;
    const plogins = `arrayMap(x -> lower(params[x]), {plogin${i}:Array(String)})`;
    return `(hasAny(${pids}, {ids:Array(String)})
      OR (has(${plogins}, {login:String}) AND NOT hasAny(${pids}, {others:Array(String)}))
      OR (hasAny(${plogins}, {logins:Array(String)}) AND empty(${pids})))`;
  });
  // the sentence only where the params do not say who the party is (imported text logs): a gift to the
  // later holder of an earlier login of the user names them by that login
  params.partyKeys = [...new Set(NOTICE_PARTIES.flatMap((p) => [...p.ids, ...p.logins]))];
  const inSentence = `(notice_type IN {partyTypes:Array(String)} AND NOT arrayExists(k -> params[k] != '', {partyKeys:Array(String)})
    AND hasAny(arrayMap(w -> lower(w), extractAll(ifNull(system_msg, ''), {partyRe:String})), {spellings:Array(String)}))`;
  const drop = named.map((n, i) => `(${n} AND has({pdrop${i}:Array(String)}, k))`).join(' OR ');
  await client.command({
    query: `ALTER TABLE user_notices UPDATE params = mapFilter((k, v) -> NOT (${drop}), params), system_msg = NULL
            WHERE ${named.join(' OR ')} OR ${inSentence}`,
    query_params: params,
    clickhouse_settings: SYNC,
  });
}

/**
 * Topic labels and terms are words of the window's messages, so the windows the user wrote in are
 * recomputed from what remains (and their `message_topics` rows go with them: the recompute's version
 * has no row for a deleted message, and older versions are deleted). Windows less than an hour apart are
 * done as one range of at most 6 hours (`windowRanges`: one read and one set of deletes per range,
 * bounded memory). With keywords: the
 * API process loads no models, so a window that had embedding topics gets keyword topics until enrich
 * recomputes it. The windows are first marked changed in `topic_window_state`: an enrich refresh that
 * read them before the delete writes an older version than this one (removed, not kept), and if this
 * recompute fails, the enrich stage's next run does it. A failure is logged, not fatal: the messages
 * are gone already.
 */
async function recomputeTopics(client: ClickHouseClient, windows: Array<{ channel: string; w: number }>, log: FastifyBaseLogger): Promise<void> {
  if (windows.length === 0) return;
  const [{ db }] = await rows<{ db: string }>(client, 'SELECT currentDatabase() AS db');
  const byChannel = new Map<string, number[]>();
  for (const { channel, w } of windows) {
    let starts = byChannel.get(channel);
    if (starts === undefined) byChannel.set(channel, (starts = []));
    starts.push(w * 1000);
  }
  const ranges = [...byChannel].flatMap(([channel, starts]) => windowRanges(starts).map((r) => ({ channel, ...r })));
  try {
    await markTopicWindowsChanged(client, db, windows.map(({ channel, w }) => ({ channel, windowStart: w * 1000 })));
  } catch (err) {
    log.error({ err }, 'opt-out: could not mark the topic windows changed; recomputing them here only');
  }
  for (const r of ranges) {
    try {
      await refreshTopics(client, { database: db, channel: r.channel, since: new Date(r.from), until: new Date(r.to), contextMs: TOPIC_CONTEXT_MS });
    } catch (err) {
      if (isMissingTable(err)) return;
      log.error({ err, channel: r.channel, from: new Date(r.from).toISOString() }, 'opt-out: topics of these windows still hold the user\'s words; recompute with twichist analytics topics');
    }
  }
}
