/** `/api/v1/analytics`: timelines from the rollups, emotes, derived analytics tables and channel comparison. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ClickHouseClient } from '../../core/clickhouse.ts';
import { newestTopicVersionSql } from '../../enrich/topics/refresh.ts';
import type { ApiContext } from '../context.ts';
import { iso, msParam, recordsOrEmpty, rollupTable, rows, rowsOrEmpty, type Params } from '../db.ts';
import { ApiError, errorResponses } from '../errors.ts';
import { assertKnownChannels } from '../known-channels.ts';
import { alignedBucket, chatTimeline, coveredEnds, emoteTimeline, resolveRange, topEmotes } from '../rollups.ts';
import { bucketSchema, channelParams, isoTime, limitSchema, loginListSchema, rangeQuery } from '../schemas.ts';

const timelinePoint = z.object({
  window: isoTime,
  messages: z.number(),
  chatters: z.number(),
  first_time_chatters: z.number(),
  /** Mean sentiment in [-1, 1]; null without messages. */
  sentiment_mean: z.number().nullable(),
  sentiment: z.object({ negative: z.number(), neutral: z.number(), positive: z.number() }),
  toxicity_mean: z.number().nullable(),
  toxicity_max: z.number(),
  emote_uses: z.number(),
  bits: z.number(),
});

const rangeOut = z.object({ from: isoTime, to: isoTime }).nullable();
const recordList = z.object({ items: z.array(z.record(z.string(), z.unknown())) });

/** Rows of a derived table we do not own, as records (JSON-safe; times ISO 8601 UTC: `recordsOrEmpty`). */
/** Newest (or biggest) first; keys of a fixed map, never input. */
const DERIVED_ORDER = { bursts: 'start DESC', topics: 'window_start DESC, topic_id', chatter_segments: 'messages DESC, login', hype_predictions: '`window` DESC', moderation_lag: 'channel' } as const;

/**
 * Extra condition per table. `topics`: only each window's newest version, as `topic_window_state` records it (the
 * refresh's own NEWEST, enrich/topics/refresh.ts). A refresh writes its version and then deletes the older ones
 * without waiting, so for a moment both are stored; and a newest version may have no topics at all (an opt-out
 * emptied the window), which the topics table alone cannot tell from "not recomputed yet".
 */
const DERIVED_WHERE: Partial<Record<keyof typeof DERIVED_ORDER, string>> = {
  topics: ` AND ${newestTopicVersionSql('channel = {channel:String}')}`,
};

async function derivedRows(client: ClickHouseClient, table: keyof typeof DERIVED_ORDER, channel: string, limit: number): Promise<Array<Record<string, unknown>>> {
  return recordsOrEmpty(client, `SELECT * FROM ${table} WHERE channel = {channel:String}${DERIVED_WHERE[table] ?? ''} ORDER BY ${DERIVED_ORDER[table]} LIMIT {limit:UInt32}`, { channel, limit });
}

