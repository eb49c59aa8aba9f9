/**
 * End to end: the local Twitch IRC server replays the real #xqc recording to the real twurple client
 * (LiveIngestor), events go through JetStream (real nats-server, a unique test stream), through the
 * real enrich stage (durable JetStream consumer) into embedded ClickHouse, and are counted there and
 * in the stream. Then the same with the connection dropped mid-way: every line the server wrote to a
 * connection it did not kill (i.e. everything after the reconnect's JOIN echo) must be stored, and the
 * gap must be recorded. And the framing regression: a line split inside its CRLF or inside a UTF-8
 * character across TCP reads arrives intact (twurple's own splitter lost the next line, see
 * `fixLineFraming` in ingest/live.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { NatsConnection } from '@nats-io/transport-node';
import { LiveIngestor, type LiveIngestorOptions } from '../../ingest/live.ts';
import { ensureChatStream, JetStreamPublisher } from '../../ingest/jetstream.ts';
import { parseIrcLine } from '../../ingest/irc-parser.ts';
import { createJetStreamConsumer } from '../../enrich/consumer.ts';
import { startEnrich } from '../../enrich/index.ts';
import { TwitchIrcServer } from '../support/twitch-irc-server.ts';
import { deleteStream, readStream, tryConnectNats, uniqueNatsConfig, uniqueNatsEnv } from '../support/nats.ts';
import { testDatabase } from '../support/clickhouse.ts';
import type { Config } from '../../core/config.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const XQC = path.resolve(repoRoot, '..', 'shared', 'data', 'irc', 'xqc-2023-04-01.raw.irc');
const haveData = fs.existsSync(XQC);
const noData = haveData ? false : `skipped: ${XQC} not found (../shared/data is absent)`;
const logger = pino({ level: 'silent' });

interface StoredEvent {
  id: string;
  kind: string;
  channel?: string;
  text?: string;
  event?: string;
  detail?: string | null;
  gap_start?: number | null;
  gap_end?: number | null;
}

interface Run {
  config: Config;
  nc: NatsConnection;
  server: TwitchIrcServer;
  ingestor: LiveIngestor;
}

async function setup(nc: NatsConnection, config: Config, extra: Partial<LiveIngestorOptions> = {}): Promise<Run> {
  await ensureChatStream(nc, config.nats);
  const server = await TwitchIrcServer.start();
  const publisher = new JetStreamPublisher({ nc, subjectPrefix: config.nats.subjectPrefix, logger });
  const ingestor = new LiveIngestor({ config, logger, publisher, irc: { host: server.host, port: server.port, ssl: false }, ...extra });
  await ingestor.start();
  return { config, nc, server, ingestor };
}

async function teardown(run: Run) {
  await run.ingestor.stop();
  await run.server.close();
  await deleteStream(run.nc, run.config.nats.stream);
}

async function events(run: Run): Promise<StoredEvent[]> {
  const msgs = await readStream(run.nc, run.config.nats.stream);
  return msgs.flatMap((m) => m.events as StoredEvent[]);
}

/** The event id a written line must be stored under (Twitch's id tag, or the deterministic hash). */
function expectedEvent(line: string) {
  const r = parseIrcLine(line, { receivedAt: 0, source: 'live' });
  return r.ok ? r.event : null;
}

