/**
 * The JSON API: `buildApp()` returns a Fastify instance with every route registered as a prefixed
 * plugin, zod schemas for requests and responses (validation, serialization and the OpenAPI
 * document at `/docs` all come from them), CORS, rate limiting, request logs with request ids, one
 * error shape, and a bearer token on everything that changes state.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError, jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ClickHouseClient } from '../core/clickhouse.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import type { ApiContext, ChannelNotifier, IngestControl, MetricsProvider, NatsHealth } from './context.ts';
import { clickHouseCode } from '../core/clickhouse.ts';
import { configureCache, DEFAULT_QUERY_LIMITS, LIMIT_CODES, withQueryLimits, type QueryLimits } from './db.ts';
import { ApiError, errorBody } from './errors.ts';
import type { LiveLimits, LiveSource } from './live.ts';
import { HttpMetrics } from './metrics.ts';
import { analyticsRoutes } from './routes/analytics.ts';
import { channelRoutes } from './routes/channels.ts';
import { justlogRoutes } from './routes/justlog.ts';
import { liveRoutes } from './routes/live.ts';
import { messageRoutes } from './routes/messages.ts';
import { moderationRoutes } from './routes/moderation.ts';
import { systemRoutes } from './routes/system.ts';
import { userRoutes } from './routes/users.ts';

export interface BuildAppOptions {
  config: Config;
  logger: Logger;
  client: ClickHouseClient;
  /** Source of the live feed; without one the live endpoints answer 503. */
  live?: LiveSource | null;
  /** The in-process ingestor (state and channel list), when there is one. */
  ingest?: IngestControl | null;
  /** Extra Prometheus text appended to `/metrics` (e.g. enrich's counters). */
  metrics?: MetricsProvider | null;
  /** Bus reachability for `/health`; without it NATS is reported as not configured. */
  nats?: NatsHealth | null;
  /** Wakes ingest processes elsewhere after a channel change (NATS control subject); optional. */
  notifier?: ChannelNotifier | null;
  /**
   * Requests per client IP and window; `false` disables limiting (benchmarks on loopback).
   * Default 600 per minute: a dashboard refreshing 20 panels every 5 s stays well below it.
   */
  rateLimit?: { max: number; timeWindowMs: number } | false;
  /** How long rollup answers (timelines, stats, emotes) are reused, in ms; 0 disables. Default 2000. */
  cacheTtlMs?: number;
  /** Live feed bounds per client (see {@link LiveLimits}). */
  liveLimits?: Partial<LiveLimits>;
  /** Bounds on one request's cost (see {@link ApiLimits}). */
  limits?: Partial<ApiLimits>;
  /**
   * How long an opt-out waits after writing `opt_outs` before deleting, for what enrich consumed before
   * re-reading the list (api/privacy.ts `OptOutOptions.settleMs`). Default OPT_OUT_SETTLE_MS (6 s); 0
   * only where no enrich stores chat alongside (tests over a stored fixture).
   */
  optOutSettleMs?: number;
}

/** What one request may cost; a public API must not let one request hold the server or the database. */
export interface ApiLimits extends QueryLimits {
  /**
   * Requests of the heavy routes (those whose cost grows with the range or the log asked for: justlog
   * day/month logs, `/moderation/risk`, `/analytics/compare`) served at once per process; more answer 503
   * at once. Default 2. Embedded, the engine runs one parameterized query at a time, so 50 parallel
   * heavy requests made a one-user profile wait 45.7 s behind them (measured on 5M messages).
   */
  maxHeavyRequests: number;
  /** Events (messages, bans/timeouts, notices) one justlog log answer may hold; more is a 413. Default 50,000. */
  maxLogEvents: number;
}
export const DEFAULT_API_LIMITS: ApiLimits = { ...DEFAULT_QUERY_LIMITS, maxHeavyRequests: 2, maxLogEvents: 50_000 };

/**
 * Runs heavy handlers at most `max` at a time; beyond, a 503 with Retry-After at once (no queue: a queue
 * would only move the wait). A slot is freed when the handler's work is done, not when the client
 * leaves: a client that disconnects does not stop its query (chdb cannot cancel one), so freeing the
 * slot then would let abort-and-retry bypass the bound.
 */
