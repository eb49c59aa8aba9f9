/**
 * Without a reachable Twitch IRC the log and `twichist status` must name why (DNS, refused, login), not just
 * "disconnected": the real twurple client pointed at a local port nothing listens on, over TCP (as with
 * TWITCH_IRC_HOST) and over WebSocket (Twitch's default), where twurple's own reason was "[1006] ". Nor may a failing
 * connection keep a stopped process alive, or a server that closes at once make the client reconnect without pause.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { ChatClient } from '@twurple/chat';
import { fixLineFraming, LiveIngestor, pointChatClientAt } from '../../ingest/live.ts';
import { loadConfig } from '../../core/config.ts';
import type { ChatEvent } from '../../core/events.ts';
import { TwitchIrcServer } from '../support/twitch-irc-server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A local port that refuses connections: bound, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string) {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a refused TCP connection: the log line and the connection state name host:port and ECONNREFUSED, and since when it retries', async () => {
  const port = await closedPort();
  const lines: Array<{ msg: string; error?: string; retrying_since?: string }> = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString())), done()) });
  const publisher = { publish: async () => {}, flush: async () => {}, close: async () => {} };
  const before = Date.now();
  const ingestor = new LiveIngestor({ config: loadConfig({ TWITCH_CHANNELS: 'somechannel' }), logger: pino({ level: 'warn' }, sink), publisher, irc: { host: '127.0.0.1', port, ssl: false } });
  await ingestor.start();
  try {
    // Two failures: the first attempt and its retry 1 s later (twurple's timings, see LiveIngestor.gateConnects).
    await waitFor(() => lines.filter((l) => l.error !== undefined).length >= 2, 5000, 'two connection errors');
    const state = ingestor.connection;
    assert.equal(state.connected, false);
    assert.match(state.last_error ?? '', new RegExp(`^127\\.0\\.0\\.1:${port}: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`));
    assert.ok(Date.parse(state.retrying_since ?? '') >= before, `retrying_since ${state.retrying_since}`);
    const warn = lines.find((l) => l.error !== undefined);
    assert.equal(warn?.error, state.last_error);
    assert.equal(warn?.retrying_since, state.retrying_since);
    assert.match(warn?.msg ?? '', /ECONNREFUSED.*retrying with backoff since /);
  } finally {
    await ingestor.stop();
  }
});

test('over WebSocket the disconnect reason is the socket error (ECONNREFUSED), not "[1006] "', async () => {
  const port = await closedPort();
  const client = new ChatClient({ hostName: '127.0.0.1', ssl: false, webSocket: true, readOnly: true, channels: ['somechannel'], logger: { minLevel: 'critical' } });
  pointChatClientAt(client, port);
  fixLineFraming(client);
  const reasons: string[] = [];
  client.onDisconnect((_manually, reason) => reasons.push(reason?.message ?? '(none)'));
  client.connect();
  try {
    await waitFor(() => reasons.length > 0, 5000, 'a disconnect');
    assert.match(reasons[0], /ECONNREFUSED/);
  } finally {
    client.quit();
  }
});

/** A process that starts an ingestor against 127.0.0.1:`port`, stops it after `stopAfterMs`, and should then end by itself. */
const STOP_CHILD = `
import { pino } from 'pino';
import { LiveIngestor } from './ingest/live.ts';
import { loadConfig } from './core/config.ts';
const publisher = { publish: async () => {}, flush: async () => {}, close: async () => {} };
const ingestor = new LiveIngestor({ config: loadConfig({ TWITCH_CHANNELS: 'somechannel' }), logger: pino({ level: 'silent' }), publisher, irc: { host: '127.0.0.1', port: Number(process.env.IRC_PORT), ssl: false } });
await ingestor.start();
// 0: stopped in the same tick, while the TCP connect is pending.
if (Number(process.env.STOP_AFTER_MS) > 0) await new Promise((r) => setTimeout(r, Number(process.env.STOP_AFTER_MS)));
await ingestor.stop();
console.log('stopped');
`;

/**
 * Runs STOP_CHILD against 127.0.0.1:`port`. `code` is null when it was still running `limitMs` after the start (then
 * killed); `exitMs` is how long it ran on after printing "stopped".
 */
