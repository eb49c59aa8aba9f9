/**
 * Without a reachable Twitch IRC the log and `twichist status` must name why (DNS, refused, login), not just
 * "disconnected": the real twurple client pointed at a local port nothing listens on, over TCP (as with
 * TWITCH_IRC_HOST) and over WebSocket (Twitch's default), where twurple's own reason was "[1006] ".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { ChatClient } from '@twurple/chat';
import { fixLineFraming, LiveIngestor, pointChatClientAt } from '../../ingest/live.ts';
import { loadConfig } from '../../core/config.ts';

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
    // Two failures: twurple retries the first at once and the second after 1 s, so the stop below falls between
    // attempts: stopped while a TCP connect is pending, twurple's PersistentConnection takes that connect's failure for
    // a lost connection and reconnects for ever, and the test would not end.
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
