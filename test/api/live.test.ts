/**
 * The live feed: a message emitted by the runtime (or published to JetStream) reaches a subscribed
 * WebSocket / SSE client within 1 s; a client that stops reading is dropped while a fast one keeps
 * receiving everything.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app.ts';
import { createInProcessLive, createNatsLive, type InProcessLive } from '../../api/live.ts';
import type { ChatEvent, ChatMessage } from '../../core/events.ts';
import { createLogger } from '../../core/logger.ts';
import { testDatabase, type TestDatabase } from '../support/clickhouse.ts';
import { deleteStream, tryConnectNats, uniqueNatsConfig } from '../support/nats.ts';
import { fixtureLines } from '../support/irc-fixtures.ts';
import { readXqc, xqcMissing } from './support/load.ts';

const skip = xqcMissing();
let db: TestDatabase;
let app: FastifyInstance;
let live: InProcessLive;
let base: string;
let messages: ChatMessage[];
let timeouts: ChatEvent[];

before(async () => {
  if (skip) return;
  db = await testDatabase({ env: { TWICHIST_ONLINE: 'false' } });
  const events = readXqc();
  messages = events.filter((e): e is ChatMessage => e.kind === 'message');
  timeouts = events.filter((e) => e.kind === 'timeout');
  live = createInProcessLive();
  // Small bounds so a stalled client is detected after a few hundred KB, not after megabytes.
  app = await buildApp({ config: db.config, logger: createLogger('silent'), client: db.client, live, rateLimit: false, liveLimits: { maxBufferedBytes: 256 * 1024, maxQueuedEvents: 100_000 } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `127.0.0.1:${(app.server.address() as { port: number }).port}`;
});
after(async () => {
  await app?.close();
});

/** A connected client that collects events; resolves once the server confirmed the subscription. */
async function client(channels: string): Promise<{ ws: WebSocket; got: Array<{ e: ChatEvent; at: number }>; closed: Promise<number> }> {
  const ws = new WebSocket(`ws://${base}/api/v1/live/ws?channels=${channels}`);
  const got: Array<{ e: ChatEvent; at: number }> = [];
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (data) => {
      const e = JSON.parse(String(data));
      if (e.kind === 'subscribed') return resolve();
      got.push({ e, at: performance.now() });
    });
  });
  return { ws, got, closed };
}

const until = async (cond: () => boolean, ms: number) => {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await new Promise((r) => setTimeout(r, 5));
  return cond();
};

