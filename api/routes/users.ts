/** `/api/v1/users`: search, profile, messages, moderation received, and the privacy opt-out. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { clearCache, iso, recordsOrEmpty, rows } from '../db.ts';
import { ApiError, errorResponses, mutationErrorResponses } from '../errors.ts';
import { assertKnownChannels } from '../known-channels.ts';
import { listMessages, messagePageSchema, assertSearchable } from '../messages-query.ts';
import { listModActions, MOD_TYPES, modPageSchema } from '../moderation-query.ts';
import { optOut, optOutResultSchema } from '../privacy.ts';
import { actionsAgainst, authoredBy, renamed, resolveLogin } from '../user-identity.ts';
import { boolQuery, cursorSchema, isoTime, knownChannelSchema, limitSchema, loginParams, rangeQuery, userLoginSchema } from '../schemas.ts';

const modCountsSchema = z.object({ bans: z.number(), timeouts: z.number(), deletions: z.number() });

const profileSchema = z.object({
  login: z.string(),
  /** Twitch user ids seen under the login (its messages, bans and timeouts). */
  user_ids: z.array(z.string()),
  first_seen: isoTime.nullable(),
  last_seen: isoTime.nullable(),
  /** Messages under every login of the user (see `logins`). */
  messages: z.number(),
  channels: z.array(z.object({ channel: z.string(), messages: z.number(), first_seen: isoTime, last_seen: isoTime })),
  /** Logins and display names seen for the same user id(s) (`user_names`). */
  names: z.array(z.object({ login: z.string(), display_name: z.string(), first_seen: isoTime, last_seen: isoTime })),
  /** Bans, timeouts and deletions of their messages, under every login of the user. */
  moderation: modCountsSchema,
  /** USERNOTICEs: `sent` by notice_type (sub, resub, subgift for a gift they gave, raid, ...), `gifts_received`: gift subs to them. */
  notices: z.object({ sent: z.record(z.string(), z.number()), gifts_received: z.number() }),
  /**
   * What is stored under each login of the user: the asked one and, for a renamed user, the logins their id had
   * before or after (`user_names`); the asked login first, then by last message.
   */
  logins: z.array(
    z.object({
      login: z.string(),
      messages: z.number(),
      first_seen: isoTime.nullable(),
      last_seen: isoTime.nullable(),
      moderation: modCountsSchema,
      notices_sent: z.number(),
      gifts_received: z.number(),
    }),
  ),
  /** Rows of `chatter_segments` for the user's logins (one per channel and login), when that table exists. */
  segments: z.array(z.record(z.string(), z.unknown())),
  opted_out: z.boolean(),
});

/** Notice types whose `recipient-*` params name who got the gift sub. */
const GIFT_TYPES = ['subgift', 'anonsubgift'];
/** The recipient's login of a gift notice (`recipient-name` in older lines) and id ('' when absent). */
const RECIPIENT = {
  login: "lower(if(params['recipient-user-name'] != '', params['recipient-user-name'], params['recipient-name']))",
  userId: "params['recipient-id']",
};

type ModCounts = z.infer<typeof modCountsSchema>;
const noMods = (): ModCounts => ({ bans: 0, timeouts: 0, deletions: 0 });
const MOD_FIELD = { ban: 'bans', timeout: 'timeouts', delete: 'deletions' } as const;

