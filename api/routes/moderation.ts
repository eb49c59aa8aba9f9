/**
 * `/api/v1/moderation`: actions (`mod_actions`), counts per window from the chat rollups, and how well
 * moderation risk ranked a channel's messages against those actions (`/risk`).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actionedMessagesSql, RISK_LABEL_WINDOW_S, riskQualitySql } from '../../analytics/risk-quality.ts';
import type { ApiContext } from '../context.ts';
import { iso, msParam, rollupTable, rows, rowsOrEmpty } from '../db.ts';
import { ApiError, errorResponses } from '../errors.ts';
import { assertKnownChannels } from '../known-channels.ts';
import { MESSAGE_COLUMNS, messageSchema, messageWhere, toMessage, withTopics, type MessageRow } from '../messages-query.ts';
import { listModActions, MOD_TYPES, modPageSchema } from '../moderation-query.ts';
import { chatSums, resolveRange } from '../rollups.ts';
import { boolQuery, bucketSchema, cursorSchema, isoTime, limitSchema, knownChannelSchema, rangeQuery, userLoginSchema } from '../schemas.ts';

export const modListQuery = z.object({
  channel: knownChannelSchema.optional(),
  type: z.enum(MOD_TYPES).optional(),
  target: userLoginSchema.optional(),
  ...rangeQuery,
  cursor: cursorSchema.optional(),
  limit: limitSchema(100, 1000),
});

const counts = z.object({ bans: z.number(), timeouts: z.number(), deletions: z.number(), clears: z.number() });

const DAY_MS = 86_400_000;

const riskResponse = z.object({
  channel: z.string(),
  /** `null` when the channel has no stored chat and no range was given. */
  range: z.object({ from: isoTime, to: isoTime }).nullable(),
  /** A message is actioned when its author was timed out or banned within this many seconds after it. */
  window_s: z.number(),
  quality: z.object({
    messages: z.number(),
    actioned: z.number(),
    /** Sum of mod_risk: how many actioned messages the score expects (its scale fits no channel exactly; docs/sentiment.md, "Scale"). */
    expected_actioned: z.number(),
    /** ROC AUC of mod_risk for "actioned" (0.5 = chance, 1 = every actioned message ranked first); `null` when all or none were actioned. */
    auc: z.number().nullable(),
  }),
  items: z.array(
    messageSchema.extend({
      actioned: z.boolean(),
      /** The author's first ban or timeout in the channel at or after the message, within the window or not (`null`: none stored). */
      author_action: z.object({ action: z.enum(['ban', 'timeout']), ts: isoTime, duration_s: z.number().nullable() }).nullable(),
    }),
  ),
});

interface RiskTopRow {
  id: string;
  ts_ms: number;
  login: string;
  actioned: number;
}

interface AuthorActionRow {
  id: string;
  author_action: '' | 'ban' | 'timeout';
  author_action_ms: number | null;
  author_action_duration_s: number | null;
}