/** Waits until the ingestor has received no line for a second (everything sent has arrived). */
async function waitQuiet(run: Run) {
  let last = -1;
  await waitFor(
    async () => {
      const now = run.ingestor.stats.lines;
      const quiet = now === last && now > 0;
      last = now;
      if (!quiet) await new Promise((r) => setTimeout(r, 1000));
      return quiet;
    },
    60_000,
    'the ingestor to go quiet',
  );
}

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('live replay of #xqc through twurple, JetStream and enrich into ClickHouse: 4,029 messages, 26 timeouts, 15 user notices, none twice', { skip: noData }, async (t) => {
  const { nc, reason } = await tryConnectNats();
  if (nc === null) return t.skip(`skipped: ${reason}`);
  const db = await testDatabase({ env: { ...uniqueNatsEnv(), TWITCH_CHANNELS: 'xqc', TWICHIST_ONLINE: 'false', ENRICH_FLUSH_MS: '200' } });
  const run = await setup(nc, db.config);
  const consumer = await createJetStreamConsumer({ config: db.config, logger, connection: nc });
  const stage = startEnrich({ config: db.config, logger, client: db.client, consumer });
  try {
    const result = await run.server.replay(XQC, { speed: 'max' });
    assert.equal(result.undelivered, 0);
    await waitFor(() => run.ingestor.stats.events >= 4029 + 26 + 15, 30_000, 'all events at the ingestor');
    await waitQuiet(run);
    await run.ingestor.stop();

    // Stream side: every event once, and each message's text exactly as the server wrote it.
    const all = await events(run);
    const count = (k: string) => all.filter((e) => e.kind === k).length;
    assert.equal(count('message'), 4029);
    assert.equal(count('timeout'), 26);
    assert.equal(count('usernotice'), 15);
    assert.equal(new Set(all.map((e) => e.id)).size, all.length, 'an event id appears twice in the stream');
    assert.equal(all.filter((e) => e.kind !== 'lifecycle').length, run.ingestor.stats.events, 'events parsed by the ingestor vs events in the stream');
    assert.ok(all.some((e) => e.kind === 'lifecycle' && e.event === 'connected'));
    assert.ok(all.some((e) => e.kind === 'lifecycle' && e.event === 'joined'));
    assert.ok(all.some((e) => e.kind === 'roomstate'));
    const byId = new Map(all.map((e) => [e.id, e]));
    for (const w of run.server.written) {
      const want = expectedEvent(w.line);
      if (want?.kind !== 'message') continue;
      assert.equal(byId.get(want.id)?.text, want.text, `message ${want.id} stored with a different text`);
    }

    // ClickHouse side, through the enrich stage: exact counts, none twice.
    const q = async (sql: string) => {
      const rs = await db.client.query({ query: sql, format: 'JSONEachRow' });
      const [row] = await rs.json<{ n: string; u: string }>();
      return { n: Number(row.n), u: Number(row.u) };
    };
    const tables = {
      messages: "SELECT count() AS n, uniqExact(id) AS u FROM messages WHERE channel = 'xqc'",
      timeouts: "SELECT count() AS n, uniqExact(id) AS u FROM mod_actions WHERE channel = 'xqc' AND action = 'timeout'",
      notices: "SELECT count() AS n, uniqExact(id) AS u FROM user_notices WHERE channel = 'xqc'",
    };
    await waitFor(async () => (await q(tables.messages)).n >= 4029 && (await q(tables.timeouts)).n >= 26 && (await q(tables.notices)).n >= 15, 240_000, 'every event in ClickHouse').catch(async (err: Error) => {
      throw new Error(`${err.message}: messages ${JSON.stringify(await q(tables.messages))}, enrich in ${JSON.stringify(stage.metrics.eventsIn)} out ${JSON.stringify(stage.metrics.eventsOut)}`);
    });
    await stage.stored();
    const m = await q(tables.messages);
    const to = await q(tables.timeouts);
    const un = await q(tables.notices);
    assert.deepEqual(m, { n: 4029, u: 4029 }, 'messages: count() and uniqExact(id)');
    assert.deepEqual(to, { n: 26, u: 26 }, 'timeouts: count() and uniqExact(id)');
    assert.deepEqual(un, { n: 15, u: 15 }, 'user notices: count() and uniqExact(id)');
    assert.equal((await q('SELECT count() AS n, 0 AS u FROM dead_letters')).n, 0, 'dead letters');
  } finally {
    await stage.stop();
    await consumer.close();
    await teardown(run);
    await db.client.close();
    await nc.close();
  }
});

