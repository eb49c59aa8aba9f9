/** `/api/v1/channels`: the followed channels (the `channels` table) and what is stored per channel. */
import type { ClickHouseClient } from '../../core/clickhouse.ts';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext, IngestControl, IngestState } from '../context.ts';
import { INGEST_STALLED_S } from '../../core/config.ts';
import { lifecycleTypes, type Lifecycle } from '../../core/events.ts';
import { iso, rows, rowsOrEmpty } from '../db.ts';
import { ApiError, errorResponses, errorSchema, mutationErrorResponses } from '../errors.ts';
import { assertKnownChannels } from '../known-channels.ts';
import { alignedBucket, chatTotals, coveredEnds } from '../rollups.ts';
import { channelParams, isoTime, loginSchema, rangeQuery } from '../schemas.ts';

const ingestStateSchema = z.enum(['joined', 'joining', 'parted', 'disabled', 'stalled']);

const channelSchema = z.object({
  login: z.string(),
  channel_id: z.string().nullable(),
  /** In the `channels` table (followed by ingest); false for channels that only have imported history. */
  configured: z.boolean(),
  /**
   * Followed by ingest: an enabled `channels` row, or a login of this process's TWITCH_CHANNELS (the ingestor
   * joins those with or without a row). Only followed channels can be `stalled`.
   */
  followed: z.boolean(),
  enabled: z.boolean(),
  added_at: isoTime.nullable(),
  messages: z.number(),
  last_message_at: isoTime.nullable(),
  /** From the in-process ingestor, else the latest `ingest_events` row (`stalled`: a followed channel whose row says joined or joining but is older than 3 heartbeat periods); null when unknown (a followed channel: no ingestor has connected with it yet). */
  ingest_state: ingestStateSchema.nullable(),
});
export type ChannelOut = z.infer<typeof channelSchema>;

interface ConfigRow {
  login: string;
  channel_id: string | null;
  enabled: boolean;
  removed: boolean;
  added_at_ms: number;
}

export interface ChannelSummary {
  channel: string;
  channel_id: string | null;
  n: number;
  last_ms: number;
}

/**
 * The query {@link channelSummaries} sends. Only `count()`, `max(ts)` and `any(channel_id)` grouped by
 * `channel`, so that the `channel_summary` projection (migration 0045) can answer it: a few rows per part
 * instead of a scan of every message, which grows with all history (at 40M messages 7-48 ms against
 * 0.4-1.3 s). Figures and exactness: the migration's header.
 */
export const CHANNEL_SUMMARY_SQL = 'SELECT channel, any(channel_id) AS channel_id, count() AS n, toUnixTimestamp64Milli(max(ts)) AS last_ms FROM messages GROUP BY channel ORDER BY channel';

/**
 * Messages, newest message and a channel id per channel with stored messages, exact: the projection is
 * rebuilt for every part an opt-out's `ALTER TABLE ... DELETE` or a retention (TTL) merge rewrites, and
 * parts without it yet are read row by row. `optimize_use_projections` is set on the call because chdb
 * keeps session settings between calls (DEVELOPERS.md).
 */
export function channelSummaries(client: ClickHouseClient): Promise<ChannelSummary[]> {
  return rows<ChannelSummary>(client, CHANNEL_SUMMARY_SQL, {}, { optimize_use_projections: 1 });
}

/** `alive` is the ingestor's heartbeat, sent only for a channel it is joined to. */
const LIFECYCLE_STATE: Record<Lifecycle['event'], IngestState> = { connected: 'joining', joined: 'joined', reconnected: 'joining', parted: 'parted', disconnected: 'joining', gap: 'joined', alive: 'joined' };

/**
 * Each channel's latest lifecycle event (`event`, a name of {@link lifecycleTypes}) and its time (`last_ms`),
 * answered by the `latest_event` projection (migration 0046): the heartbeats (`alive`, 720 rows a day per
 * channel) made it a scan of ~1 s per year of 100 channels. The projection keeps the Enum8's code
 * (`toInt8(event)`, so later migrations can add lifecycle types); the code is the type's position in
 * `lifecycleTypes` + 1, as the column's Enum8 numbers them (test/api/mutations.test.ts checks every one).
 */