/** The profile of a user under every login of their id(s); `null` when nothing of them is stored and they did not opt out. */
async function profile(ctx: ApiContext, login: string): Promise<z.infer<typeof profileSchema> | null> {
  const u = await resolveLogin(ctx.client, login);
  const authored = authoredBy(u);
  const against = actionsAgainst(u, { deletions: true });
  const [perChannel, names, mods, notices, optedOut] = await Promise.all([
    rows<{ login: string; channel: string; n: number; first_ms: number; last_ms: number }>(
      ctx.client,
      `SELECT login, channel, count() AS n, toUnixTimestamp64Milli(min(ts)) AS first_ms, toUnixTimestamp64Milli(max(ts)) AS last_ms FROM messages WHERE ${authored.sql} GROUP BY login, channel ORDER BY n DESC, channel`,
      authored.params,
    ),
    u.ids.length
      ? rows<{ login: string; display_name: string; first_ms: number; last_ms: number }>(
          ctx.client,
          'SELECT login, display_name, toUnixTimestamp64Milli(min(first_seen)) AS first_ms, toUnixTimestamp64Milli(max(last_seen)) AS last_ms FROM user_names WHERE user_id IN {ids:Array(String)} GROUP BY login, display_name ORDER BY first_ms',
          { ids: u.ids },
        )
      : [],
    rows<{ login: string; action: string; n: number; ids: string[] }>(
      ctx.client,
      `SELECT target_login AS login, toString(action) AS action, count() AS n, groupUniqArrayIf(assumeNotNull(target_user_id), target_user_id IS NOT NULL AND target_user_id != '') AS ids
       FROM mod_actions WHERE ${against.sql} GROUP BY login, action`,
      against.params,
    ),
    // user_notices has no key on logins: this reads its login and user id columns (the params of gift notices only),
    // a table of about 0.4% of the messages' rows (15 per 4,029 messages in the #xqc capture).
    rows<{ login: string; notice_type: string; sent: number; n: number }>(
      ctx.client,
      `SELECT ifNull(login, '') AS login, notice_type, 1 AS sent, count() AS n FROM user_notices WHERE ${authored.sql} GROUP BY login, notice_type
       UNION ALL
       SELECT rlogin AS login, notice_type, 0 AS sent, count() AS n
       FROM (SELECT notice_type, ${RECIPIENT.login} AS rlogin, ${RECIPIENT.userId} AS rid FROM user_notices WHERE notice_type IN {gifts:Array(String)})
       WHERE ${authoredBy(u, { login: 'rlogin', userId: 'rid' }).sql} GROUP BY login, notice_type`,
      { ...authored.params, gifts: GIFT_TYPES },
    ),
    rows<{ n: number }>(ctx.client, 'SELECT count() AS n FROM opt_outs FINAL WHERE login = {login:String} AND active', { login }),
  ]);
  const opted = (optedOut[0]?.n ?? 0) > 0;
  // an opted-out user with nothing left is still answered: whether they opted out is what the caller needs
  if (perChannel.length === 0 && names.length === 0 && mods.length === 0 && notices.length === 0 && !opted) return null;
  const segments = renamed(u)
    ? await recordsOrEmpty(ctx.client, 'SELECT * FROM chatter_segments WHERE login IN {logins:Array(String)}', { logins: u.logins })
    : await recordsOrEmpty(ctx.client, 'SELECT * FROM chatter_segments WHERE login = {login:String}', { login });

  interface PerLogin { login: string; messages: number; first: number | null; last: number | null; moderation: ModCounts; notices_sent: number; gifts_received: number }
  const byLogin = new Map<string, PerLogin>();
  const of = (l: string) => {
    let x = byLogin.get(l);
    if (!x) byLogin.set(l, (x = { login: l, messages: 0, first: null, last: null, moderation: noMods(), notices_sent: 0, gifts_received: 0 }));
    return x;
  };
  of(login);
  const channels = new Map<string, { channel: string; messages: number; first: number; last: number }>();
  for (const p of perChannel) {
    const [n, first, last] = [Number(p.n), Number(p.first_ms), Number(p.last_ms)];
    const c = channels.get(p.channel) ?? { channel: p.channel, messages: 0, first, last };
    channels.set(p.channel, { channel: p.channel, messages: c.messages + n, first: Math.min(c.first, first), last: Math.max(c.last, last) });
    const l = of(p.login);
    l.messages += n;
    l.first = Math.min(l.first ?? first, first);
    l.last = Math.max(l.last ?? last, last);
  }
  const moderation = noMods();
  for (const m of mods) {
    const field = MOD_FIELD[m.action as keyof typeof MOD_FIELD];
    if (!field) continue;
    moderation[field] += Number(m.n);
    of(m.login).moderation[field] += Number(m.n);
  }
  const sent: Record<string, number> = {};
  let giftsReceived = 0;
  for (const n of notices) {
    if (Number(n.sent)) {
      sent[n.notice_type] = (sent[n.notice_type] ?? 0) + Number(n.n);
      of(n.login).notices_sent += Number(n.n);
    } else {
      giftsReceived += Number(n.n);
      of(n.login).gifts_received += Number(n.n);
    }
  }
  const all = [...channels.values()];
  return {
    login,
    // with the ids of users who never chatted (only banned): they have no `user_names` rows
    user_ids: [...new Set([...u.ids, ...mods.flatMap((m) => m.ids)])].sort(),
    first_seen: all.length ? iso(Math.min(...all.map((c) => c.first))) : null,
    last_seen: all.length ? iso(Math.max(...all.map((c) => c.last))) : null,
    messages: all.reduce((s, c) => s + c.messages, 0),
    channels: all.sort((a, b) => b.messages - a.messages || (a.channel < b.channel ? -1 : 1)).map((c) => ({ channel: c.channel, messages: c.messages, first_seen: iso(c.first), last_seen: iso(c.last) })),
    names: names.map((n) => ({ login: n.login, display_name: n.display_name, first_seen: iso(Number(n.first_ms)), last_seen: iso(Number(n.last_ms)) })),
    moderation,
    notices: { sent, gifts_received: giftsReceived },
    logins: [...byLogin.values()]
      .sort((a, b) => Number(b.login === login) - Number(a.login === login) || (b.last ?? 0) - (a.last ?? 0) || (a.login < b.login ? -1 : 1))
      .map(({ first, last, ...l }) => ({ ...l, first_seen: first === null ? null : iso(first), last_seen: last === null ? null : iso(last) })),
    segments,
    opted_out: opted,
  };
}