test('connection dropped mid-replay: every line written after the re-join is stored, the gap is recorded', { skip: noData }, async (t) => {
  const { nc, reason } = await tryConnectNats();
  if (nc === null) return t.skip(`skipped: ${reason}`);
  const run = await setup(nc, uniqueNatsConfig({ TWITCH_CHANNELS: 'xqc' }));
  let droppedAt: number | null = null;
  const rejoined = () => run.server.joins.some((j) => !run.server.dropped.has(j.conn) && droppedAt !== null && j.at >= droppedAt);
  try {
    const result = await run.server.replay(XQC, {
      speed: 'max',
      onLine: async (i) => {
        if (i === 1000 && droppedAt === null) {
          droppedAt = Date.now();
          run.server.dropConnections();
        }
        // Paced while the client is away (these lines find no connection: the gap), so the replay outlasts
        // the reconnect; as fast as the socket takes it once the new connection has joined.
        if (droppedAt !== null && !rejoined()) await new Promise((r) => setTimeout(r, 5));
      },
    });
    assert.ok(rejoined(), 'the client did not re-join before the replay ended');
    assert.ok(result.undelivered > 0, 'some lines should have been sent while the client was away');
    // Lines written just before the drop may be lost with the killed socket, so wait for the lines to stop.
    await waitQuiet(run);
    await run.ingestor.stop();
    const all = await events(run);
    const ids = new Set(all.map((e) => e.id));
    assert.equal(ids.size, all.length, 'an event id appears twice');
    // Every line that reached the ingestor and became an event is in the stream (nothing lost in our process).
    assert.equal(all.filter((e) => e.kind !== 'lifecycle').length, run.ingestor.stats.events, 'events parsed by the ingestor vs events in the stream');
    assert.equal(run.ingestor.stats.rejected, 0, 'lines rejected by the parser');

    const mustArrive = run.server.written.filter((w) => !run.server.dropped.has(w.conn));
    assert.ok(mustArrive.length > 1000, `only ${mustArrive.length} lines written after the re-join`);
    const missing = mustArrive.map((w) => expectedEvent(w.line)?.id ?? `unparsable: ${w.line}`).filter((id) => !ids.has(id));
    assert.deepEqual(missing, [], `${missing.length} of ${mustArrive.length} lines written after the re-join are not stored`);

    const gaps = all.filter((e) => e.kind === 'lifecycle' && e.event === 'gap');
    assert.equal(gaps.length, run.server.connections - 1, 'one gap per reconnect');
    const firstRejoin = run.server.joins.find((j) => !run.server.dropped.has(j.conn))!;
    // The gap starts at the last line received before the drop (the client may still be reading lines
    // written before `droppedAt`, so not before it) and ends at the re-join's echo: lines between the
    // new connection and its JOIN are not sent to the client either.
    const lost = all.find((e) => e.kind === 'lifecycle' && e.event === 'disconnected') as StoredEvent & { ts: number };
    assert.ok((gaps[0].gap_start ?? Infinity) <= lost.ts, 'gap starts after the drop was noticed');
    assert.ok((gaps[0].gap_start ?? 0) >= droppedAt! - 5000, 'gap starts long before the drop');
    assert.ok((gaps[0].gap_end ?? 0) >= firstRejoin.at, 'gap ends before the re-join');
    assert.ok((gaps[0].gap_end ?? 0) >= (gaps[0].gap_start ?? Infinity), 'gap_end before gap_start');
    assert.ok(all.some((e) => e.kind === 'lifecycle' && e.event === 'disconnected'));
    assert.ok(all.some((e) => e.kind === 'lifecycle' && e.event === 'reconnected'));
    assert.ok(run.server.connections >= 2);
  } finally {
    await teardown(run);
    await nc.close();
  }
});

