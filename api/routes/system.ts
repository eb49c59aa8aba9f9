/** `/health` and `/metrics` (Prometheus text). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { rows } from '../db.ts';
import type { HttpMetrics } from '../metrics.ts';

const dependency = z.object({ ok: z.boolean(), configured: z.boolean(), latency_ms: z.number().nullable(), error: z.string().nullable() });
const healthSchema = z.object({
  status: z.enum(['ok', 'unavailable']),
  clickhouse: dependency,
  nats: dependency,
  /** Per channel with messages in the last minute: ms since its newest message was received. */
  ingest_lag_ms: z.record(z.string(), z.number()),
});

async function timed(f: () => Promise<unknown>): Promise<z.infer<typeof dependency>> {
  const t0 = performance.now();
  try {
    await Promise.race([f(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2000).unref())]);
    return { ok: true, configured: true, latency_ms: Math.round((performance.now() - t0) * 10) / 10, error: null };
  } catch (err) {
    return { ok: false, configured: true, latency_ms: null, error: String((err as Error).message ?? err).split('\n')[0] };
  }
}

export function systemRoutes(ctx: ApiContext, http: HttpMetrics): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/health',
      {
        schema: {
          summary: 'ClickHouse and NATS reachability, ingest lag',
          description: '200 when every configured dependency answers, 503 (same body) otherwise.',
          tags: ['system'],
          response: { 200: healthSchema, 503: healthSchema },
        },
      },
      async (_req, reply) => {
        const clickhouse = await timed(() => rows(ctx.client, 'SELECT 1'));
        const nats = ctx.nats ? await timed(() => ctx.nats!.ping()) : { ok: true, configured: false, latency_ms: null, error: null };
        const lag: Record<string, number> = {};
        if (clickhouse.ok) {
          const r = await rows<{ channel: string; lag: number }>(
            ctx.client,
            "SELECT channel, toInt64(toUnixTimestamp64Milli(now64(3)) - toUnixTimestamp64Milli(max(received_at))) AS lag FROM messages WHERE received_at >= now64(3) - INTERVAL 1 MINUTE GROUP BY channel",
          ).catch(() => []);
          for (const x of r) lag[x.channel] = Math.max(0, x.lag);
        }
        const ok = clickhouse.ok && nats.ok;
        reply.code(ok ? 200 : 503);
        return { status: ok ? ('ok' as const) : ('unavailable' as const), clickhouse, nats, ingest_lag_ms: lag };
      },
    );

    app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['system'], produces: ['text/plain'] } }, async (_req, reply) => {
      const extra = ctx.metrics ? await ctx.metrics.toPrometheus() : '';
      reply.type('text/plain; version=0.0.4; charset=utf-8');
      return http.toPrometheus() + (extra ? (extra.endsWith('\n') ? extra : extra + '\n') : '');
    });
  };
}
