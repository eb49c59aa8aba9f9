/**
 * Opt-out: delete a user's stored chat and everything aggregated from it.
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
 * A message stored between the delete and the re-insert of a day could be counted twice in that
 * day's rollup (a window of a few hundred ms per day rebuilt).
 */
import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import type { ClickHouseClient } from '../core/clickhouse.ts';
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
});
export type OptOutResult = z.infer<typeof optOutResultSchema>;

const SYNC = { mutations_sync: '2' } as const;

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

export async function optOut(client: ClickHouseClient, login: string, log: FastifyBaseLogger): Promise<OptOutResult> {
  const ids = (await rows<{ user_id: string }>(client, 'SELECT DISTINCT user_id FROM user_names WHERE login = {login:String}', { login })).map((r) => r.user_id);
  const idsFromMessages = await rows<{ user_id: string }>(client, 'SELECT DISTINCT assumeNotNull(user_id) AS user_id FROM messages WHERE login = {login:String} AND user_id IS NOT NULL', { login });
  const userIds = [...new Set([...ids, ...idsFromMessages.map((r) => r.user_id)])].sort();
  // First, so ingest and enrich stop storing the user while the deletes run.
  await client.insert({ table: 'opt_outs', values: [{ login, user_id: userIds[0] ?? null, active: true, updated_at: Date.now() }], format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: '' } });

  const params: Params = { login, ids: userIds };
  const byUser = '(login = {login:String} OR user_id IN {ids:Array(String)})';
  const days = await rows<{ channel: string; day: string }>(client, `SELECT DISTINCT channel, toString(toDate(ts)) AS day FROM messages WHERE ${byUser} ORDER BY channel, day`, params);
  const [m] = await rows<{ n: number }>(client, `SELECT count() AS n FROM messages WHERE ${byUser}`, params);
  const [n] = await rows<{ n: number }>(client, 'SELECT count() AS n FROM user_notices WHERE login = {login:String} OR user_id IN {ids:Array(String)}', params);
  const [u] = await rows<{ n: number }>(client, 'SELECT count() AS n FROM user_names WHERE login = {login:String} OR user_id IN {ids:Array(String)}', params);

  await client.command({ query: `ALTER TABLE messages DELETE WHERE ${byUser}`, query_params: params, clickhouse_settings: SYNC });
  await client.command({ query: 'ALTER TABLE user_notices DELETE WHERE login = {login:String} OR user_id IN {ids:Array(String)}', query_params: params, clickhouse_settings: SYNC });
  await client.command({ query: 'ALTER TABLE user_names DELETE WHERE login = {login:String} OR user_id IN {ids:Array(String)}', query_params: params, clickhouse_settings: SYNC });
  // CLEARMSG repeats the deleted message's text: keep the action (moderation counts), drop the words.
  await client.command({ query: "ALTER TABLE mod_actions UPDATE text = NULL WHERE action = 'delete' AND target_login = {login:String} AND text IS NOT NULL", query_params: params, clickhouse_settings: SYNC });

  const rebuilt: string[] = [];
  if (days.length > 0) {
    const dayParams: Params = { pc: days.map((d) => d.channel), pd: days.map((d) => d.day) };
    const pairs = 'arrayZip({pc:Array(String)}, {pd:Array(Date)})';
    const views = await rollupViews(client);
    for (const table of ROLLUP_TABLES) {
      if (await tryCommand(client, `ALTER TABLE ${table} DELETE WHERE has(${pairs}, (channel, toDate(window)))`, dayParams, log)) rebuilt.push(table);
    }
    for (const v of views) {
      const select = restrictSource(v, `has(${pairs}, (channel, toDate(ts)))`);
      await client.command({ query: `INSERT INTO ${v.target} ${select}`, query_params: dayParams, clickhouse_settings: { insert_deduplication_token: '' } });
    }
  }
  const perUser: string[] = [];
  for (const table of PER_USER_TABLES) if (await tryCommand(client, `ALTER TABLE ${table} DELETE WHERE login = {login:String}`, params, log)) perUser.push(table);
  log.info({ login, messages: m?.n ?? 0, days: days.length }, 'opt-out applied');
  return {
    login,
    user_ids: userIds,
    deleted: { messages: m?.n ?? 0, user_notices: n?.n ?? 0, user_names: u?.n ?? 0 },
    rebuilt_days: days.length,
    rollups: rebuilt,
    per_user_tables: perUser,
  };
}