export function analyticsRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/:channel/timeline',
      {
        schema: {
          summary: 'Messages, chatters, sentiment, toxicity and emote uses per bucket',
          description: 'From the rollup matching `bucket` (chat_30s, chat_1m, chat_1h, chat_1d). Without `to`: up to the channel\'s latest window; without `from`: 500 buckets before `to`. Windows without data are left out.',
          tags: ['analytics'],
          params: channelParams,
          querystring: z.object({ bucket: bucketSchema.default('1m'), ...rangeQuery }),
          response: { 200: z.object({ channel: z.string(), bucket: bucketSchema, range: rangeOut, points: z.array(timelinePoint) }), ...errorResponses },
        },
      },
      async (req) => {
        const { channel } = req.params;
        const { bucket, from, to } = req.query;
        await assertKnownChannels(ctx, [channel]);
        const range = await resolveRange(ctx.client, rollupTable('chat', bucket), channel, bucket, from, to);
        const points = range ? await chatTimeline(ctx.client, channel, bucket, range) : [];
        return {
          channel,
          bucket,
          range: range ? { from: iso(range.from), to: iso(range.to) } : null,
          points: points.map((p) => ({
            window: iso(Number(p.w)),
            messages: p.msgs,
            chatters: p.chatters,
            first_time_chatters: p.first_time_chatters,
            sentiment_mean: p.sentiment_mean,
            sentiment: { negative: p.neg, neutral: p.neu, positive: p.pos },
            toxicity_mean: p.toxicity_mean,
            toxicity_max: p.toxicity_max,
            emote_uses: p.emote_uses,
            bits: p.bits,
          })),
        };
      },
    );

    app.get(
      '/:channel/emotes',
      {
        schema: {
          summary: 'Top emotes by uses, with distinct users',
          tags: ['analytics'],
          params: channelParams,
          querystring: z.object({
            bucket: bucketSchema.optional().meta({ description: 'rollup to read: every window of it that overlaps the range counts. Default: the coarsest one both given range ends fall on (1d, 1h, 1m), else 30s' }),
            ...rangeQuery,
            limit: limitSchema(20, 500),
          }),
          response: {
            200: z.object({
              channel: z.string(),
              bucket: bucketSchema,
              /** The range the figures cover: the asked one widened to whole buckets; `null` ends are open. */
              range: z.object({ from: isoTime.nullable(), to: isoTime.nullable() }).nullable(),
              items: z.array(z.object({ emote: z.string(), uses: z.number(), users: z.number() })),
            }),
            ...errorResponses,
          },
        },
      },
      async (req) => {
        const { from, to, limit } = req.query;
        if (from !== undefined && to !== undefined && from >= to) throw new ApiError(400, 'from must be before to');
        await assertKnownChannels(ctx, [req.params.channel]);
        const range = from === undefined && to === undefined ? null : { from: from ?? 0, to: to ?? 8_000_000_000_000 };
        // The default was 1h: a 10-minute range of riotgames1 counted its hour, LUL 4,569 uses where the
        // range holds 664.
        const bucket = req.query.bucket ?? alignedBucket(from, to);
        return {
          channel: req.params.channel,
          bucket,
          range: range && coveredEnds(from, to, bucket),
          items: await topEmotes(ctx.client, req.params.channel, bucket, range, limit),
        };
      },
    );

    app.get(
      '/:channel/emotes/timeline',
      {
        schema: {
          summary: 'Uses of given emotes per bucket',
          tags: ['analytics'],
          params: channelParams,
          querystring: z.object({
            emotes: z
              .string()
              .max(2000)
              .transform((s) => [...new Set(s.split(',').map((e) => e.trim()).filter(Boolean))])
              .pipe(z.array(z.string().max(100)).min(1).max(20)),
            bucket: bucketSchema.default('1m'),
            ...rangeQuery,
          }),
          response: { 200: z.object({ channel: z.string(), bucket: bucketSchema, range: rangeOut, points: z.array(z.object({ window: isoTime, emote: z.string(), uses: z.number(), users: z.number() })) }), ...errorResponses },
        },
      },
      async (req) => {
        const { channel } = req.params;
        const { emotes, bucket, from, to } = req.query;
        await assertKnownChannels(ctx, [channel]);
        const range = await resolveRange(ctx.client, rollupTable('emotes', bucket), channel, bucket, from, to);
        const points = range ? await emoteTimeline(ctx.client, channel, emotes, bucket, range) : [];
        return { channel, bucket, range: range ? { from: iso(range.from), to: iso(range.to) } : null, points: points.map((p) => ({ window: iso(Number(p.w)), emote: p.emote, uses: p.uses, users: p.users })) };
      },
    );

    for (const [path, table, summary] of [
      ['bursts', 'bursts', 'Chat bursts (analytics table `bursts`)'],
      ['topics', 'topics', 'Topics (table `topics`)'],
      ['segments', 'chatter_segments', 'Chatter segments (analytics table `chatter_segments`)'],
      ['hype', 'hype_predictions', 'Hype predictions: per 30-s window, the probability that a volume burst starts within the next minute (table `hype_predictions`)'],
      ['moderation/lag', 'moderation_lag', 'How fast bans/timeouts follow flagged messages, and how many flagged users get one (table `moderation_lag`, one row)'],
    ] as const) {
      app.get(
        `/:channel/${path}`,
        {
          schema: {
            summary,
            description: 'Rows of the derived table for the channel, columns as stored; an empty list until the stage that fills the table is deployed.',
            tags: ['analytics'],
            params: channelParams,
            querystring: z.object({ limit: limitSchema(100, 1000) }),
            response: { 200: recordList, ...errorResponses },
          },
        },
        async (req) => {
          await assertKnownChannels(ctx, [req.params.channel]);
          return { items: await derivedRows(ctx.client, table, req.params.channel, req.query.limit) };
        },
      );
    }

    app.get(
      '/compare',
      {
        schema: {
          summary: 'Compare channels: signatures, similarity matrix, chatter overlap',
          description:
            'From `channel_signatures`, `channel_similarity` and `chatter_overlap` when present. Without them (or with a time range) the overlap (Jaccard of chatter sets) and the emote similarity are computed from the raw tables, with the same definitions: over all history both sources give the same figures.',
          tags: ['analytics'],
          querystring: z.object({ channels: loginListSchema(10).meta({ description: '2-10 channel logins, comma separated; 404 `not_found` naming those Twichist has never seen (not followed and nothing stored)' }), ...rangeQuery }),
          response: {
            200: z.object({
              channels: z.array(z.string()),
              /** Where each part came from: the analytics views, or computed from raw tables (no views yet, or a time range). */
              source: z.object({ similarity: z.enum(['analytics', 'computed']), overlap: z.enum(['analytics', 'computed']) }),
              /** `channel_signatures` rows (period 'all') of the channels. */
              signatures: z.array(z.record(z.string(), z.unknown())),
              /** 1 - Jensen-Shannon divergence (log2) of the channels' emote distributions, in `channels` order; null when either used no emote. */
              similarity: z.array(z.array(z.number().nullable())),
              /** Cosine of the signature feature vectors (analytics only; null otherwise). */
              feature_similarity: z.array(z.array(z.number().nullable())),
              /** One row per pair, a < b, sorted by (a, b). */
              overlap: z.array(z.object({ a: z.string(), b: z.string(), shared_chatters: z.number(), jaccard: z.number() })),
              /** Distinct chatters of each channel: the sets the overlap was computed from. */
              chatters: z.record(z.string(), z.number()),
            }),
            ...errorResponses,
          },
        },
      },
      async (req, reply) => {
        const { channels, from, to } = req.query;
        if (channels.length < 2) throw new ApiError(400, 'compare needs at least two channels');
        if (from !== undefined && to !== undefined && from >= to) throw new ApiError(400, 'from must be before to');
        await assertKnownChannels(ctx, channels);
        return ctx.heavy(reply, () => compareChannels(ctx.client, channels, from ?? null, to ?? null));
      },
    );
  };
}

