/**
 * Who a user route is about. Twitch users can change their login while their user id stays, so a route
 * asked for a login answers for every login the user id(s) seen under it have had (`user_names`): a
 * moderator who looks up the new name sees what the user wrote and received under the old one. Rows keep
 * saying which login they were under (`login` of a message, `target_login` of an action).
 *
 * Which rows are the user's: every row under the asked login, with an id or without (imports carry no
 * ids, so a login without one keeps working by login alone), and the rows under the id's other logins
 * that carry one of its ids. Rows under another login without an id (an old import) are left out: a
 * login can be taken again by someone else once its owner renamed, and such a row cannot tell whose it is.
 */
import type { ClickHouseClient } from '../core/clickhouse.ts';
import { rows, type Params } from './db.ts';

export interface UserIdentity {
  /** The login asked for (for a user id, its newest login). */
  login: string;
  /** Twitch user ids seen under `login` (its messages, bans and timeouts) that chatted (`user_names`), sorted. */
  ids: string[];
  /** `login` and every other login of `ids` (`user_names`), sorted. */
  logins: string[];
}

/**
 * The logins of the ids seen under the asked login, one round trip: the ids come from the login's messages
 * through the `by_login` projection (the login's range, not a scan; a filter on `user_id` in that WHERE made
 * chdb 26.7 skip the projection and read every granule, hence the `If` combinator) and from its bans and
 * timeouts through `target_login_idx` (a renamed user banned before chatting under the new name is how a
 * moderator meets that name); their logins by `user_names`' sort key (user_id). As a set for `IN`, not a
 * `WITH (...) AS ids` scalar: that form took 83 ms against 20 ms (2M messages, load 6).
 */
const RESOLVE_LOGIN = `SELECT user_id, login FROM user_names WHERE user_id IN (
  SELECT arrayJoin(ids) FROM (
    SELECT groupUniqArrayIf(assumeNotNull(user_id), user_id IS NOT NULL AND user_id != '') AS ids FROM messages WHERE login = {login:String}
    UNION ALL
    SELECT groupUniqArrayIf(assumeNotNull(target_user_id), target_user_id IS NOT NULL AND target_user_id != '') FROM mod_actions WHERE target_login = {login:String}))
GROUP BY user_id, login`;

/**
 * The user a login names (see the module comment). An id that never chatted (only banned) has no
 * `user_names` rows, so no other login to add, and is not in `ids`.
 */
export async function resolveLogin(client: ClickHouseClient, login: string): Promise<UserIdentity> {
  const r = await rows<{ user_id: string; login: string }>(client, RESOLVE_LOGIN, { login });
  return { login, ids: [...new Set(r.map((x) => x.user_id))].sort(), logins: [...new Set([login, ...r.map((x) => x.login)])].sort() };
}

/** The user of a Twitch user id, under its newest login (`user_names`' sort key); `null` when it never chatted. */
export async function resolveUserId(client: ClickHouseClient, id: string): Promise<UserIdentity | null> {
  const r = await rows<{ login: string }>(client, 'SELECT login FROM user_names WHERE user_id = {id:String} GROUP BY login ORDER BY max(last_seen) DESC, login', { id });
  if (!r[0]) return null;
  return { login: r[0].login, ids: [id], logins: r.map((x) => x.login).sort() };
}

/** Whether the user had other logins: if not, every filter below is the plain `login = ...` of before. */
export const renamed = (u: UserIdentity): boolean => u.logins.length > 1;

/**
 * The user's rows of a table with a login and a user id column (`messages`, `user_notices`), and its
 * params (`ulogin`, `ulogins`, `uids`). With other logins the key condition is `login IN (...)`, which
 * the `by_login` projection answers as it answers one login.
 */
export function authoredBy(u: UserIdentity, cols: { login: string; userId: string } = { login: 'login', userId: 'user_id' }): { sql: string; params: Params } {
  if (!renamed(u)) return { sql: `${cols.login} = {ulogin:String}`, params: { ulogin: u.login } };
  return {
    sql: `${cols.login} IN {ulogins:Array(String)} AND (${cols.login} = {ulogin:String} OR ${cols.userId} IN {uids:Array(String)})`,
    params: { ulogin: u.login, ulogins: u.logins, uids: u.ids },
  };
}

/**
 * The moderation actions against the user (`mod_actions`). A deletion (CLEARMSG) carries no user id, so
 * under another login it counts when the message it deleted is one of the user's (`deletions: true`;
 * that reads the other logins' messages through `by_login`).
 */
export function actionsAgainst(u: UserIdentity, opts: { deletions: boolean }): { sql: string; params: Params } {
  if (!renamed(u)) return { sql: 'target_login = {ulogin:String}', params: { ulogin: u.login } };
  const deleted = opts.deletions
    ? " OR (action = 'delete' AND target_msg_id IN (SELECT id FROM messages WHERE login IN {uothers:Array(String)} AND user_id IN {uids:Array(String)}))"
    : '';
  return {
    sql: `target_login IN {ulogins:Array(String)} AND (target_login = {ulogin:String} OR target_user_id IN {uids:Array(String)}${deleted})`,
    params: { ulogin: u.login, ulogins: u.logins, uids: u.ids, ...(opts.deletions ? { uothers: u.logins.filter((l) => l !== u.login) } : {}) },
  };
}
