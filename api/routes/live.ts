/**
 * `/api/v1/live`: new messages and moderation events per channel over WebSocket or Server-Sent
 * Events. Each client has a bounded queue; events are written in one batch per event-loop turn, and a
 * client whose socket holds more than `maxBufferedBytes` unsent (or whose queue overflows) is dropped,
 * so one slow reader costs the others nothing but the check.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ChatEvent } from '../../core/events.ts';
import { blankOptedOut } from '../../core/privacy.ts';
import { watchOptOuts, type OptOuts } from '../../enrich/opt-outs.ts';
import type { ApiContext } from '../context.ts';
import { ApiError, errorBody, errorSchema } from '../errors.ts';
import { DEFAULT_LIVE_LIMITS, type LiveLimits } from '../live.ts';
import type { HttpMetrics } from '../metrics.ts';
import { loginListSchema } from '../schemas.ts';

const LIVE_KINDS = new Set<ChatEvent['kind']>(['message', 'ban', 'timeout', 'delete', 'clear']);

interface Sink {
  /** Bytes accepted but not yet sent to the peer. */
  buffered(): number;
  write(events: ChatEvent[]): void;
  close(reason: string): void;
}

/**
 * What the feed may show of an event: nothing of an opted-out user's own chat, and other users' events
 * without them (core/privacy.ts). The feed carries events as published, before enrich drops and blanks
 * them for storage: an import or replay of an opted-out user's chat, a reply quoting them.
 */
function visible(optOuts: OptOuts, e: ChatEvent): ChatEvent | null {
  if (e.kind === 'message' && optOuts.has(e.login, e.user_id)) return null;
  return blankOptedOut(e, optOuts.has);
}

/** Queue + batching + drop policy around one client connection. */
function attach(ctx: ApiContext, http: HttpMetrics, limits: LiveLimits, channels: string[], optOuts: OptOuts, sink: Sink): () => void {
  let queue: ChatEvent[] = [];
  let scheduled = false;
  let closed = false;
  http.liveClients += 1;
  const drop = (reason: string) => {
    if (closed) return;
    stop();
    http.liveDropped += 1;
    sink.close(reason);
  };
  const flush = () => {
    scheduled = false;
    if (closed || queue.length === 0) return;
    if (sink.buffered() > limits.maxBufferedBytes) return drop('too slow: unsent data exceeded the per-client bound');
    const batch = queue;
    queue = [];
    sink.write(batch);
  };
  const unsubscribe = ctx.live!.subscribe(channels, (given) => {
    if (closed || !LIVE_KINDS.has(given.kind)) return;
    const e = visible(optOuts, given);
    if (e === null) return;
    queue.push(e);
    if (queue.length > limits.maxQueuedEvents) return drop('too slow: event queue overflowed');
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
  function stop() {
    if (closed) return;
    closed = true;
    queue = [];
    unsubscribe();
    http.liveClients -= 1;
  }
  return stop;
}

export function liveRoutes(ctx: ApiContext, http: HttpMetrics, partial: Partial<LiveLimits>): FastifyPluginAsyncZod {
  const limits: LiveLimits = { ...DEFAULT_LIVE_LIMITS, ...partial };
  const query = z.object({ channels: loginListSchema(limits.maxChannels) });
  // Started with the first client and re-read every OPT_OUT_REFRESH_MS, as ingest and enrich do.
  let optOuts: OptOuts | null = null;
  const needLive = async () => {
    if (!ctx.live) throw new ApiError(503, 'no live source: run the API inside `twichist up`, or set NATS_URL');
    optOuts ??= watchOptOuts(ctx.client, ctx.logger);
    // A new client gets the list as of its connection (one small read; a failed one keeps the last list).
    await optOuts.refresh();
  };
  /** Open SSE streams: hijacked, so the server's close would wait for each client to hang up (a browser tab: never). */
  const streams = new Set<import('node:http').ServerResponse>();
  return async (app) => {
    app.addHook('preClose', async () => {
      for (const res of streams) res.end();
    });
    app.addHook('onClose', async () => optOuts?.close());
    app.route({
      method: 'GET',
      url: '/ws',
      preValidation: needLive,
      schema: {
        // Hidden from OpenAPI, as `websocket: true` routes are.
        hide: true,
        summary: 'Live events over WebSocket (one JSON event per frame)',
        description: 'Frames are `core/events.ts` events of kind message, ban, timeout, delete or clear. A client that falls behind is closed with code 4008.',
        tags: ['live'],
        querystring: query,
        response: { 400: errorSchema, 426: errorSchema, 503: errorSchema },
      },
      // A plain HTTP GET (no `Upgrade: websocket`); @fastify/websocket's default answers an empty 404.
      handler: async (_req, reply) =>
        reply.code(426).header('upgrade', 'websocket').send(errorBody(426, 'this endpoint is a WebSocket: connect with "Upgrade: websocket" (or use /api/v1/live/sse for Server-Sent Events)')),
      wsHandler: (socket, req) => {
        const { channels } = req.query as z.infer<typeof query>;
        const stop = attach(ctx, http, limits, channels, optOuts!, {
          buffered: () => socket.bufferedAmount,
          write: (events) => {
            for (const e of events) socket.send(JSON.stringify(e));
          },
          close: (reason) => {
            req.log.warn({ channels, reason }, 'live client dropped');
            socket.close(4008, reason.slice(0, 120));
            // A peer that stopped reading may never complete the close handshake.
            setTimeout(() => socket.terminate(), 1000).unref();
          },
        });
        socket.on('close', stop);
        socket.on('error', stop);
        socket.send(JSON.stringify({ kind: 'subscribed', channels }));
      },
    });

    app.get(
      '/sse',
      {
        preValidation: needLive,
        schema: {
          summary: 'Live events as Server-Sent Events',
          description: 'Each event is `event: <kind>` with the JSON event as `data`. A client that falls behind is disconnected.',
          tags: ['live'],
          querystring: query,
          produces: ['text/event-stream'],
          response: { 400: errorSchema, 503: errorSchema },
        },
      },
      async (req, reply) => {
        const { channels } = req.query;
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'access-control-allow-origin': '*',
          'x-request-id': String(req.id),
          // Reverse proxies (nginx) must not buffer the stream.
          'x-accel-buffering': 'no',
        });
        res.write(`event: subscribed\ndata: ${JSON.stringify({ channels })}\n\n`);
        const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
        heartbeat.unref();
        const stop = attach(ctx, http, limits, channels, optOuts!, {
          buffered: () => res.writableLength,
          write: (events) => {
            let out = '';
            for (const e of events) out += `event: ${e.kind}\ndata: ${JSON.stringify(e)}\n\n`;
            res.write(out);
          },
          close: (reason) => {
            req.log.warn({ channels, reason }, 'live client dropped');
            res.destroy();
          },
        });
        streams.add(res);
        res.on('close', () => {
          streams.delete(res);
          clearInterval(heartbeat);
          stop();
        });
      },
    );
  };
}