test('nothing followed: no connection to IRC at all until the first channel is added (the channel poll), which connects and joins it', async (t) => {
  const { nc, reason } = await tryConnectNats();
  if (nc === null) return t.skip(`skipped: ${reason}`);
  let table: string[] = [];
  const run = await setup(nc, uniqueNatsConfig({}), { loadChannels: async () => table, pollMs: 100 });
  try {
    // It connected at start and held (or, dropped, retried with backoff) a connection for no channel.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(run.server.connections, 0, 'no connection while nothing is followed');
    assert.deepEqual(run.ingestor.channels, []);
    table = ['first']; // POST /api/v1/channels, as the ingestor's table poll sees it
    await run.server.waitForJoin('first');
    await waitFor(() => run.ingestor.joinedChannels.includes('first'), 10_000, 'the ingestor to join');
    assert.equal(run.server.connections, 1);
  } finally {
    await teardown(run);
    await nc.close();
  }
});

test('line framing: a line split inside its CRLF or inside a UTF-8 character across TCP reads arrives intact', async (t) => {
  const { nc, reason } = await tryConnectNats();
  if (nc === null) return t.skip(`skipped: ${reason}`);
  const run = await setup(nc, uniqueNatsConfig({ TWITCH_CHANNELS: 'framing' }));
  try {
    await run.server.waitForJoin('framing');
    await waitFor(() => run.ingestor.joinedChannels.includes('framing'), 10_000, 'the ingestor to join');
    const line = (id: string, text: string) => `@id=${id};tmi-sent-ts=1680318993110;user-id=1 :a!a@a.tmi.twitch.tv PRIVMSG #framing :${text}`;
    const texts = ['first line', 'second line 😀 with an emoji', 'third line ☕'];
    const bytes = Buffer.from(texts.map((x, i) => line(`framing-${i}`, x) + '\r\n').join(''), 'utf8');
    const crlf = bytes.indexOf('\r\n') + 1; // between \r and \n of the first line
    const emoji = bytes.indexOf(Buffer.from('😀', 'utf8')) + 2; // inside the 4-byte emoji
    const coffee = bytes.indexOf(Buffer.from('☕', 'utf8')) + 1; // inside the 3-byte character
    const chunks = [bytes.subarray(0, crlf), bytes.subarray(crlf, emoji), bytes.subarray(emoji, coffee), bytes.subarray(coffee)];
    assert.equal(await run.server.writeChunks('framing', chunks, 100), 1);
    // ROOMSTATE + 3 messages; with the old framing only 3 events arrive, and the assertion below says which.
    await waitFor(() => run.ingestor.stats.events >= 4, 5_000, 'the three messages at the ingestor').catch(() => {});
    await run.ingestor.stop();
    const msgs = (await events(run)).filter((e) => e.kind === 'message');
    assert.deepEqual(
      msgs.map((e) => [e.id, e.text]),
      texts.map((x, i) => [`framing-${i}`, x]),
    );
  } finally {
    await teardown(run);
    await nc.close();
  }
});

