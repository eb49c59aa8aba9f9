/**
 * justlog-compatible read endpoints at the root (`/channels`, `/list`, `/channel/...`,
 * `/channelid/...`), answering as gempir/justlog does: plain text by default, `?json` (or
 * `?type=json`, or `Content-Type: application/json`) for `{ messages: [...] }`, `?raw` for IRC
 * lines; oldest first unless `?reverse`; a log with nothing in it is a 404, as in justlog. Errors use
 * the API's error shape.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ChatEvent } from '../../core/events.ts';
import type { ApiContext } from '../context.ts';
import { rows, type Params } from '../db.ts';
import { ApiError, errorResponses, errorSchema } from '../errors.ts';
import { EVENT_MESSAGE_COLUMNS, EVENT_MOD_COLUMNS, EVENT_NOTICE_COLUMNS, justlogText, messageEvent, modEvent, noticeEvent, toJustlog, type JustlogMessage } from '../justlog.ts';
import { loginSchema, userLoginSchema } from '../schemas.ts';
import { actionsAgainst, authoredBy, resolveLogin, resolveUserId, type UserIdentity } from '../user-identity.ts';
import { channelSummaries } from './channels.ts';

const formatQuery = z.object({
  json: z.string().max(10).optional(),
  raw: z.string().max(10).optional(),
  type: z.enum(['json', 'raw', 'text']).optional(),
  reverse: z.string().max(10).optional(),
});

const justlogMessageSchema = z.object({
  text: z.string(),
  username: z.string(),
  displayName: z.string(),
  channel: z.string(),
  timestamp: z.string(),
  id: z.string(),
  type: z.number(),
  raw: z.string(),
  tags: z.record(z.string(), z.string()),
});
const logResponses = { 200: z.union([z.object({ messages: z.array(justlogMessageSchema) }), z.string()]), ...errorResponses, 413: errorSchema };

const yearSchema = z.string().regex(/^\d{4}$/, 'must be a 4-digit year').transform(Number);
const monthSchema = z.string().regex(/^\d{1,2}$/, 'must be a month number 1-12').transform(Number).pipe(z.number().min(1).max(12));
const daySchema = z.string().regex(/^\d{1,2}$/, 'must be a day number 1-31').transform(Number).pipe(z.number().min(1).max(31));
const idSchema = z.string().regex(/^\d{1,20}$/, 'must be a numeric Twitch id');

type Format = 'json' | 'raw' | 'text';

function formatOf(req: FastifyRequest, q: z.infer<typeof formatQuery>): Format {
  if (q.json !== undefined || q.type === 'json' || req.headers['content-type'] === 'application/json') return 'json';
  if (q.raw !== undefined || q.type === 'raw') return 'raw';
  return 'text';
}

/**
 * `empty` names the log ("#xqc on 2023-4-1") for the 404 of one with nothing in it: justlog has no log file then and
 * answers 404 "could not load logs" (gempir/justlog api/server.go routeLogs at b51ce07, filelog/channellog.go
 * ReadLogForChannel), rustlog 404 "Not found" (boring-nick/rustlog src/logs/stream/cursor.rs, src/error.rs), and
 * viewers built for them test the status (justlog's web/src/hooks/useLog.ts: response.ok); a 200 with an empty
 * body read as a day that was logged and silent. The body keeps the API's error shape, with justlog's words.
 */
function send(reply: FastifyReply, format: Format, messages: JustlogMessage[], empty: string) {
  if (messages.length === 0) throw new ApiError(404, `could not load logs: nothing is stored for ${empty}`);
  reply.header('x-content-type-options', 'nosniff');
  // A day log is thousands of messages built here from typed rows; validating each against the
  // response schema again cost ~1 s per 4,000 lines (measured), so these answers skip it.
  reply.serializer((body: unknown) => (typeof body === 'string' ? body : JSON.stringify(body)));
  if (format === 'json') return { messages };
  reply.type('text/plain; charset=utf-8');
  return messages.map((m) => (format === 'raw' ? m.raw : justlogText(m)) + '\n').join('');
}

/**
 * Messages, bans/timeouts and user notices of a channel in [from, to), optionally of one user (under every
 * login of their id, api/user-identity.ts), by time.
 * At most `max` events: a whole day of a busy channel was unbounded (a 930,000-message day took 35 s
 * and 2.6 GB of RSS and then failed building its JSON; as text it blocked every other request for 38 s),
 * so a bigger log is a 413 naming the paginated alternative, decided on a count before any row is read.
 */
/**
 * What a log holds: `msgWhere` selects its messages and user notices, `modWhere` its bans and timeouts, in the
 * channel (within `range`, a condition on `ts`, when given) and of the user when given. The logs and `/list`
 * read the same rows, so `/list` names exactly the periods whose log is not empty.
 */