interface OverlapOut {
  a: string;
  b: string;
  shared_chatters: number;
  jaccard: number;
}

type Matrix = Array<Array<number | null>>;

async function compareChannels(client: ClickHouseClient, channels: string[], from: number | null, to: number | null) {
  const params: Params = { channels };
  const range: string[] = [];
  if (from !== null) {
    range.push(`ts >= ${msParam('from')}`);
    params.from = from;
  }
  if (to !== null) {
    range.push(`ts < ${msParam('to')}`);
    params.to = to;
  }
  const rangeSql = range.length ? ' AND ' + range.join(' AND ') : '';
  const pairsWanted = (channels.length * (channels.length - 1)) / 2;
  const index = new Map(channels.map((c, i) => [c, i]));
  const matrix = (): Matrix => channels.map((_, i) => channels.map((__, j) => (i === j ? 1 : null)));
  const similarity = matrix();
  const featureSimilarity = matrix();
  const chatters: Record<string, number> = Object.fromEntries(channels.map((c) => [c, 0]));
  const signatures = await recordsOrEmpty(client, "SELECT * FROM channel_signatures WHERE channel IN {channels:Array(String)} AND period = 'all' ORDER BY channel", params);

  // The analytics views cover all history; a time range is answered from the raw tables.
  const inPairs = 'channel_a IN {channels:Array(String)} AND channel_b IN {channels:Array(String)}';
  const sim = range.length ? [] : await rowsOrEmpty<{ channel_a: string; channel_b: string; emote_js_similarity: number | null; feature_cosine: number | null }>(client, `SELECT channel_a, channel_b, emote_js_similarity, feature_cosine FROM channel_similarity WHERE ${inPairs}`, params);
  const ov = range.length ? [] : await rowsOrEmpty<{ channel_a: string; channel_b: string; chatters_a: number; chatters_b: number; shared: number; jaccard: number }>(client, `SELECT channel_a, channel_b, chatters_a, chatters_b, shared, jaccard FROM chatter_overlap WHERE ${inPairs}`, params);
  const simSource = sim.length === pairsWanted ? 'analytics' : 'computed';
  const overlapSource = ov.length === pairsWanted ? 'analytics' : 'computed';

  let overlap: OverlapOut[];
  if (overlapSource === 'analytics') {
    // The chatter counts of the same snapshot (stream_chatters, refreshed every 5 minutes): counted live from
    // messages they disagreed with shared_chatters and jaccard between refreshes.
    for (const o of ov) {
      chatters[o.channel_a] = Number(o.chatters_a);
      chatters[o.channel_b] = Number(o.chatters_b);
    }
    overlap = ov.map((o) => ({ a: o.channel_a, b: o.channel_b, shared_chatters: Number(o.shared), jaccard: o.jaccard }));
  } else {
    const counts = await rows<{ channel: string; n: number }>(client, `SELECT channel, uniqExact(login) AS n FROM messages WHERE channel IN {channels:Array(String)}${rangeSql} GROUP BY channel`, params);
    for (const c of counts) chatters[c.channel] = c.n;
    // Jaccard = |A ∩ B| / |A ∪ B| over distinct logins. Cost: one pass over the channels' messages
    // plus a join of their distinct chatter sets (memory ~ distinct (channel, login) pairs).
    const shared = await rows<{ a: string; b: string; shared: number }>(
      client,
      `WITH u AS (SELECT DISTINCT channel, login FROM messages WHERE channel IN {channels:Array(String)}${rangeSql})
       SELECT l.channel AS a, r.channel AS b, count() AS shared FROM u AS l INNER JOIN u AS r ON l.login = r.login
       WHERE l.channel < r.channel GROUP BY a, b`,
      params,
    );
    const byPair = new Map(shared.map((s) => [`${s.a}\u0000${s.b}`, s.shared]));
    overlap = [];
    for (let i = 0; i < channels.length; i++) {
      for (let j = i + 1; j < channels.length; j++) {
        const [a, b] = [channels[i], channels[j]].sort();
        const n = byPair.get(`${a}\u0000${b}`) ?? 0;
        const union = chatters[a] + chatters[b] - n;
        overlap.push({ a, b, shared_chatters: n, jaccard: union > 0 ? n / union : 0 });
      }
    }
  }

  if (simSource === 'analytics') {
    for (const s of sim) {
      const i = index.get(s.channel_a)!;
      const j = index.get(s.channel_b)!;
      similarity[i][j] = similarity[j][i] = s.emote_js_similarity;
      featureSimilarity[i][j] = featureSimilarity[j][i] = s.feature_cosine;
    }
  } else {
    const dist = await rows<{ channel: string; emote: string; uses: number }>(
      client,
      `SELECT channel, emote, count() AS uses FROM messages ARRAY JOIN emote_names AS emote WHERE channel IN {channels:Array(String)}${rangeSql} GROUP BY channel, emote`,
      params,
    );
    const vectors = new Map<string, Map<string, number>>(channels.map((c) => [c, new Map()]));
    for (const d of dist) vectors.get(d.channel)?.set(d.emote, d.uses);
    for (let i = 0; i < channels.length; i++) for (let j = i + 1; j < channels.length; j++) similarity[i][j] = similarity[j][i] = jsSimilarity(vectors.get(channels[i])!, vectors.get(channels[j])!);
  }
  overlap.sort((x, y) => (x.a === y.a ? (x.b < y.b ? -1 : 1) : x.a < y.a ? -1 : 1));
  return { channels, source: { similarity: simSource, overlap: overlapSource } as const, signatures, similarity, feature_similarity: featureSimilarity, overlap, chatters };
}

/**
 * 1 - Jensen-Shannon divergence (log base 2) of two emote count vectors as distributions: the definition of
 * `channel_similarity.emote_js_similarity` (migration 0032), so a range read from the raw tables and the view
 * agree (a cosine here gave riotgames-xqc 0.160 against the view's 0.285). Null when either is empty.
 */
export function jsSimilarity(a: Map<string, number>, b: Map<string, number>): number | null {
  let ta = 0;
  let tb = 0;
  for (const v of a.values()) ta += v;
  for (const v of b.values()) tb += v;
  if (ta === 0 || tb === 0) return null;
  let divergence = 0;
  const half = (p: number, m: number) => (p > 0 ? 0.5 * p * Math.log2(p / m) : 0);
  for (const [k, v] of a) {
    const p = v / ta;
    const q = (b.get(k) ?? 0) / tb;
    divergence += half(p, (p + q) / 2) + half(q, (p + q) / 2);
  }
  for (const [k, v] of b) if (!a.has(k)) divergence += half(v / tb, v / tb / 2);
  return 1 - divergence;
}