describe('live feed', { skip }, () => {
  it('delivers an emitted message and a moderation event to a WebSocket subscriber within 1 s, only for its channels', async () => {
    const c = await client('xqc');
    const other = { ...messages[0], id: 'elsewhere', channel: 'somewhere_else' };
    const t0 = performance.now();
    live.emit([other, messages[0], timeouts[0]]);
    assert.ok(await until(() => c.got.length >= 2, 1000), 'both events within 1 s');
    assert.ok(c.got[0].at - t0 < 1000);
    assert.deepEqual(c.got.map((g) => g.e.id), [messages[0].id, timeouts[0].id]);
    assert.deepEqual(c.got[0].e, messages[0]);
    c.ws.close();
  });

  it('drops a client that stops reading; a fast client on the same channel still gets every event', async () => {
    const fast = await client('xqc');
    const slow = await client('xqc');
    // The slow client stops reading its socket: the server's send buffer for it can only grow.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    let sent = 0;
    for (let round = 0; round < 300; round++) {
      const batch = messages.slice((round * 100) % 3900, ((round * 100) % 3900) + 100).map((m, i) => ({ ...m, id: `r${round}-${i}` }));
      live.emit(batch);
      sent += batch.length;
      await new Promise((r) => setImmediate(r));
      if (round % 20 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    assert.ok(await until(() => fast.got.length === sent, 10_000), `fast client got ${fast.got.length} of ${sent}`);
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /twichist_api_live_dropped_total 1\n/);
    assert.match(metrics.body, /twichist_api_live_clients 1\n/);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    const code = await Promise.race([slow.closed, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
    assert.ok(code === 4008 || code === 1006, `slow client closed with ${code}`);
    assert.ok(slow.got.length < sent);
    fast.ws.close();
  });

  it("shows nothing of an opted-out user's own chat (an import of it) and other users' events without them", async () => {
    // Real line (Chatterino; MIT): nerixyz replies to `blocked`, who opted out; the capture's first chatter writes as `blocked` too.
    const [reply] = fixtureLines(['reply-blocked-user.json']) as ChatMessage[];
    await db.client.insert({ table: 'opt_outs', values: [{ login: 'blocked', user_id: '12345', active: true, updated_at: Date.now() }], format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: '' } });
    const c = await client('xqc');
    const own: ChatMessage = { ...messages[2], id: 'live-own', login: 'blocked', user_id: '12345' };
    const answer: ChatMessage = { ...reply, channel: 'xqc' };
    const deletion: ChatEvent = { ...timeouts[0], kind: 'delete', id: 'live-del', target_msg_id: 'live-own', target_login: 'blocked', text: own.text } as ChatEvent;
    live.emit([own, answer, deletion, messages[3]]);
    assert.ok(await until(() => c.got.length >= 3, 1000));
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(c.got.map((g) => g.e.id), [answer.id, 'live-del', messages[3].id]);
    assert.ok(!/blocked|12345/.test(JSON.stringify(c.got[0].e)), JSON.stringify(c.got[0].e));
    assert.equal((c.got[0].e as ChatMessage).reply!.parent_msg_id, reply.reply!.parent_msg_id);
    assert.equal((c.got[1].e as { text: string }).text, '');
    c.ws.close();
  });

  it('serves Server-Sent Events with the same events', async () => {
    const ctrl = new AbortController();
    const res = await fetch(`http://${base}/api/v1/live/sse?channels=xqc`, { signal: ctrl.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const first = await reader.read();
    text += Buffer.from(first.value!).toString();
    assert.match(text, /event: subscribed/);
    const t0 = performance.now();
    live.emit([messages[1]]);
    while (!text.includes(messages[1].id) && performance.now() - t0 < 1000) {
      const r = await reader.read();
      text += Buffer.from(r.value!).toString();
    }
    assert.ok(performance.now() - t0 < 1000);
    const block = text.split('\n\n').find((b) => b.includes(messages[1].id))!;
    assert.match(block, /^event: message\ndata: /);
    assert.deepEqual(JSON.parse(block.split('data: ')[1]), messages[1]);
    ctrl.abort();
  });

  it('an open SSE stream does not hold the shutdown: closing the app ends it', async () => {
    const own = await buildApp({ config: db.config, logger: createLogger('silent'), client: db.client, live, rateLimit: false });
    await own.listen({ host: '127.0.0.1', port: 0 });
    const res = await fetch(`http://127.0.0.1:${(own.server.address() as { port: number }).port}/api/v1/live/sse?channels=xqc`);
    const reader = res.body!.getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /event: subscribed/);
    const t0 = performance.now();
    // Before: close() waited for the client to hang up (curl's 90 s timeout; a browser tab never).
    const closed = await Promise.race([own.close().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000).unref())]);
    assert.ok(closed, 'app.close() still waiting for the SSE client after 5 s');
    assert.ok(performance.now() - t0 < 5000);
    assert.equal((await reader.read()).done, true, 'the stream ended');
  });

  it('rejects bad channel lists with 400 and answers 503 without a live source', async () => {
    const bad = await app.inject({ method: 'GET', url: "/api/v1/live/sse?channels=' OR 1=1 --" });
    assert.equal(bad.statusCode, 400);
    assert.equal(JSON.parse(bad.body).error, 'bad_request');
    const none = await buildApp({ config: db.config, logger: createLogger('silent'), client: db.client, rateLimit: false });
    const r = await none.inject({ method: 'GET', url: '/api/v1/live/sse?channels=xqc' });
    assert.equal(r.statusCode, 503);
    assert.match(JSON.parse(r.body).message, /NATS_URL/);
    await none.close();
  });

  it('NATS source: an event published to the JetStream chat subject reaches the WebSocket client', async (t) => {
    const { nc, reason } = await tryConnectNats();
    if (!nc) return t.skip(reason ?? 'no NATS');
    const config = uniqueNatsConfig();
    const { ensureChatStream, JetStreamPublisher } = await import('../../ingest/jetstream.ts');
    await ensureChatStream(nc, config.nats);
    const natsApp = await buildApp({ config: db.config, logger: createLogger('silent'), client: db.client, live: createNatsLive(nc, config.nats.subjectPrefix), rateLimit: false });
    await natsApp.listen({ host: '127.0.0.1', port: 0 });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${(natsApp.server.address() as { port: number }).port}/api/v1/live/ws?channels=xqc`);
      const got: ChatEvent[] = [];
      await new Promise<void>((resolve) => ws.on('message', (d) => (JSON.parse(String(d)).kind === 'subscribed' ? resolve() : got.push(JSON.parse(String(d))))));
      const pub = new JetStreamPublisher({ nc, subjectPrefix: config.nats.subjectPrefix });
      const t0 = performance.now();
      await pub.publish('xqc', messages.slice(0, 3));
      assert.ok(await until(() => got.length === 3, 1000), `got ${got.length} of 3 within 1 s`);
      assert.ok(performance.now() - t0 < 1000);
      assert.deepEqual(got.map((e) => e.id), messages.slice(0, 3).map((m) => m.id));
      ws.close();
    } finally {
      await natsApp.close();
      await deleteStream(nc, config.nats.stream);
      await nc.close();
    }
  });
});