function logWhere(channel: string, user: UserIdentity | null, range: string | null): { msgWhere: string; modWhere: string; params: Params } {
  const base = range === null ? 'channel = {channel:String}' : `channel = {channel:String} AND ${range}`;
  let msgWhere = base;
  let modWhere = `${base} AND action IN ('ban', 'timeout')`;
  const params: Params = { channel };
  if (user) {
    // messages and user notices name their author the same way (login, user_id)
    const who = authoredBy(user);
    const against = actionsAgainst(user, { deletions: false });
    msgWhere += ` AND ${who.sql}`;
    modWhere += ` AND ${against.sql}`;
    Object.assign(params, who.params, against.params);
  }
  return { msgWhere, modWhere, params };
}

async function loadLog(ctx: ApiContext, channel: string, user: UserIdentity | null, from: number, to: number, reverse: boolean): Promise<JustlogMessage[]> {
  const max = ctx.limits.maxLogEvents;
  const { msgWhere, modWhere, params: who } = logWhere(channel, user, "ts >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND ts < fromUnixTimestamp64Milli({to:Int64}, 'UTC')");
  const params: Params = { ...who, from, to, cap: max + 1 };
  // Counted first (key columns only, milliseconds): refusing a log after reading 50,001 full rows took 4-6 s.
  const [{ n }] = await rows<{ n: number }>(
    ctx.client,
    `SELECT (SELECT count() FROM messages WHERE ${msgWhere}) + (SELECT count() FROM mod_actions WHERE ${modWhere}) + (SELECT count() FROM user_notices WHERE ${msgWhere}) AS n`,
    params,
  );
  const tooBig = () =>
    new ApiError(
      413,
      user
        ? `this log holds more than ${max} events, more than one answer may hold; read it in pages with /api/v1/users/${encodeURIComponent(user.login)}/messages?channel=${channel}&from=${from}&to=${to} (and /api/v1/users/${encodeURIComponent(user.login)}/moderation)`
        : `this log holds more than ${max} events, more than one answer may hold; read it in pages with /api/v1/messages?channel=${channel}&from=${from}&to=${to} (and /api/v1/moderation/actions)`,
    );
  if (Number(n) > max) throw tooBig();
  // LIMIT as well: rows stored between the count and the reads must not lift the bound.
  const [msgs, mods, notices] = await Promise.all([
    rows<Record<string, unknown>>(ctx.client, `SELECT ${EVENT_MESSAGE_COLUMNS} FROM messages WHERE ${msgWhere} ORDER BY ts, id LIMIT {cap:UInt32}`, params),
    rows<Record<string, unknown>>(ctx.client, `SELECT ${EVENT_MOD_COLUMNS} FROM mod_actions WHERE ${modWhere} ORDER BY ts, id LIMIT {cap:UInt32}`, params),
    rows<Record<string, unknown>>(ctx.client, `SELECT ${EVENT_NOTICE_COLUMNS} FROM user_notices WHERE ${msgWhere} ORDER BY ts, id LIMIT {cap:UInt32}`, params),
  ]);
  if (msgs.length + mods.length + notices.length > max) throw tooBig();
  const events: ChatEvent[] = [...msgs.map(messageEvent), ...mods.map(modEvent), ...notices.map(noticeEvent)];
  // At one timestamp chat comes before bans and timeouts: an author's message cannot follow their own timeout. Imports
  // of whole-second formats (Chatty, justlog text) now put the k-th line of a second k ms into it, so their lines keep
  // the log's order (bans in place) and rarely tie; the rule still orders what ties: rows stored at whole seconds
  // by earlier versions (where the ids alone, 'chatty-clearchat:...' < 'chatty:...', listed 1,033 of riotgames1's
  // 1,900 bans and timeouts before the message that drew them), a second's lines past its 1,000th, and live events
  // of one millisecond. The order of different users' lines within one timestamp stays unknown.
  events.sort((a, b) => a.ts - b.ts || actionRank(a) - actionRank(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (reverse) events.reverse();
  const out: JustlogMessage[] = [];
  for (const e of events) {
    const m = toJustlog(e);
    if (m) out.push(m);
  }
  return out;
}

const actionRank = (e: ChatEvent) => (e.kind === 'ban' || e.kind === 'timeout' ? 1 : 0);

export function justlogRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  const channelById = async (id: string): Promise<string> => {
    const r = await rows<{ channel: string }>(ctx.client, 'SELECT login AS channel FROM channels FINAL WHERE channel_id = {id:String} UNION DISTINCT SELECT DISTINCT channel FROM messages WHERE channel_id = {id:String} LIMIT 1', { id });
    if (!r[0]) throw new ApiError(404, `no channel with id ${id}`);
    return r[0].channel;
  };
  const userById = async (id: string): Promise<UserIdentity> => {
    const u = await resolveUserId(ctx.client, id);
    if (!u) throw new ApiError(404, `no user with id ${id}`);
    return u;
  };
  const utc = (y: number, m: number, d = 1) => Date.UTC(y, m - 1, d);

  return async (app) => {
    app.get(
      '/channels',
      {
        schema: {
          summary: 'justlog: channels with logs',
          tags: ['justlog'],
          response: { 200: z.object({ channels: z.array(z.object({ userID: z.string(), name: z.string() })) }), ...errorResponses },
        },
      },
      async () => {
        // The API's channel list query: answered by the channel_summary projection (migration 0045), not a scan.
        const r = await channelSummaries(ctx.client);
        return { channels: r.map((c) => ({ userID: c.channel_id ?? '', name: c.channel })) };
      },
    );

    app.get(
      '/list',
      {
        schema: {
          summary: 'justlog: days (channel) or months (channel + user) with logs, newest first',
          tags: ['justlog'],
          querystring: z.object({ channel: loginSchema.optional(), user: userLoginSchema.optional(), channelid: idSchema.optional(), userid: idSchema.optional() }),
          response: { 200: z.object({ availableLogs: z.array(z.object({ year: z.string(), month: z.string(), day: z.string().optional() })) }), ...errorResponses },
        },
      },
      async (req) => {
        const channel = req.query.channel ?? (req.query.channelid ? await channelById(req.query.channelid) : null);
        if (!channel) throw new ApiError(400, 'give channel (or channelid)');
        const user = req.query.user ? await resolveLogin(ctx.client, req.query.user) : req.query.userid ? await userById(req.query.userid) : null;
        // The periods whose log (loadLog) holds something: messages, bans and timeouts, user notices. Messages alone
        // left out a channel or user with only notices (subs, raids): their day logs were served, /list said [].
        const { msgWhere, modWhere, params } = logWhere(channel, user, null);
        const period = user ? 'toStartOfMonth(ts)' : 'toDate(ts)';
        const r = await rows<{ y: number; m: number; d: number }>(
          ctx.client,
          `SELECT toYear(p) AS y, toMonth(p) AS m, toDayOfMonth(p) AS d FROM (
             SELECT ${period} AS p FROM messages WHERE ${msgWhere} GROUP BY p
             UNION ALL SELECT ${period} AS p FROM mod_actions WHERE ${modWhere} GROUP BY p
             UNION ALL SELECT ${period} AS p FROM user_notices WHERE ${msgWhere} GROUP BY p
           ) GROUP BY p ORDER BY p DESC`,
          params,
        );
        return { availableLogs: r.map((x) => (user ? { year: String(x.y), month: String(x.m) } : { year: String(x.y), month: String(x.m), day: String(x.d) })) };
      },
    );

    for (const by of ['channel', 'channelid'] as const) {
      const chanParam = by === 'channel' ? loginSchema : idSchema;
      const resolveChannel = (v: string) => (by === 'channel' ? Promise.resolve(v) : channelById(v));
      app.get(
        `/${by}/:channel`,
        { schema: { summary: `justlog: today's log (redirect)`, tags: ['justlog'], params: z.object({ channel: chanParam }), response: { 302: z.null(), ...errorResponses } } },
        async (req, reply) => {
          const now = new Date();
          const qs = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
          return reply.redirect(`/${by}/${req.params.channel}/${now.getUTCFullYear()}/${now.getUTCMonth() + 1}/${now.getUTCDate()}${qs}`, 302);
        },
      );
      app.get(
        `/${by}/:channel/:year/:month/:day`,
        {
          schema: { summary: 'justlog: a channel log of one UTC day', tags: ['justlog'], params: z.object({ channel: chanParam, year: yearSchema, month: monthSchema, day: daySchema }), querystring: formatQuery, response: logResponses },
        },
        async (req, reply) => {
          const channel = await resolveChannel(req.params.channel);
          const from = utc(req.params.year, req.params.month, req.params.day);
          if (new Date(from).getUTCDate() !== req.params.day) throw new ApiError(400, 'no such day');
          const log = await ctx.heavy(reply, () => loadLog(ctx, channel, null, from, from + 86_400_000, req.query.reverse !== undefined));
          return send(reply, formatOf(req, req.query), log, `#${channel} on ${req.params.year}-${req.params.month}-${req.params.day}`);
        },
      );
      app.get(
        `/${by}/:channel/random`,
        { schema: { summary: 'justlog: a random message of the channel', tags: ['justlog'], params: z.object({ channel: chanParam }), querystring: formatQuery, response: logResponses } },
        async (req, reply) => {
          const channel = await resolveChannel(req.params.channel);
          return send(reply, formatOf(req, req.query), await randomMessage(ctx, channel, null), `#${channel}`);
        },
      );
      for (const ub of ['user', 'userid'] as const) {
        const userParam = ub === 'user' ? userLoginSchema : idSchema;
        const resolveUser = (v: string) => (ub === 'user' ? resolveLogin(ctx.client, v) : userById(v));
        app.get(
          `/${by}/:channel/${ub}/:user`,
          { schema: { summary: "justlog: the user's latest month (redirect)", tags: ['justlog'], params: z.object({ channel: chanParam, user: userParam }), response: { 302: z.null(), ...errorResponses } } },
          async (req, reply) => {
            const [channel, user] = await Promise.all([resolveChannel(req.params.channel), resolveUser(req.params.user)]);
            const who = authoredBy(user);
            const r = await rows<{ y: number; m: number }>(ctx.client, `SELECT toYear(max(ts)) AS y, toMonth(max(ts)) AS m FROM messages WHERE channel = {channel:String} AND ${who.sql} HAVING count() > 0`, { channel, ...who.params });
            const now = new Date();
            const [y, m] = r[0] ? [r[0].y, r[0].m] : [now.getUTCFullYear(), now.getUTCMonth() + 1];
            const qs = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
            // encoded: a Chatty login may be a display name in any script (`永和內馬爾`), and a raw one in Location was a 500
            return reply.redirect(`/${by}/${req.params.channel}/${ub}/${encodeURIComponent(req.params.user)}/${y}/${m}${qs}`, 302);
          },
        );
        app.get(
          `/${by}/:channel/${ub}/:user/:year/:month`,
          {
              schema: { summary: "justlog: a user's log in a channel for one month", tags: ['justlog'], params: z.object({ channel: chanParam, user: userParam, year: yearSchema, month: monthSchema }), querystring: formatQuery, response: logResponses },
          },
          async (req, reply) => {
            const [channel, user] = await Promise.all([resolveChannel(req.params.channel), resolveUser(req.params.user)]);
            const from = utc(req.params.year, req.params.month);
            const to = req.params.month === 12 ? utc(req.params.year + 1, 1) : utc(req.params.year, req.params.month + 1);
            const log = await ctx.heavy(reply, () => loadLog(ctx, channel, user, from, to, req.query.reverse !== undefined));
            return send(reply, formatOf(req, req.query), log, `${user.login} in #${channel} in ${req.params.year}-${req.params.month}`);
          },
        );
        app.get(
          `/${by}/:channel/${ub}/:user/random`,
          { schema: { summary: 'justlog: a random message of the user in the channel', tags: ['justlog'], params: z.object({ channel: chanParam, user: userParam }), querystring: formatQuery, response: logResponses } },
          async (req, reply) => {
            const [channel, user] = await Promise.all([resolveChannel(req.params.channel), resolveUser(req.params.user)]);
            return send(reply, formatOf(req, req.query), await randomMessage(ctx, channel, user), `${user.login} in #${channel}`);
          },
        );
      }
    }
  };
}

/**
 * A random message without sorting the channel: a random instant between the first and last message,
 * then the first message at or after it. Messages after long gaps are likelier; cost: two key reads.
 */
async function randomMessage(ctx: ApiContext, channel: string, user: UserIdentity | null): Promise<JustlogMessage[]> {
  const params: Params = { channel };
  let who = '';
  if (user) {
    const of = authoredBy(user);
    who = ` AND ${of.sql}`;
    Object.assign(params, of.params);
  }
  const [span] = await rows<{ n: number; lo: number; hi: number }>(ctx.client, `SELECT count() AS n, toUnixTimestamp64Milli(min(ts)) AS lo, toUnixTimestamp64Milli(max(ts)) AS hi FROM messages WHERE channel = {channel:String}${who}`, params);
  if (!span || span.n === 0) throw new ApiError(404, `no messages of ${user ? `${user.login} in ` : ''}#${channel}`);
  params.at = Math.floor(Number(span.lo) + Math.random() * (Number(span.hi) - Number(span.lo)));
  const r = await rows<Record<string, unknown>>(ctx.client, `SELECT ${EVENT_MESSAGE_COLUMNS} FROM messages WHERE channel = {channel:String}${who} AND ts >= fromUnixTimestamp64Milli({at:Int64}, 'UTC') ORDER BY ts, id LIMIT 1`, params);
  const m = r[0] ? toJustlog(messageEvent(r[0])) : null;
  return m ? [m] : [];
}