export const LATEST_LIFECYCLE_SQL =
  `SELECT channel, [${lifecycleTypes.map((t) => `'${t}'`).join(', ')}][argMax(toInt8(event), ts)] AS event, toUnixTimestamp64Milli(max(ts)) AS last_ms FROM ingest_events GROUP BY channel`;

/** Older than this, a latest row saying joined means a dead ingestor: a joined one sends a heartbeat every period. */
const STALLED_AFTER_MS = INGEST_STALLED_S * 1000;

/** A channel's latest `ingest_events` row ({@link LATEST_LIFECYCLE_SQL}). */
export interface LatestLifecycle {
  channel: string;
  event: Lifecycle['event'];
  last_ms: number;
}

const configRows = (client: ClickHouseClient) =>
  rows<ConfigRow>(client, 'SELECT login, channel_id, enabled, removed, toUnixTimestamp64Milli(added_at) AS added_at_ms FROM channels FINAL');

/**
 * The channel list of `GET /api/v1/channels` (followed ones, then ones with stored history only), and each
 * channel's latest lifecycle row it judged `ingest_state` by (empty when `ingest`, the in-process ingestor,
 * answers instead). `twichist status` reads it too, so the API and the operator see one definition of stalled.
 * `envChannels` (the config's TWITCH_CHANNELS) are followed whether or not they have a table row or chat: the
 * full stack's ingest follows them without a row, so judged by their lifecycle rows alone a dead ingestor's
 * channel read `joined` for ever and one whose join was refused was not listed at all. A table row that is
 * disabled still shows `disabled`, as before.
 */
export async function listChannels(client: ClickHouseClient, ingest: IngestControl | null, envChannels: readonly string[]): Promise<{ channels: ChannelOut[]; latest: Map<string, LatestLifecycle> }> {
  const [configured, counts, lifecycle] = await Promise.all([
    configRows(client),
    channelSummaries(client),
    // optimize_use_projections set on the call: chdb keeps session settings between calls (DEVELOPERS.md).
    ingest ? Promise.resolve([]) : rowsOrEmpty<LatestLifecycle>(client, LATEST_LIFECYCLE_SQL, {}, { optimize_use_projections: 1 }),
  ]);
  const live = ingest?.state() ?? {};
  const now = Date.now();
  const latest = new Map(lifecycle.map((l) => [l.channel, l]));
  const eventState = (login: string): IngestState | null => {
    const l = latest.get(login);
    return l === undefined ? null : (LIFECYCLE_STATE[l.event] ?? null);
  };
  // Only for followed channels: a channel with imported history only has no ingestor to stall.
  const followedState = (login: string): IngestState | null => {
    const state = eventState(login);
    // joining too: an ingestor stopped (its last rows say disconnected) or stuck reconnecting sends no heartbeat
    return (state === 'joined' || state === 'joining') && now - Number(latest.get(login)!.last_ms) > STALLED_AFTER_MS ? 'stalled' : state;
  };
  const stats = new Map(counts.map((c) => [c.channel, c]));
  const out = new Map<string, ChannelOut>();
  for (const c of configured) {
    if (c.removed) continue;
    const s = stats.get(c.login);
    out.set(c.login, {
      login: c.login,
      channel_id: c.channel_id ?? s?.channel_id ?? null,
      configured: true,
      followed: c.enabled,
      enabled: c.enabled,
      added_at: iso(Number(c.added_at_ms)),
      messages: s?.n ?? 0,
      last_message_at: s ? iso(Number(s.last_ms)) : null,
      ingest_state: !c.enabled ? 'disabled' : (live[c.login] ?? followedState(c.login)),
    });
  }
  for (const login of envChannels) {
    if (out.has(login)) continue;
    const s = stats.get(login);
    out.set(login, { login, channel_id: s?.channel_id ?? null, configured: false, followed: true, enabled: true, added_at: null, messages: s?.n ?? 0, last_message_at: s ? iso(Number(s.last_ms)) : null, ingest_state: live[login] ?? followedState(login) });
  }
  for (const s of counts) {
    if (out.has(s.channel)) continue;
    out.set(s.channel, { login: s.channel, channel_id: s.channel_id, configured: false, followed: false, enabled: false, added_at: null, messages: s.n, last_message_at: iso(Number(s.last_ms)), ingest_state: live[s.channel] ?? eventState(s.channel) });
  }
  return { channels: [...out.values()].sort((a, b) => a.login.localeCompare(b.login)), latest };
}

