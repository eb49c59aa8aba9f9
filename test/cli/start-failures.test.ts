/**
 * Long-running commands that fail while starting exit with the reason. Each case fails after the command
 * has opened something (ClickHouse, the control server, NATS, a consume loop), which kept the process
 * alive: it printed its error and then ran on until killed, so a supervisor never saw it stop.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { tryConnectNats, uniqueNatsEnv } from '../support/nats.ts';
import { freePort, runCli, tempDir, type CliResult } from './harness.ts';

const base = tempDir('start-failures');
after(() => fs.rmSync(base, { recursive: true, force: true }));

function assertExitedWith(r: CliResult, reason: RegExp): void {
  assert.equal(r.signal, null, `exits by itself (was killed); stderr: ${r.stderr}`);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, reason);
}

test('ingest that cannot log in to Twitch', { timeout: 120_000 }, async () => {
  // A well-formed token file: Twitch rejects the token, or (offline, as here) cannot be asked; either way
  // the login fails after ClickHouse, the control server and the bus are open.
  const dir = path.join(base, 'login');
  fs.mkdirSync(dir, { recursive: true });
  const tokenFile = path.join(dir, 'token.json');
  fs.writeFileSync(tokenFile, JSON.stringify({ accessToken: 'not-a-real-token', refreshToken: 'nor-this', scope: ['chat:read'], expiresIn: 0, obtainmentTimestamp: 0 }));
  const r = await runCli(['ingest'], { TWICHIST_DATA_DIR: path.join(dir, 'data'), TWITCH_CLIENT_ID: 'abc', TWITCH_CLIENT_SECRET: 'def', TWITCH_TOKEN_FILE: tokenFile, TWITCH_CHANNELS: 'xqc' }, 90_000);
  assertExitedWith(r, /twichist: cannot log in to Twitch with the token in .*token\.json \(TWITCH_TOKEN_FILE\): .*Unset TWITCH_CLIENT_ID to read chat anonymously/);
});

test('enrich with no NATS server at NATS_URL', { timeout: 120_000 }, async () => {
  const port = await freePort();
  const r = await runCli(['enrich'], { TWICHIST_DATA_DIR: path.join(base, 'no-nats'), NATS_URL: `nats://127.0.0.1:${port}`, ENRICH_METRICS_PORT: '0' }, 90_000);
  assertExitedWith(r, /twichist: cannot connect to NATS \(connection refused\); check NATS_URL/);
});

test('enrich whose metrics port is taken (its consume loop already running)', { timeout: 120_000 }, async (t) => {
  const n = await tryConnectNats();
  if (!n.nc) return t.skip(`skipped: ${n.reason}`);
  const nats = uniqueNatsEnv();
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  try {
    const port = (taken.address() as net.AddressInfo).port;
    const r = await runCli(['enrich'], { ...nats, TWICHIST_DATA_DIR: path.join(base, 'metrics'), ENRICH_METRICS_PORT: String(port), TOPICS_INTERVAL_S: '0', TWICHIST_ONLINE: 'false' }, 90_000);
    assertExitedWith(r, /cannot serve metrics on 127\.0\.0\.1:\d+ .*set ENRICH_METRICS_PORT to a free port/);
  } finally {
    taken.close();
    try {
      await (await jetstreamManager(n.nc)).streams.delete(nats.NATS_STREAM);
    } catch {
      // never created
    }
    await n.nc.close();
  }
});