test('outages: a closed connection (with a partial last line), RECONNECT and a dead connection each get a gap from the last line received to the re-join', async (t) => {
  const { nc, reason } = await tryConnectNats();
  if (nc === null) return t.skip(`skipped: ${reason}`);
  // PING after 1 s of silence, reconnect when no PONG within 1 s: twurple's 60 + 10 s, shortened.
  const run = await setup(nc, uniqueNatsConfig({ TWITCH_CHANNELS: 'outage' }), { ping: { inactivity: 1, timeout: 1 } });
  const { server, ingestor } = run;
  let n = 0;
  const send = async (count: number) => {
    for (let i = 0; i < count; i++) await server.broadcast(`@id=outage-${n++};tmi-sent-ts=1680318993110;user-id=1 :a!a@a.tmi.twitch.tv PRIVMSG #outage :line ${n}`, 'outage');
  };
  /** Waits for the next JOIN echo on a connection opened after `conns` connections. */
  const rejoin = async (conns: number) => {
    await waitFor(() => server.joins.some((j) => j.conn > conns) && ingestor.joinedChannels.includes('outage'), 30_000, 'the re-join');
    return server.joins.find((j) => j.conn > conns)!.at;
  };
  const outages: Array<{ lastLine: number; rejoin: number }> = [];
  try {
    await server.waitForJoin('outage');
    await waitFor(() => ingestor.joinedChannels.includes('outage'), 10_000, 'the ingestor to join');

    // 1. The server closes the connection in the middle of a line (the partial line is never completed).
    await send(50);
    await waitFor(() => ingestor.stats.events >= 51, 10_000, 'the first lines');
    let lastLine = Date.now();
    let conns = server.connections;
    server.closeConnections('@id=outage-partial;tmi-sent-ts=1680318993110;user-id=1 :a!a@a.tmi.twitch.tv PRIVMSG #outage :cut off');
    outages.push({ lastLine, rejoin: await rejoin(conns) });

    // 2. Twitch's RECONNECT: the server keeps the connection open, the client must reconnect by itself.
    await send(50);
    await waitFor(() => ingestor.stats.events >= 102, 10_000, 'the lines before RECONNECT');
    conns = server.connections;
    lastLine = Date.now();
    await server.sendReconnect();
    outages.push({ lastLine, rejoin: await rejoin(conns) });

    // 3. A dead connection: open, but the server stops answering PINGs; noticed only after the PING timeout.
    await send(50);
    await waitFor(() => ingestor.stats.events >= 153, 10_000, 'the lines before the connection died');
    conns = server.connections;
    server.answerPings = false;
    const detected = rejoin(conns);
    await new Promise((r) => setTimeout(r, 100)); // a PONG already on its way has arrived
    lastLine = Date.now();
    await waitFor(() => server.connections > conns, 30_000, 'the dead connection to be noticed');
    server.answerPings = true;
    outages.push({ lastLine, rejoin: await detected });

    await send(50);
    await waitFor(() => ingestor.stats.events >= 204, 10_000, 'the last lines');
    await ingestor.stop();
    const all = await events(run);
    assert.equal(new Set(all.map((e) => e.id)).size, all.length, 'an event id appears twice');
    const stored = new Set(all.filter((e) => e.kind === 'message').map((e) => e.id));
    assert.deepEqual(Array.from({ length: n }, (_, i) => `outage-${i}`).filter((id) => !stored.has(id)), [], 'lines written before or after an outage are missing');
    assert.ok(!stored.has('outage-partial'), 'a line cut off by the close must not be stored');

    const gaps = all.filter((e) => e.kind === 'lifecycle' && e.event === 'gap');
    assert.equal(gaps.length, 3, `one gap per outage: ${JSON.stringify(gaps)}`);
    for (const [i, o] of outages.entries()) {
      const g = gaps[i];
      // 100 ms: a PONG on its way when the outage began may arrive after `lastLine` was taken.
      assert.ok((g.gap_start ?? Infinity) <= o.lastLine + 100, `outage ${i + 1}: the gap starts after the last line received (${g.gap_start} > ${o.lastLine})`);
      assert.ok((g.gap_end ?? 0) >= o.rejoin, `outage ${i + 1}: the gap ends before the re-join (${g.gap_end} < ${o.rejoin})`);
    }
    assert.match(gaps[1].detail ?? '', /RECONNECT/);
  } finally {
    await teardown(run);
    await nc.close();
  }
});

