/**
 * `twichist up` with TWITCH_CHANNELS: the live path. Twitch cannot be reached from tests, so the local
 * Twitch IRC server (test/support/twitch-irc-server.ts) plays the first 600 lines of the real #xqc
 * recording into the channel `up` joins (TWITCH_IRC_HOST). Every chat line the server delivered
 * must be stored, the API must list the channel, and SIGTERM must exit 0 with nothing lost.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { lineInfo, TwitchIrcServer } from '../support/twitch-irc-server.ts';
import { freePort, ROOT, runCli, startCli, STACK_LINE, tempDir } from '../cli/harness.ts';

const XQC = path.resolve(ROOT, '..', 'shared', 'data', 'irc', 'xqc-2023-04-01.raw.irc');
const CHANNEL = 'twichist_e2e';
const dataDir = tempDir('up-live');
after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

async function count(env: Record<string, string>, kind: 'messages' | 'mod_actions'): Promise<number> {
  const r = await runCli(['sql', `SELECT count() AS n FROM ${kind} WHERE channel = '${CHANNEL}'`, '--format', 'json'], env);
  assert.equal(r.code, 0, r.stderr);
  return Number((JSON.parse(r.stdout) as { n: number }).n);
}

test('up archives a live channel and stops cleanly', { skip: fs.existsSync(XQC) ? false : `skipped: ${XQC} is absent (../shared/data is not on this machine)` }, async () => {
  const server = await TwitchIrcServer.start();
  const env = { TWICHIST_DATA_DIR: dataDir, API_PORT: String(await freePort()), TWITCH_CHANNELS: CHANNEL, TWITCH_IRC_HOST: `127.0.0.1:${server.port}`, TWITCH_IRC_SSL: 'false', LOG_LEVEL: 'warn' };
  const up = startCli(['up'], env);
  try {
    const [, api] = await up.waitFor(/API docs +(http:\/\/\S+)\/docs/, 120_000);
    assert.match(up.stdout(), /archiving #twichist_e2e live/);
    const lines = fs.readFileSync(XQC, 'utf8').split(/\r?\n/).slice(0, 600);
    let privmsgs = 0;
    let clearchats = 0;
    const played = await server.replay(lines, {
      speed: 'max',
      channel: CHANNEL,
      onLine: (_i, line, delivered) => {
        const cmd = lineInfo(line)?.command;
        if (delivered && cmd === 'PRIVMSG') privmsgs++;
        if (delivered && cmd === 'CLEARCHAT') clearchats++;
      },
    });
    assert.ok(privmsgs > 100, `delivered ${privmsgs} chat lines (${JSON.stringify(played)})`);
    // Live chat is stored within the enrich flush interval; allow a loaded machine some seconds.
    const deadline = Date.now() + 60_000;
    while ((await count(env, 'messages')) < privmsgs && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await count(env, 'messages'), privmsgs);

    const res = await fetch(`${api}/api/v1/channels`);
    const body = (await res.json()) as { items: Array<{ login: string; messages: number }> };
    assert.equal(body.items.find((c) => c.login === CHANNEL)?.messages, privmsgs);
  } finally {
    up.child.kill('SIGTERM');
    const timer = setTimeout(() => up.child.kill('SIGKILL'), 90_000);
    await up.exited;
    clearTimeout(timer);
    await server.close();
  }
  const { code, signal } = await up.exited;
  assert.equal(signal, null);
  assert.equal(code, 0, up.stderr());
  assert.doesNotMatch(up.stderr(), STACK_LINE);
  // After exit, opened directly: the stored chat is all there, and the connection was recorded.
  const after = { TWICHIST_DATA_DIR: dataDir };
  assert.ok((await count(after, 'messages')) > 100);
  const r = await runCli(['sql', `SELECT groupUniqArray(event) AS e FROM ingest_events WHERE channel = '${CHANNEL}'`, '--format', 'json'], after);
  assert.match(r.stdout, /joined/, `lifecycle events recorded: ${r.stdout}`);
});

test('a channel added through the API starts live ingest; a restart archives it instead of replaying', { skip: fs.existsSync(XQC) ? false : `skipped: ${XQC} is absent` }, async () => {
  const dir = tempDir('up-follow');
  const server = await TwitchIrcServer.start();
  const token = 'e2e-token-0123456789abcdef';
  const env = (port: number) => ({ TWICHIST_DATA_DIR: dir, API_PORT: String(port), TWICHIST_API_TOKEN: token, TWITCH_IRC_HOST: `127.0.0.1:${server.port}`, TWITCH_IRC_SSL: 'false', LOG_LEVEL: 'warn' });
  const stop = async (up: ReturnType<typeof startCli>) => {
    up.child.kill('SIGTERM');
    const timer = setTimeout(() => up.child.kill('SIGKILL'), 90_000);
    const r = await up.exited;
    clearTimeout(timer);
    assert.equal(r.code, 0, up.stderr());
  };
  try {
    // No channel anywhere: the sample replays; adding a channel joins it without a restart.
    const first = startCli(['up', '--speed', '1000'], env(await freePort()));
    try {
      const [, api] = await first.waitFor(/API docs +(http:\/\/\S+)\/docs/, 120_000);
      assert.match(first.stdout(), /replaying /);
      const res = await fetch(`${api}/api/v1/channels`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ login: 'twichist_follow' }) });
      assert.equal(res.status, 201, await res.text());
      await server.waitForJoin('twichist_follow', 60_000);
    } finally {
      await stop(first);
    }
    // The channels table now follows one: a restart archives it live and does not replay.
    const second = startCli(['up'], env(await freePort()));
    try {
      await second.waitFor(/archiving #twichist_follow live/, 120_000);
      await server.waitForJoin('twichist_follow', 60_000);
      assert.doesNotMatch(second.stdout(), /replaying /);
    } finally {
      await stop(second);
    }
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
