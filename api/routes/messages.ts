/** `/api/v1/messages`: list and full-text search, and one message with the moderation on it. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { rows } from '../db.ts';
import { ApiError, errorResponses } from '../errors.ts';
import { assertKnownChannels } from '../known-channels.ts';
import { listMessages, MESSAGE_COLUMNS, messagePageSchema, messageSchema, assertSearchable, toMessage, withTopics, type MessageRow } from '../messages-query.ts';
import { modActionSchema, MOD_COLUMNS, toModAction, type ModRow } from '../moderation-query.ts';
import { boolQuery, cursorSchema, limitSchema, knownChannelSchema, rangeQuery, userLoginSchema } from '../schemas.ts';

export const messageListQuery = z.object({
  channel: knownChannelSchema.optional(),
  user: userLoginSchema.optional(),
  /** Full-text: whole tokens, case-insensitive, all must occur. */
  q: z.string().trim().min(1).max(500).optional(),
  ...rangeQuery,
  include_deleted: boolQuery,
  cursor: cursorSchema.optional(),
  limit: limitSchema(100, 1000),
});

export function messageRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/',
      {
        schema: {
          summary: 'List or search messages, newest first',
          description:
            'Filters combine with AND. `q` matches whole tokens case-insensitively (the `text_idx` index); every token must occur (at most 16 distinct ones). ' +
            'Deleted messages (a CLEARMSG deletion) are left out unless `include_deleted`. Pagination is a keyset on (ts, id): pass `next_cursor` back as `cursor`; pages stay stable while new messages arrive.',
          tags: ['messages'],
          querystring: messageListQuery,
          response: { 200: messagePageSchema, ...errorResponses },
        },
      },
      async (req) => {
        const q = req.query;
        assertSearchable(q.q);
        if (q.from !== undefined && q.to !== undefined && q.from >= q.to) throw new ApiError(400, 'from must be before to');
        if (q.channel !== undefined) await assertKnownChannels(ctx, [q.channel]);
        return listMessages(ctx.client, { channel: q.channel, login: q.user, q: q.q, from: q.from, to: q.to, includeDeleted: q.include_deleted ?? false, cursor: q.cursor, limit: q.limit });
      },
    );

    app.get(
      '/:id',
      {
        schema: {
          summary: 'One message, with its deletion and moderation on its author',
          tags: ['messages'],
          params: z.object({ id: z.string().min(1).max(128) }),
          response: {
            200: z.object({
              message: messageSchema,
              /** The CLEARMSG that deleted it, or null. */
              deletion: modActionSchema.nullable(),
              /** Bans and timeouts of the author in the channel within 10 minutes after the message. */
              author_actions: z.array(modActionSchema),
            }),
            ...errorResponses,
          },
        },
      },
      async (req) => {
        const found = await rows<MessageRow>(ctx.client, `SELECT ${MESSAGE_COLUMNS}, 0 AS deleted FROM messages WHERE id = {id:String} LIMIT 1`, { id: req.params.id });
        if (found.length === 0) throw new ApiError(404, `no message with id ${JSON.stringify(req.params.id)}`);
        const [m] = await withTopics(ctx.client, found);
        const actions = await rows<ModRow>(
          ctx.client,
          `SELECT ${MOD_COLUMNS} FROM mod_actions
           WHERE channel = {channel:String} AND ts >= fromUnixTimestamp64Milli({ts:Int64}, 'UTC')
             AND ((action = 'delete' AND target_msg_id = {id:String})
               OR (action IN ('ban', 'timeout') AND target_login = {login:String} AND ts <= fromUnixTimestamp64Milli({ts:Int64}, 'UTC') + INTERVAL 10 MINUTE))
           ORDER BY ts, id`,
          { channel: m.channel, ts: Number(m.ts_ms), id: m.id, login: m.login },
        );
        const deletion = actions.find((a) => a.action === 'delete') ?? null;
        return {
          message: { ...toMessage(m), deleted: deletion !== null },
          deletion: deletion ? toModAction(deletion) : null,
          author_actions: actions.filter((a) => a.action !== 'delete').map(toModAction),
        };
      },
    );
  };
}