test('alive heartbeats: every period per joined channel while lines (PONGs, on a quiet channel) arrive; none from a dead connection until the re-join, none after stop', async (t) => {
  const { nc, reason } = await tryConnectNats();
  if (nc === null) return t.skip(`skipped: ${reason}`);
  // A heartbeat every 250 ms; PING after 1 s of silence, the connection dead when no PONG within 2 s.
  const run = await setup(nc, uniqueNatsConfig({ TWITCH_CHANNELS: 'quiet', INGEST_ALIVE_S: '0.25' }), { ping: { inactivity: 1, timeout: 2 } });
  const { server, ingestor } = run;
  try {
    await server.waitForJoin('quiet');
    await waitFor(() => ingestor.joinedChannels.includes('quiet'), 10_000, 'the ingestor to join');
    const joinedAt = Date.now();
    // No chat at all: only PINGs and PONGs keep the connection's last line fresh.
    await new Promise((r) => setTimeout(r, 3500));

    // The connection dies (open, but no PONG), and Twitch stays unreachable for a while after it is noticed.
    const conns = server.connections;
    server.answerPings = false;
    server.refuseConnections = true;
    await new Promise((r) => setTimeout(r, 100)); // a PONG already on its way has arrived
    const deadFrom = Date.now();
    await waitFor(() => ingestor.joinedChannels.length === 0, 30_000, 'the dead connection to be noticed');
    await new Promise((r) => setTimeout(r, 2000));
    server.refuseConnections = false;
    server.answerPings = true;
    await waitFor(() => server.joins.some((j) => j.conn > conns) && ingestor.joinedChannels.includes('quiet'), 30_000, 'the re-join');
    const rejoinedAt = server.joins.find((j) => j.conn > conns)!.at;
    await new Promise((r) => setTimeout(r, 1500));
    const stoppedAt = Date.now();
    await ingestor.stop();

    const lc = (await events(run)).filter((e) => e.kind === 'lifecycle') as Array<StoredEvent & { ts: number }>;
    const beats = lc.filter((e) => e.event === 'alive');
    assert.deepEqual([...new Set(beats.map((e) => e.channel))], ['quiet']);
    const alive = beats.map((e) => e.ts);
    assert.ok(alive.every((ts, i) => i === 0 || ts > alive[i - 1]), 'one heartbeat per tick');
    // 3.5 s of a quiet but healthy connection: ~14 heartbeats, across three PING rounds.
    const healthy = alive.filter((ts) => ts > joinedAt && ts <= deadFrom);
    assert.ok(healthy.length >= 10, `${healthy.length} heartbeats while the connection was healthy`);
    assert.ok(healthy.some((ts) => ts > joinedAt + 2500), 'heartbeats go on after PINGs answered on a channel without chat');
    // Dead: the last line came before deadFrom, twurple's verdict is 1 + 2 s after it; nothing until the re-join.
    const disconnected = lc.find((e) => e.event === 'disconnected' && e.ts >= deadFrom)!;
    assert.ok(disconnected, 'the dead connection was recorded');
    const whileDead = alive.filter((ts) => ts > deadFrom && ts < rejoinedAt);
    assert.deepEqual(whileDead.filter((ts) => ts > deadFrom + 3000 || ts >= disconnected.ts), [], 'heartbeats from a dead connection');
    assert.ok(alive.filter((ts) => ts >= rejoinedAt && ts <= stoppedAt).length >= 3, 'heartbeats resume after the re-join');
    assert.deepEqual(alive.filter((ts) => ts > stoppedAt), [], 'heartbeats after stop()');
  } finally {
    await teardown(run);
    await nc.close();
  }
});