async function stopInChild(port: number, stopAfterMs: number, limitMs: number): Promise<{ code: number | null; exitMs: number }> {
  const child = spawn(process.execPath, ['--input-type=module-typescript', '-e', STOP_CHILD], { cwd: ROOT, env: { ...process.env, IRC_PORT: String(port), STOP_AFTER_MS: String(stopAfterMs) }, stdio: ['ignore', 'pipe', 'inherit'] });
  let stoppedAt = Infinity;
  child.stdout.on('data', (d: Buffer) => {
    if (stoppedAt === Infinity && d.toString().includes('stopped')) stoppedAt = Date.now();
  });
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => (child.kill('SIGKILL'), resolve(null)), limitMs);
    child.on('exit', (c) => (clearTimeout(t), resolve(c)));
  });
  return { code, exitMs: Date.now() - stoppedAt };
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

test('stop() while the connect is pending: no attempt after it, and the process exits by itself', async () => {
  // Accepts and closes at once: the connect pending at stop() then fails, which twurple took for a lost connection.
  let accepts = 0;
  const server = net.createServer((s) => (accepts++, s.destroy()));
  const port = await listen(server);
  try {
    const r = await stopInChild(port, 0, 8000);
    assert.equal(r.code, 0, `the process did not exit by itself (${accepts} connection attempts)`);
    // The connect pending at stop() may still reach the server; nothing after it.
    assert.ok(accepts <= 1, `${accepts} connection attempts`);
  } finally {
    server.close();
  }
});

test('stop() while connected to a server that never answers: the process exits by itself', async () => {
  // TCP is accepted but never read: the server answers neither the registration nor the close.
  const sockets: net.Socket[] = [];
  const server = net.createServer({ pauseOnConnect: true }, (s) => sockets.push(s));
  const port = await listen(server);
  try {
    // stop() waits up to 2 s for the server to close.
    const r = await stopInChild(port, 500, 8000);
    assert.equal(sockets.length, 1);
    assert.equal(r.code, 0, 'the process did not exit by itself');
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});

test('stop() while waiting to retry a refused connect: the process exits at once, not when the retry was due', async () => {
  // Attempts at 0, 1, 2 and 4 s, the next due at 7 s: stopped at 4.5 s, twurple's retry timer kept the process until then.
  const r = await stopInChild(await closedPort(), 4500, 12_000);
  assert.equal(r.code, 0, 'the process did not exit by itself');
  assert.ok(r.exitMs < 1000, `exited ${r.exitMs} ms after stop()`);
});

test('a server that accepts and closes at once is retried with backoff, one warning per attempt, and reached once it answers', async () => {
  const server = await TwitchIrcServer.start();
  server.closeNewConnections = true;
  const warnings: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (warnings.push(JSON.parse(chunk.toString()).msg), done()) });
  const published: ChatEvent[] = [];
  const publisher = { publish: async (_ch: string, events: ChatEvent[]) => void published.push(...events), flush: async () => {}, close: async () => {} };
  const ingestor = new LiveIngestor({ config: loadConfig({ TWITCH_CHANNELS: 'somechannel' }), logger: pino({ level: 'warn' }, sink), publisher, irc: { host: server.host, port: server.port, ssl: false }, batch: { maxDelayMs: 10 } });
  await ingestor.start();
  try {
    await new Promise((r) => setTimeout(r, 3000));
    // twurple's timings: at 0, 1, 2 s (then 4, 7 ...); it reconnected at once, thousands of times a second.
    const attempts = server.refused;
    assert.ok(attempts >= 2 && attempts <= 5, `${attempts} connection attempts in 3 s`);
    await waitFor(() => warnings.length >= attempts, 1000, 'a warning per attempt');
    assert.ok(warnings.length <= attempts + 1, `${warnings.length} warnings for ${attempts} attempts`);

    server.closeNewConnections = false;
    await server.waitForJoin('somechannel', 10_000);
    await waitFor(() => ingestor.connection.connected, 5000, 'registration');
    await server.broadcast('@id=backoff-1;tmi-sent-ts=1680318993110;user-id=1 :a!a@a.tmi.twitch.tv PRIVMSG #somechannel :hello again', 'somechannel');
    await waitFor(() => published.some((e) => e.kind === 'message' && e.id === 'backoff-1'), 5000, 'the chat line on the bus');
  } finally {
    await ingestor.stop();
    await server.close();
  }
});