export function moderationRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/actions',
      { schema: { summary: 'Bans, timeouts, deletions and clears, newest first', tags: ['moderation'], querystring: modListQuery, response: { 200: modPageSchema, ...errorResponses } } },
      async (req) => {
        const q = req.query;
        if (q.from !== undefined && q.to !== undefined && q.from >= q.to) throw new ApiError(400, 'from must be before to');
        if (q.channel !== undefined) await assertKnownChannels(ctx, [q.channel]);
        return listModActions(ctx.client, { channel: q.channel, type: q.type, target: q.target, from: q.from, to: q.to, cursor: q.cursor, limit: q.limit });
      },
    );

    app.get(
      '/risk',
      {
        schema: {
          summary: "How well moderation risk ranked a channel's messages against the bans and timeouts that followed",
          description:
            `Scores every message of the range with the label the moderation eval uses: its author was timed out or banned within ${RISK_LABEL_WINDOW_S} s after it ` +
            '(docs/sentiment.md). `quality` is over all of them; `items` are the highest-risk messages first, optionally only those moderators did (`actioned=true`) or did not (`actioned=false`) act on. ' +
            "Range defaults to the last 24 hours of the channel's stored chat.",
          tags: ['moderation'],
          querystring: z.object({ channel: knownChannelSchema, ...rangeQuery, actioned: boolQuery, limit: limitSchema(50, 500) }),
          response: { 200: riskResponse, ...errorResponses },
        },
      },
      async (req, reply) => {
        const { channel, actioned, limit } = req.query;
        let { from, to } = req.query;
        if (from !== undefined && to !== undefined && from >= to) throw new ApiError(400, 'from must be before to');
        await assertKnownChannels(ctx, [channel]);
        if (to === undefined) {
          const [r] = await rowsOrEmpty<{ last: number | null }>(ctx.client, 'SELECT if(count() = 0, NULL, toUnixTimestamp(max(window))) AS last FROM chat_1h WHERE channel = {channel:String}', { channel });
          if (!r || r.last === null) {
            if (from === undefined) return { channel, range: null, window_s: RISK_LABEL_WINDOW_S, quality: { messages: 0, actioned: 0, expected_actioned: 0, auc: null }, items: [] };
            to = Date.now();
          } else to = Number(r.last) * 1000 + 3_600_000;
          if (from !== undefined && from >= to) throw new ApiError(400, 'from must be before to');
        }
        from ??= to - DAY_MS;
        const params = { channel, from, to, limit, actioned: actioned ? 1 : 0 };
        // the range's messages as every message listing selects them, deleted ones included (they were scored too)
        const range = messageWhere({ channel, from, to, includeDeleted: true, limit });
        const messagesWhere = range.where.join(' AND ');
        const actionsWhere = `channel = {channel:String} AND ts >= ${msParam('from')} AND ts < ${msParam('to')} + INTERVAL ${RISK_LABEL_WINDOW_S} SECOND`;
        // the reads grow with the range (every message of it is joined and ranked): a heavy route (app.ts ApiLimits)
        const { quality, top, full, authorActions } = await ctx.heavy(reply, async () => {
          const [quality, top] = await Promise.all([
            rows<{ messages: number; actioned_messages: number; expected_actioned: number; auc: number | null }>(ctx.client, riskQualitySql(messagesWhere, actionsWhere, false), params),
            // The ranking reads ts, id, login and mod_risk of the range; full rows only for the page. Without
            // a filter only the page is joined with the actions (bench/api.ts, 1M messages: ~130 instead of
            // ~250 ms); a filter needs every message's label first.
            rows<RiskTopRow>(
              ctx.client,
              `SELECT id, toUnixTimestamp64Milli(ts) AS ts_ms, login, actioned
               FROM (${actionedMessagesSql(messagesWhere, actionsWhere, actioned === undefined ? { top: '{limit:UInt32}' } : {})})
               ${actioned === undefined ? '' : 'WHERE actioned = {actioned:UInt8}'}
               ORDER BY mod_risk DESC, ts DESC, id DESC LIMIT {limit:UInt32}`,
              params,
            ),
          ]);
          if (top.length === 0) return { quality, top, full: [], authorActions: [] };
          const pageParams = { ...params, ids: top.map((t) => t.id) };
          const [full, authorActions] = await Promise.all([
            // the page's rows, with `deleted` as every message listing computes it
            rows<MessageRow>(ctx.client, `SELECT ${MESSAGE_COLUMNS}, ${range.deletedIn} AS deleted FROM messages WHERE ${messagesWhere} AND id IN {ids:Array(String)}`, pageParams).then((r) => withTopics(ctx.client, r)),
            // The author's first ban or timeout at or after each page message, however long after: the label's
            // actions end 60 s after the range, so one later than that showed as none stored (17 of the 500
            // riskiest messages of riotgames1's first 30 minutes). Only the page's authors' actions are read.
            rows<AuthorActionRow>(
              ctx.client,
              `SELECT id, author_action, toUnixTimestamp64Milli(author_action_ts) AS author_action_ms, author_action_duration_s
               FROM (${actionedMessagesSql(`${messagesWhere} AND id IN {ids:Array(String)}`, `channel = {channel:String} AND ts >= ${msParam('from')} AND target_login IN {logins:Array(String)}`)})`,
              { ...pageParams, logins: [...new Set(top.map((t) => t.login))] },
            ),
          ]);
          return { quality, top, full, authorActions };
        });
        const byId = new Map(full.map((m) => [m.id, m]));
        const actionOf = new Map(authorActions.map((a) => [a.id, a]));
        const q = quality[0];
        return {
          channel,
          range: { from: iso(from), to: iso(to) },
          window_s: RISK_LABEL_WINDOW_S,
          quality: { messages: Number(q.messages), actioned: Number(q.actioned_messages), expected_actioned: Number(q.expected_actioned), auc: q.auc === null ? null : Number(q.auc) },
          items: top.flatMap((t) => {
            const m = byId.get(t.id);
            // gone between the two reads (an opt-out deleted it): left out rather than shown half
            if (!m) return [];
            const a = actionOf.get(t.id);
            return [{
              ...toMessage(m),
              actioned: Boolean(t.actioned),
              author_action: a === undefined || a.author_action === '' ? null : { action: a.author_action, ts: iso(Number(a.author_action_ms)), duration_s: a.author_action_duration_s },
            }];
          }),
        };
      },
    );

    app.get(
      '/stats',
      {
        schema: {
          summary: 'Moderation counts per window and per type',
          description: 'From the chat rollup matching `bucket`; range defaults as for the timeline. Without `channel`: all channels together.',
          tags: ['moderation'],
          querystring: z.object({ channel: knownChannelSchema.optional(), bucket: bucketSchema.default('1m'), ...rangeQuery }),
          response: { 200: z.object({ channel: z.string().nullable(), bucket: bucketSchema, range: z.object({ from: isoTime, to: isoTime }).nullable(), totals: counts, windows: z.array(counts.extend({ window: isoTime })) }), ...errorResponses },
        },
      },
      async (req) => {
        const { channel, bucket, from, to } = req.query;
        if (channel !== undefined) await assertKnownChannels(ctx, [channel]);
        const range = await resolveRange(ctx.client, rollupTable('chat', bucket), channel ?? null, bucket, from, to);
        const points = range ? await chatSums(ctx.client, channel ?? null, bucket, range) : [];
        const windows = points.filter((p) => p.bans + p.timeouts + p.deletions + p.clears > 0).map((p) => ({ window: iso(Number(p.w)), bans: p.bans, timeouts: p.timeouts, deletions: p.deletions, clears: p.clears }));
        const totals = { bans: 0, timeouts: 0, deletions: 0, clears: 0 };
        for (const w of windows) {
          totals.bans += w.bans;
          totals.timeouts += w.timeouts;
          totals.deletions += w.deletions;
          totals.clears += w.clears;
        }
        return { channel: channel ?? null, bucket, range: range ? { from: iso(range.from), to: iso(range.to) } : null, totals, windows };
      },
    );
  };
}