test('refused joins, a PART by Twitch and lines twurple cannot parse are counted and recorded; a join requested twice is recorded once', async (t) => {
  const { nc, reason } = await tryConnectNats();
  if (nc === null) return t.skip(`skipped: ${reason}`);
  const run = await setup(nc, uniqueNatsConfig({ TWITCH_CHANNELS: 'bad' }));
  const { server, ingestor } = run;
  try {
    server.refuseJoin = (ch) =>
      ch === 'suspended'
        ? ['@msg-id=msg_channel_suspended :tmi.twitch.tv NOTICE #{channel} :This channel has been suspended.']
        : ch === 'banned'
          ? ['@msg-id=msg_banned :tmi.twitch.tv NOTICE #{channel} :You are permanently banned from talking in {channel}.']
          : null;
    await server.waitForJoin('bad');
    await waitFor(() => ingestor.joinedChannels.includes('bad'), 10_000, 'the ingestor to join');
    // Two changes in a row, before the first joins are answered.
    ingestor.setChannels(['bad', 'ok', 'suspended']);
    ingestor.setChannels(['bad', 'ok', 'suspended', 'banned']);
    await waitFor(() => ingestor.joinedChannels.includes('ok') && ingestor.stats.joinFailures >= 2, 15_000, 'the joins to be answered');
    // The channel poll applies the same set every 5 s: a refused channel is not asked again at once (each
    // poll re-joined it, and recorded a `parted` row and a warning: 17,280 a day per suspended channel).
    for (let i = 0; i < 3; i++) ingestor.setChannels(['bad', 'ok', 'suspended', 'banned']);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(ingestor.stats.joinFailures, 2, 'no re-join of a refused channel within the retry delay');

    // twurple's own parser throws on these (and drops them without a word); ours rejects them.
    const before = { ...ingestor.stats };
    const bad = ['@', '@a=b', ':prefix.only', ':tmi.twitch.tv CLEARCHAT'];
    server.writeRaw([...bad, '@id=bad-ok;tmi-sent-ts=1680318993110;user-id=1 :a!a@a.tmi.twitch.tv PRIVMSG #bad :after the bad lines'].join('\r\n') + '\r\n');
    await waitFor(() => ingestor.stats.events > before.events, 10_000, 'the good line');
    assert.equal(ingestor.stats.lines - before.lines, bad.length + 1, 'lines counted');
    assert.equal(ingestor.stats.rejected - before.rejected, bad.length, 'lines rejected');
    // Twitch parts a wanted channel: recorded as such, and as a gap until the shutdown.
    server.partChannel('ok');
    await waitFor(() => !ingestor.joinedChannels.includes('ok'), 10_000, 'the part');
    // No longer wanted: its gap ends now, not at the shutdown (weeks later, in a long run).
    ingestor.setChannels(['bad', 'suspended', 'banned']);
    await ingestor.stop();

    const lc = (await events(run)).filter((e) => e.kind === 'lifecycle');
    const rows = (event: string, channel: string) => lc.filter((e) => e.event === event && e.channel === channel);
    assert.equal(rows('joined', 'ok').length, 1, 'joined rows for #ok');
    assert.equal(rows('joined', 'suspended').length + rows('joined', 'banned').length, 0);
    assert.deepEqual(rows('parted', 'suspended').map((e) => e.detail), ['join failed: msg_channel_suspended']);
    assert.deepEqual(rows('parted', 'banned').map((e) => e.detail), ['join failed: msg_banned']);
    assert.equal(ingestor.stats.joinFailures, 2);
    assert.deepEqual(rows('parted', 'ok').map((e) => e.detail), ['parted by Twitch']);
    assert.deepEqual(rows('gap', 'ok').map((e) => e.detail), ['parted by Twitch; channel removed']);
  } finally {
    await teardown(run);
    await nc.close();
  }
});

test("more than 20 channels: twurple's join rate limiter queues the rest without writing to stdout (its log goes to ours at debug)", { timeout: 60_000 }, async (t) => {
  const { nc, reason } = await tryConnectNats();
  if (nc === null) return t.skip(`skipped: ${reason}`);
  const channels = Array.from({ length: 21 }, (_, i) => `many${i}`);
  const written: string[] = [];
  const debug: string[] = [];
  const capture = pino({ level: 'debug' }, { write: (line: string) => void debug.push(line) });
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const tap = (orig: typeof out) => ((chunk: string | Uint8Array, ...rest: never[]) => (written.push(String(chunk)), orig(chunk, ...rest))) as typeof out;
  process.stdout.write = tap(out);
  process.stderr.write = tap(err);
  let run: Run | null = null;
  try {
    run = await setup(nc, uniqueNatsConfig({ TWITCH_CHANNELS: channels.join(',') }), { logger: capture });
    const ingestor = run.ingestor;
    // 20 JOINs go out at once, the 21st after twurple's 11 s window
    await waitFor(() => ingestor.joinedChannels.length === 21, 30_000, 'all 21 joins');
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    if (run) await teardown(run);
    await nc.close();
  }
  assert.deepEqual(written.filter((w) => /rate limit/i.test(w)), [], 'nothing from the limiter on stdout/stderr');
  assert.ok(debug.some((l) => /Rate limit of 20/.test(l) && /twurple rate-limiter/.test(l)), 'the queued join is in our log at debug');
});