export function userRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/',
      {
        schema: {
          summary: 'Find users by login prefix',
          tags: ['users'],
          querystring: z.object({ prefix: userLoginSchema, limit: limitSchema(20, 200) }),
          response: { 200: z.object({ items: z.array(z.object({ login: z.string(), messages: z.number(), last_seen: isoTime })) }), ...errorResponses },
        },
      },
      async (req) => {
        // Reads the `by_login` projection: a login-prefix range, not a scan.
        const found = await rows<{ login: string; n: number; last_ms: number }>(
          ctx.client,
          'SELECT login, count() AS n, toUnixTimestamp64Milli(max(ts)) AS last_ms FROM messages WHERE startsWith(login, {prefix:String}) GROUP BY login ORDER BY n DESC, login LIMIT {limit:UInt32}',
          { prefix: req.query.prefix, limit: req.query.limit },
        );
        return { items: found.map((f) => ({ login: f.login, messages: f.n, last_seen: iso(Number(f.last_ms)) })) };
      },
    );

    app.get(
      '/:login',
      {
        schema: {
          summary: 'User profile, under every login of their Twitch id(s)',
          description:
            'Messages, moderation received and notices under the login and, for a renamed user, under the other logins their id had (`user_names`), ' +
            'counted per login in `logins`. A user known only from notices (a sub, a gift sub they got) or from moderation (a ban) is answered with zero messages. ' +
            '404 when nothing of the user is stored and they have not opted out.',
          tags: ['users'],
          params: loginParams,
          response: { 200: profileSchema, ...errorResponses },
        },
      },
      async (req) => {
        const p = await profile(ctx, req.params.login);
        if (p === null) throw new ApiError(404, `nothing of user ${req.params.login} is stored (no chat, notice or moderation)`);
        return p;
      },
    );

    app.get(
      '/:login/messages',
      {
        schema: {
          summary: "A user's messages, newest first (same filters and cursor as /api/v1/messages)",
          description: 'Under every login of the user\'s Twitch id(s) (each message says its `login`); rows of other logins without a user id are left out. See docs/api.md, Users.',
          tags: ['users'],
          params: loginParams,
          querystring: z.object({ channel: knownChannelSchema.optional(), q: z.string().trim().min(1).max(500).optional(), ...rangeQuery, include_deleted: boolQuery, cursor: cursorSchema.optional(), limit: limitSchema(100, 1000) }),
          response: { 200: messagePageSchema, ...errorResponses },
        },
      },
      async (req) => {
        const q = req.query;
        assertSearchable(q.q);
        if (q.from !== undefined && q.to !== undefined && q.from >= q.to) throw new ApiError(400, 'from must be before to');
        if (q.channel !== undefined) await assertKnownChannels(ctx, [q.channel]);
        const user = await resolveLogin(ctx.client, req.params.login);
        return listMessages(ctx.client, { user, channel: q.channel, q: q.q, from: q.from, to: q.to, includeDeleted: q.include_deleted ?? false, cursor: q.cursor, limit: q.limit });
      },
    );

    app.get(
      '/:login/moderation',
      {
        schema: {
          summary: 'Moderation actions against a user, newest first',
          description: "Under every login of the user's Twitch id(s) (each action says its `target_login`): bans and timeouts carrying one of the ids, deletions of the user's messages. See docs/api.md, Users.",
          tags: ['users'],
          params: loginParams,
          querystring: z.object({ channel: knownChannelSchema.optional(), type: z.enum(MOD_TYPES).optional(), ...rangeQuery, cursor: cursorSchema.optional(), limit: limitSchema(100, 1000) }),
          response: { 200: modPageSchema, ...errorResponses },
        },
      },
      async (req) => {
        const q = req.query;
        if (q.from !== undefined && q.to !== undefined && q.from >= q.to) throw new ApiError(400, 'from must be before to');
        if (q.channel !== undefined) await assertKnownChannels(ctx, [q.channel]);
        const user = await resolveLogin(ctx.client, req.params.login);
        return listModActions(ctx.client, { user, channel: q.channel, type: q.type, from: q.from, to: q.to, cursor: q.cursor, limit: q.limit });
      },
    );

    app.post(
      '/:login/opt-out',
      {
        schema: {
          summary: "Delete a user's stored chat and keep future chat out",
          description:
            'Writes `opt_outs` (ingest and enrich drop the user from then on, and store other users\' events without them), waits 6 s for what enrich consumed before it re-read the list, ' +
            'deletes the user\'s messages, user notices, name history and the dead letters naming them with synchronous mutations, ' +
            'rebuilds the chat/emote rollup days that held their messages and checks them against the raw rows (days a concurrent insert made wrong are redone, up to 5 rounds; ' +
            'any still wrong are listed in `rollup_mismatches`), deletes per-user analytics rows under every login they had, blanks the text of deletions of their messages, ' +
            'and blanks them in other users\' rows: the parent of replies to them (`reply_parent_*`), the root of threads they started, gift subs to them and gifts they passed on (the party\'s `msg-param-*` and `system_msg`). Idempotent.',
          tags: ['users'],
          security: [{ bearer: [] }],
          params: loginParams,
          response: { 200: optOutResultSchema, ...mutationErrorResponses },
        },
      },
      async (req) => {
        const result = await optOut(ctx.unboundedClient, req.params.login, req.log, ctx.optOutSettleMs === null ? {} : { settleMs: ctx.optOutSettleMs });
        clearCache(ctx.client);
        return result;
      },
    );
  };
}
