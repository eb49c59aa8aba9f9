/** Moderation action rows (`mod_actions`) as the API returns them. */
import { z } from 'zod';
import type { ClickHouseClient } from '../core/clickhouse.ts';
import { iso, msParam, rows, type Params } from './db.ts';
import { isoTime, keysetPage, type Cursor } from './schemas.ts';
import { actionsAgainst, type UserIdentity } from './user-identity.ts';

export const MOD_TYPES = ['ban', 'timeout', 'delete', 'clear'] as const;

export const modActionSchema = z.object({
  id: z.string(),
  channel: z.string(),
  ts: isoTime,
  action: z.enum(MOD_TYPES),
  /** `null` for a chat clear. */
  target_login: z.string().nullable(),
  target_user_id: z.string().nullable(),
  duration_s: z.number().nullable(),
  reason: z.string().nullable(),
  target_msg_id: z.string().nullable(),
  /** The deleted message's text, for a deletion. */
  text: z.string().nullable(),
});
export type ModActionOut = z.infer<typeof modActionSchema>;

export interface ModRow {
  id: string;
  channel: string;
  ts_ms: number;
  action: (typeof MOD_TYPES)[number];
  target_login: string;
  target_user_id: string | null;
  duration_s: number | null;
  reason: string | null;
  target_msg_id: string | null;
  text: string | null;
}

export const MOD_COLUMNS = 'id, channel, toUnixTimestamp64Milli(ts) AS ts_ms, action, target_login, target_user_id, duration_s, reason, target_msg_id, text';

export function toModAction({ ts_ms, target_login, ...rest }: ModRow): ModActionOut {
  return { ...rest, ts: iso(Number(ts_ms)), target_login: target_login === '' ? null : target_login };
}

export interface ModFilter {
  channel?: string | null;
  type?: (typeof MOD_TYPES)[number] | null;
  /** The target's login as stored (`/api/v1/moderation/actions?target=`). */
  target?: string | null;
  /** A user under every login of their ids (`/api/v1/users/{login}/moderation`, api/user-identity.ts). */
  user?: UserIdentity | null;
  from?: number | null;
  to?: number | null;
  cursor?: Cursor | null;
  limit: number;
}

export const modPageSchema = z.object({ items: z.array(modActionSchema), next_cursor: z.string().nullable() });

export async function listModActions(client: ClickHouseClient, f: ModFilter): Promise<{ items: ModActionOut[]; next_cursor: string | null }> {
  const where: string[] = [];
  const params: Params = { limit: f.limit + 1 };
  if (f.channel) {
    where.push('channel = {channel:String}');
    params.channel = f.channel;
  }
  if (f.type) {
    where.push('action = {type:String}');
    params.type = f.type;
  }
  if (f.target) {
    where.push('target_login = {target:String}');
    params.target = f.target;
  }
  if (f.user) {
    const against = actionsAgainst(f.user, { deletions: true });
    where.push(against.sql);
    Object.assign(params, against.params);
  }
  if (f.from != null) {
    where.push(`ts >= ${msParam('from')}`);
    params.from = f.from;
  }
  if (f.to != null) {
    where.push(`ts < ${msParam('to')}`);
    params.to = f.to;
  }
  if (f.cursor) {
    where.push(`(ts, id) < (${msParam('cts')}, {cid:String})`);
    params.cts = f.cursor.ts;
    params.cid = f.cursor.id;
  }
  const list = await rows<ModRow>(client, `SELECT ${MOD_COLUMNS} FROM mod_actions ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ts DESC, id DESC LIMIT {limit:UInt32}`, params);
  return keysetPage(list, f.limit, toModAction);
}