function heavyGate(max: number): ApiContext['heavy'] {
  let inFlight = 0;
  return async (reply, work) => {
    if (inFlight >= max) {
      reply.header('retry-after', '5');
      throw new ApiError(503, `the server is busy with ${inFlight} other heavy requests (logs, risk, compare); retry in a few seconds`);
    }
    inFlight += 1;
    try {
      return await work();
    } finally {
      inFlight -= 1;
    }
  };
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export type App = FastifyInstance;

export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const limits: ApiLimits = { ...DEFAULT_API_LIMITS, maxExecutionTimeS: opts.config.api.queryTimeoutS, ...opts.limits };
  const client = withQueryLimits(opts.client, limits);
  const ctx: ApiContext = {
    config: opts.config,
    logger: opts.logger,
    client,
    unboundedClient: opts.client,
    limits,
    heavy: heavyGate(limits.maxHeavyRequests),
    live: opts.live ?? null,
    ingest: opts.ingest ?? null,
    metrics: opts.metrics ?? null,
    nats: opts.nats ?? null,
    notifier: opts.notifier ?? null,
    optOutSettleMs: opts.optOutSettleMs ?? null,
  };
  configureCache(client, opts.cacheTtlMs ?? 2000);
  const httpMetrics = new HttpMetrics();
  const app = Fastify({
    loggerInstance: opts.logger.child({ component: 'api' }),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Bodies here are a channel name or nothing; anything bigger is a mistake or an attack.
    bodyLimit: 64 * 1024,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Bad URLs and over-long path segments are rejected by the router before any hook runs.
    frameworkErrors: (err, _req, reply) => {
      const status = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
      const raw = reply as unknown as { code(n: number): { send(b: unknown): void } };
      raw.code(status).send(errorBody(status, status === 414 ? 'a path segment is longer than 200 characters' : err.message));
    },
  });
  // /api/v1 query strings are strict: a misspelled filter (`messages?chanel=x`) was ignored and answered with every
  // channel's rows. The justlog-compatible routes keep accepting whatever justlog clients add.
  app.setValidatorCompiler<z.ZodType>((route) =>
    validatorCompiler(route.httpPart === 'querystring' && route.url.startsWith('/api/v1/') && route.schema instanceof z.ZodObject ? { ...route, schema: route.schema.strict() } : route),
  );
  app.setSerializerCompiler(serializerCompiler);

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    // Unknown routes are 404 for every method: the not-found handler runs this hook too.
    if (!MUTATING.has(req.method) || req.is404) return;
    const token = opts.config.api.token;
    if (token === null) {
      throw new ApiError(403, 'this endpoint changes data and no API token is configured: set TWICHIST_API_TOKEN and send it as "Authorization: Bearer <token>"');
    }
    const header = req.headers.authorization;
    if (!header) throw new ApiError(401, 'this endpoint changes data: send "Authorization: Bearer <TWICHIST_API_TOKEN>"');
    const got = Buffer.from(header);
    const want = Buffer.from(`Bearer ${token}`);
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw new ApiError(403, 'wrong API token');
  });
  app.addHook('onResponse', async (req, reply) => {
    httpMetrics.observe(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err, req, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const details = err.validation.map((v) => ({ in: err.validationContext ?? null, path: v.instancePath || '/', message: v.message ?? 'invalid' }));
      const first = details[0];
      return reply.code(400).send(errorBody(400, `invalid ${first?.in ?? 'request'} ${first?.path.replace(/^\//, '') ?? ''}: ${first?.message ?? 'invalid'}`.replace('  ', ' '), details));
    }
    if (err instanceof ApiError) return reply.code(err.statusCode).send(errorBody(err.statusCode, err.message, err.details));
    if (isResponseSerializationError(err)) {
      req.log.error({ err, issues: err.cause }, 'response did not match its schema');
      return reply.code(500).send(errorBody(500, `internal error (request ${req.id})`));
    }
    const limit = LIMIT_CODES[clickHouseCode(err)];
    if (limit) {
      req.log.warn({ err }, 'query stopped by a limit');
      return reply.code(503).send(errorBody(503, `the database query of this request ${limit}: ask for a shorter range or fewer channels, or retry when the server is less busy`));
    }
    const status = typeof (err as { statusCode?: unknown }).statusCode === 'number' ? (err as { statusCode: number }).statusCode : 500;
    if (status >= 400 && status < 500) return reply.code(status).send(errorBody(status, (err as Error).message));
    req.log.error({ err }, 'request failed');
    return reply.code(500).send(errorBody(500, `internal error (request ${req.id}); the server log has the cause`));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(errorBody(404, `no route ${req.method} ${req.url.split('?')[0]}; see /docs for the API`));
  });

  await app.register(cors, { origin: '*', methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'OPTIONS'], allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'], exposedHeaders: ['X-Request-Id'] });
  if (opts.rateLimit !== false) {
    const rl = opts.rateLimit ?? { max: 600, timeWindowMs: 60_000 };
    await app.register(rateLimit, {
      max: rl.max,
      timeWindow: rl.timeWindowMs,
      // c.after is the time until the window resets (e.g. "50 seconds"), not the window.
      errorResponseBuilder: (_req, c) => Object.assign(new Error(`rate limit of ${c.max} requests per ${rl.timeWindowMs / 1000} s exceeded; retry in ${c.after}`), { statusCode: 429 }),
    });
  }
  await app.register(swagger, {
    openapi: {
      info: { title: 'Twichist API', version: '1', description: 'Twitch chat archive and analytics. Mutating endpoints need `Authorization: Bearer <TWICHIST_API_TOKEN>`.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(websocket, { options: { maxPayload: 4096 } });

  const typed = app.withTypeProvider<ZodTypeProvider>();
  await typed.register(systemRoutes(ctx, httpMetrics));
  await typed.register(channelRoutes(ctx), { prefix: '/api/v1/channels' });
  await typed.register(messageRoutes(ctx), { prefix: '/api/v1/messages' });
  await typed.register(userRoutes(ctx), { prefix: '/api/v1/users' });
  await typed.register(moderationRoutes(ctx), { prefix: '/api/v1/moderation' });
  await typed.register(analyticsRoutes(ctx), { prefix: '/api/v1/analytics' });
  await typed.register(liveRoutes(ctx, httpMetrics, opts.liveLimits ?? {}), { prefix: '/api/v1/live' });
  await typed.register(justlogRoutes(ctx));
  return app as unknown as FastifyInstance;
}