export function channelRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  /** Writes the new state, then tells an in-process ingestor the full enabled list (it polls the table otherwise). */
  const writeChannel = async (row: { login: string; channel_id: string | null; enabled: boolean; removed: boolean; added_at: number }) => {
    await ctx.client.insert({ table: 'channels', values: [{ ...row, updated_at: Date.now() }], format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: '', async_insert: 0 } });
    if (ctx.ingest?.setChannels) {
      // The ingestor's wanted set is TWITCH_CHANNELS plus the enabled table rows; a table row that is
      // disabled or removed overrides the environment.
      const all = await configRows(ctx.client);
      const off = new Set(all.filter((c) => !c.enabled || c.removed).map((c) => c.login));
      const on = all.filter((c) => c.enabled && !c.removed).map((c) => c.login);
      await ctx.ingest.setChannels([...new Set([...ctx.config.twitch.channels.filter((c) => !off.has(c)), ...on])].sort());
    }
    await ctx.notifier?.channelsChanged();
  };

  const one = async (login: string) => {
    const c = (await listChannels(ctx.client, ctx.ingest, ctx.config.twitch.channels)).channels.find((x) => x.login === login);
    if (!c) throw new ApiError(404, `channel ${login} is not followed and has no stored messages`);
    return c;
  };

  return async (app) => {
    app.get(
      '/',
      { schema: { summary: 'Channels: followed ones and ones with stored history', tags: ['channels'], response: { 200: z.object({ items: z.array(channelSchema) }), ...errorResponses } } },
      async () => ({ items: (await listChannels(ctx.client, ctx.ingest, ctx.config.twitch.channels)).channels }),
    );

    app.post(
      '/',
      {
        schema: {
          summary: 'Follow a channel (ingest joins it without a restart)',
          description: '201 when new, 200 when already followed (`enabled` is set; a `channel_id` is stored if none was). 409 when it is followed with another `channel_id`.',
          tags: ['channels'],
          security: [{ bearer: [] }],
          body: z.object({ login: loginSchema, channel_id: z.string().regex(/^\d{1,20}$/).nullable().optional(), enabled: z.boolean().default(true) }),
          response: { 201: channelSchema, 200: channelSchema, 409: errorSchema, ...mutationErrorResponses },
        },
      },
      async (req, reply) => {
        const existing = (await configRows(ctx.client)).find((c) => c.login === req.body.login && !c.removed);
        // A different id for a followed login is a mistake or a renamed channel: never overwrite it silently.
        const id = req.body.channel_id ?? null;
        if (existing && existing.channel_id !== null && id !== null && id !== existing.channel_id) {
          throw new ApiError(409, `channel ${req.body.login} is already followed with channel_id ${existing.channel_id}, not ${id}: DELETE it first to follow it under another id`, { channel_id: existing.channel_id });
        }
        await writeChannel({ login: req.body.login, channel_id: id ?? existing?.channel_id ?? null, enabled: req.body.enabled, removed: false, added_at: existing ? Number(existing.added_at_ms) : Date.now() });
        reply.code(existing ? 200 : 201);
        return one(req.body.login);
      },
    );

    app.patch(
      '/:channel',
      {
        schema: {
          summary: 'Enable or disable a followed channel',
          tags: ['channels'],
          security: [{ bearer: [] }],
          params: channelParams,
          body: z.object({ enabled: z.boolean() }),
          response: { 200: channelSchema, ...mutationErrorResponses },
        },
      },
      async (req) => {
        const existing = (await configRows(ctx.client)).find((c) => c.login === req.params.channel && !c.removed);
        if (!existing) throw new ApiError(404, `channel ${req.params.channel} is not followed; add it with POST /api/v1/channels`);
        await writeChannel({ login: existing.login, channel_id: existing.channel_id, enabled: req.body.enabled, removed: false, added_at: Number(existing.added_at_ms) });
        return one(existing.login);
      },
    );

    app.delete(
      '/:channel',
      {
        schema: {
          summary: 'Stop following a channel (ingest parts; stored history is kept)',
          tags: ['channels'],
          security: [{ bearer: [] }],
          params: channelParams,
          response: { 200: z.object({ login: z.string(), removed: z.literal(true) }), ...mutationErrorResponses },
        },
      },
      async (req) => {
        const existing = (await configRows(ctx.client)).find((c) => c.login === req.params.channel && !c.removed);
        if (!existing) throw new ApiError(404, `channel ${req.params.channel} is not followed`);
        await writeChannel({ login: existing.login, channel_id: existing.channel_id, enabled: false, removed: true, added_at: Number(existing.added_at_ms) });
        return { login: existing.login, removed: true as const };
      },
    );

    app.get(
      '/:channel/stats',
      {
        schema: {
          summary: 'Totals for a channel over a time range',
          description: 'From the chat rollups: the coarsest bucket both range ends fall on (1d, 1h, 1m), else 30 s with the ends widened to 30 s boundaries; `from` and `to` in the answer are the widened ends (null: open). No range: all time.',
          tags: ['channels'],
          params: channelParams,
          querystring: z.object(rangeQuery),
          response: {
            200: z.object({
              channel: z.string(),
              from: isoTime.nullable(),
              to: isoTime.nullable(),
              bucket: z.string(),
              messages: z.number(),
              chatters: z.number(),
              first_time_chatters: z.number(),
              sentiment_mean: z.number().nullable(),
              toxicity_mean: z.number().nullable(),
              toxicity_max: z.number(),
              emote_uses: z.number(),
              bits: z.number(),
              moderation: z.object({ bans: z.number(), timeouts: z.number(), deletions: z.number(), clears: z.number() }),
              first_window: isoTime.nullable(),
              last_window: isoTime.nullable(),
            }),
            ...errorResponses,
          },
        },
      },
      async (req) => {
        const { from, to } = req.query;
        if (from !== undefined && to !== undefined && from >= to) throw new ApiError(400, 'from must be before to');
        const range = from === undefined && to === undefined ? null : { from: from ?? 0, to: to ?? 8_000_000_000_000 };
        await assertKnownChannels(ctx, [req.params.channel]);
        const bucket = alignedBucket(from, to);
        const t = await chatTotals(ctx.client, req.params.channel, bucket, range);
        return {
          channel: req.params.channel,
          // the range the totals cover (whole buckets), as timelines and top emotes echo it; it echoed the asked
          // ends, so a caller of an unaligned range could not tell that up to 30 s more on each side was counted
          ...coveredEnds(from, to, bucket),
          bucket,
          messages: t?.msgs ?? 0,
          chatters: t?.chatters ?? 0,
          first_time_chatters: t?.first_time_chatters ?? 0,
          sentiment_mean: t?.sentiment_mean ?? null,
          toxicity_mean: t?.toxicity_mean ?? null,
          toxicity_max: t?.toxicity_max ?? 0,
          emote_uses: t?.emote_uses ?? 0,
          bits: t?.bits ?? 0,
          moderation: { bans: t?.bans ?? 0, timeouts: t?.timeouts ?? 0, deletions: t?.deletions ?? 0, clears: t?.clears ?? 0 },
          first_window: t?.first_window == null ? null : iso(Number(t.first_window)),
          last_window: t?.last_window == null ? null : iso(Number(t.last_window)),
        };
      },
    );
  };
}
