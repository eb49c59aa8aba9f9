/** `/api/v1/moderation`: actions (`mod_actions`) and counts per window from the chat rollups. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { iso, rollupTable } from '../db.ts';
import { ApiError, errorResponses } from '../errors.ts';
import { listModActions, MOD_TYPES, modPageSchema } from '../moderation-query.ts';
import { chatSums, resolveRange } from '../rollups.ts';
import { bucketSchema, cursorSchema, isoTime, limitSchema, loginSchema, rangeQuery } from '../schemas.ts';

export const modListQuery = z.object({
  channel: loginSchema.optional(),
  type: z.enum(MOD_TYPES).optional(),
  target: loginSchema.optional(),
  ...rangeQuery,
  cursor: cursorSchema.optional(),
  limit: limitSchema(100, 1000),
});

const counts = z.object({ bans: z.number(), timeouts: z.number(), deletions: z.number(), clears: z.number() });

export function moderationRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/actions',
      { schema: { summary: 'Bans, timeouts, deletions and clears, newest first', tags: ['moderation'], querystring: modListQuery, response: { 200: modPageSchema, ...errorResponses } } },
      async (req) => {
        const q = req.query;
        if (q.from !== undefined && q.to !== undefined && q.from >= q.to) throw new ApiError(400, 'from must be before to');
        return listModActions(ctx.client, { channel: q.channel, type: q.type, target: q.target, from: q.from, to: q.to, cursor: q.cursor, limit: q.limit });
      },
    );

    app.get(
      '/stats',
      {
        schema: {
          summary: 'Moderation counts per window and per type',
          description: 'From the chat rollup matching `bucket`; range defaults as for the timeline. Without `channel`: all channels together.',
          tags: ['moderation'],
          querystring: z.object({ channel: loginSchema.optional(), bucket: bucketSchema.default('1m'), ...rangeQuery }),
          response: { 200: z.object({ channel: z.string().nullable(), bucket: bucketSchema, range: z.object({ from: isoTime, to: isoTime }).nullable(), totals: counts, windows: z.array(counts.extend({ window: isoTime })) }), ...errorResponses },
        },
      },
      async (req) => {
        const { channel, bucket, from, to } = req.query;
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
