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
import { boolQuery, cursorSchema, isoTime, knownChannelSchema, limitSchema, loginParams, rangeQuery, userLoginSchema } from '../schemas.ts';

const profileSchema = z.object({
  login: z.string(),
  user_ids: z.array(z.string()),
  first_seen: isoTime.nullable(),
  last_seen: isoTime.nullable(),
  messages: z.number(),
  channels: z.array(z.object({ channel: z.string(), messages: z.number(), first_seen: isoTime, last_seen: isoTime })),
  /** Logins and display names seen for the same user id(s) (`user_names`). */
  names: z.array(z.object({ login: z.string(), display_name: z.string(), first_seen: isoTime, last_seen: isoTime })),
  moderation: z.object({ bans: z.number(), timeouts: z.number(), deletions: z.number() }),
  /** Rows of `chatter_segments` for this login (one per channel), when that table exists. */
  segments: z.array(z.record(z.string(), z.unknown())),
  opted_out: z.boolean(),
});

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

    app.get('/:login', { schema: { summary: 'User profile', tags: ['users'], params: loginParams, response: { 200: profileSchema, ...errorResponses } } }, async (req) => {
      const { login } = req.params;
      const [perChannel, ids, mods, optedOut] = await Promise.all([
        rows<{ channel: string; n: number; first_ms: number; last_ms: number }>(
          ctx.client,
          'SELECT channel, count() AS n, toUnixTimestamp64Milli(min(ts)) AS first_ms, toUnixTimestamp64Milli(max(ts)) AS last_ms FROM messages WHERE login = {login:String} GROUP BY channel ORDER BY n DESC, channel',
          { login },
        ),
        // '' is not an id (rows stored for id-less messages before migration 0044): it would match every such chatter.
        rows<{ user_id: string }>(ctx.client, "SELECT DISTINCT user_id FROM user_names WHERE login = {login:String} AND user_id != '' ORDER BY user_id", { login }),
        rows<{ action: string; n: number }>(ctx.client, 'SELECT toString(action) AS action, count() AS n FROM mod_actions WHERE target_login = {login:String} GROUP BY action', { login }),
        rows<{ n: number }>(ctx.client, 'SELECT count() AS n FROM opt_outs FINAL WHERE login = {login:String} AND active', { login }),
      ]);
      const userIds = ids.map((i) => i.user_id);
      const names = userIds.length
        ? await rows<{ login: string; display_name: string; first_ms: number; last_ms: number }>(
            ctx.client,
            'SELECT login, display_name, toUnixTimestamp64Milli(min(first_seen)) AS first_ms, toUnixTimestamp64Milli(max(last_seen)) AS last_ms FROM user_names WHERE user_id IN {ids:Array(String)} GROUP BY login, display_name ORDER BY first_ms',
            { ids: userIds },
          )
        : [];
      const opted = (optedOut[0]?.n ?? 0) > 0;
      // an opted-out user with nothing left is still answered: whether they opted out is what the caller needs
      if (perChannel.length === 0 && names.length === 0 && mods.length === 0 && !opted) throw new ApiError(404, `no stored chat of user ${login}`);
      const segments = await recordsOrEmpty(ctx.client, 'SELECT * FROM chatter_segments WHERE login = {login:String}', { login });
      const modCount = (a: (typeof MOD_TYPES)[number]) => mods.find((m) => m.action === a)?.n ?? 0;
      return {
        login,
        user_ids: userIds,
        first_seen: perChannel.length ? iso(Math.min(...perChannel.map((p) => Number(p.first_ms)))) : null,
        last_seen: perChannel.length ? iso(Math.max(...perChannel.map((p) => Number(p.last_ms)))) : null,
        messages: perChannel.reduce((s, p) => s + p.n, 0),
        channels: perChannel.map((p) => ({ channel: p.channel, messages: p.n, first_seen: iso(Number(p.first_ms)), last_seen: iso(Number(p.last_ms)) })),
        names: names.map((n) => ({ login: n.login, display_name: n.display_name, first_seen: iso(Number(n.first_ms)), last_seen: iso(Number(n.last_ms)) })),
        moderation: { bans: modCount('ban'), timeouts: modCount('timeout'), deletions: modCount('delete') },
        segments,
        opted_out: opted,
      };
    });

    app.get(
      '/:login/messages',
      {
        schema: {
          summary: "A user's messages, newest first (same filters and cursor as /api/v1/messages)",
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
        return listMessages(ctx.client, { login: req.params.login, channel: q.channel, q: q.q, from: q.from, to: q.to, includeDeleted: q.include_deleted ?? false, cursor: q.cursor, limit: q.limit });
      },
    );

    app.get(
      '/:login/moderation',
      {
        schema: {
          summary: 'Moderation actions against a user, newest first',
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
        return listModActions(ctx.client, { target: req.params.login, channel: q.channel, type: q.type, from: q.from, to: q.to, cursor: q.cursor, limit: q.limit });
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
