/**
 * Configuration errors stop start-up with one line naming the setting and the fix: no stack trace,
 * non-zero exit, and nothing started (each case fails in preflight, before ClickHouse is opened).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, test } from 'node:test';
import { freePort, runCli, STACK_LINE, tempDir } from './harness.ts';

const base = tempDir('config-errors');
after(() => fs.rmSync(base, { recursive: true, force: true }));

/** Runs `twichist up` with `vars` and checks the one-line failure names `setting` and matches `fix`. */
async function expectConfigError(vars: Record<string, string>, setting: string, fix: RegExp, args: string[] = ['up']) {
  const dataDir = path.join(base, `d${Math.random().toString(36).slice(2)}`);
  const port = await freePort();
  const r = await runCli(args, { TWICHIST_DATA_DIR: dataDir, API_PORT: String(port), ...vars }, 30_000);
  assert.notEqual(r.code, 0, `exit code must be non-zero; stdout: ${r.stdout}`);
  assert.equal(r.signal, null, 'exits by itself (no hang until killed)');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, STACK_LINE, 'no stack trace');
  assert.match(lines[0], /^twichist: configuration error: /);
  assert.ok(lines[0].includes(setting), `names ${setting}: ${lines[0]}`);
  assert.match(lines[0], fix);
  return lines[0];
}

test('CLICKHOUSE_URL that is not a URL', async () => {
  await expectConfigError({ CLICKHOUSE_URL: 'localhost:8123' }, 'CLICKHOUSE_URL', /must be a URL starting with http:\/\//);
});

test('CLICKHOUSE_URL pointing at nothing', async () => {
  const port = await freePort();
  await expectConfigError({ CLICKHOUSE_URL: `http://127.0.0.1:${port}` }, 'CLICKHOUSE_URL', /cannot reach ClickHouse .*unset CLICKHOUSE_URL to use the embedded database/);
});

test('CLICKHOUSE_URL pointing at something that is not ClickHouse', async () => {
  // A plain TCP server that answers HTTP with 404: the usual mistake is the native port or another service.
  const srv = net.createServer((s) => s.end('HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot here\n'));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (srv.address() as net.AddressInfo).port;
    await expectConfigError({ CLICKHOUSE_URL: `http://127.0.0.1:${port}` }, 'CLICKHOUSE_URL', /not like a ClickHouse HTTP interface/);
  } finally {
    srv.close();
  }
});

test('NATS_URL with the wrong scheme', async () => {
  await expectConfigError({ NATS_URL: 'http://127.0.0.1:4222' }, 'NATS_URL', /must be a URL starting with nats:\/\//);
});

test('NATS_URL pointing at nothing', async () => {
  const port = await freePort();
  await expectConfigError({ NATS_URL: `nats://127.0.0.1:${port}` }, 'NATS_URL', /cannot reach NATS .*unset NATS_URL to use the in-process bus/);
});

test('TWICHIST_DATA_DIR that cannot be written', async () => {
  // Below a regular file: fails for every user, root included (a chmod-based test would pass as root).
  const file = path.join(base, 'a-file');
  fs.writeFileSync(file, '');
  await expectConfigError({ TWICHIST_DATA_DIR: path.join(file, 'data') }, 'TWICHIST_DATA_DIR', /cannot write to .*set TWICHIST_DATA_DIR to a folder/, ['up']);
});

test('TWICHIST_DATA_DIR that cannot hold folders (/proc, a dangling link) fails at once, also for commands without the preflight', { skip: fs.existsSync('/proc/self') ? false : 'no /proc here' }, async () => {
  // Node's recursive mkdir never returns there (ENOENT under a parent that exists): every command hung.
  const fix = /cannot (write to|create) \/proc\/twichist.*set TWICHIST_DATA_DIR to a folder/;
  for (const args of [['up'], ['api'], ['migrate'], ['import', 'samples/northernlion-98355852.v5-rechat.json.gz']]) {
    await expectConfigError({ TWICHIST_DATA_DIR: '/proc/twichist' }, 'TWICHIST_DATA_DIR', fix, args);
  }
  const link = path.join(base, 'dangling');
  fs.symlinkSync(path.join(base, 'nowhere'), link);
  await expectConfigError({ TWICHIST_DATA_DIR: path.join(link, 'data') }, 'TWICHIST_DATA_DIR', /cannot write to .*dangling.*set TWICHIST_DATA_DIR/, ['up']);
  await expectConfigError({ TWICHIST_DATA_DIR: path.join(link, 'data') }, 'TWICHIST_DATA_DIR', /cannot create .*dangling.*set TWICHIST_DATA_DIR/, ['migrate']);
});

test('TWICHIST_API_TOKEN too short', async () => {
  await expectConfigError({ TWICHIST_API_TOKEN: 'hunter2' }, 'TWICHIST_API_TOKEN', /too short.*at least 16/);
});

test('TWICHIST_API_TOKEN blank', async () => {
  await expectConfigError({ TWICHIST_API_TOKEN: '   ' }, 'TWICHIST_API_TOKEN', /is blank/);
});

test('TWICHIST_API_TOKEN too short for `twichist api` too (it runs no preflight, and serves the changing requests)', async () => {
  await expectConfigError({ TWICHIST_API_TOKEN: 'hunter2' }, 'TWICHIST_API_TOKEN', /too short.*at least 16/, ['api']);
});

test('TWITCH_TOKEN_FILE that cannot be read', async () => {
  await expectConfigError({ TWITCH_TOKEN_FILE: path.join(base, 'missing-token.json') }, 'TWITCH_TOKEN_FILE', /cannot read .*ENOENT/);
});

test('TWITCH_TOKEN_FILE checked by `twichist ingest` too, before it logs in (it printed "Invalid token supplied" and hung)', async () => {
  const file = path.join(base, 'ingest-no-access-token.json');
  fs.writeFileSync(file, '{"refreshToken": "x"}');
  await expectConfigError({ TWITCH_TOKEN_FILE: file, TWITCH_CLIENT_ID: 'abc', TWITCH_CLIENT_SECRET: 'def', TWITCH_CHANNELS: 'xqc' }, 'TWITCH_TOKEN_FILE', /has no accessToken/, ['ingest']);
  await expectConfigError({ TWITCH_TOKEN_FILE: path.join(base, 'ingest-missing.json'), TWITCH_CLIENT_ID: 'abc', TWITCH_CLIENT_SECRET: 'def' }, 'TWITCH_TOKEN_FILE', /cannot read .*ENOENT/, ['ingest']);
});

test('TWITCH_TOKEN_FILE that is not a token', async () => {
  const file = path.join(base, 'token.json');
  fs.writeFileSync(file, '{"refreshToken": "x"}');
  await expectConfigError({ TWITCH_TOKEN_FILE: file }, 'TWITCH_TOKEN_FILE', /has no accessToken/);
});

test('API_PORT already in use', async () => {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (srv.address() as net.AddressInfo).port;
    await expectConfigError({ API_PORT: String(port) }, 'API_PORT', /already in use/);
  } finally {
    srv.close();
  }
});

test('a value the schema rejects (API_PORT=abc)', async () => {
  await expectConfigError({ API_PORT: 'abc' }, 'API_PORT', /fix the variable or unset it/);
});

test('TWITCH_CHANNELS with something that is not a login', async () => {
  await expectConfigError({ TWITCH_CHANNELS: 'good_one,not a-login!' }, 'TWITCH_CHANNELS', /must be Twitch logins/);
});

/**
 * Commands other than `up` do not run the preflight, but an unreachable server must still end in one
 * line naming the setting, without the client library's stack trace.
 */
for (const [args, vars, setting] of [
  [['sql', 'SELECT 1'], 'clickhouse', 'CLICKHOUSE_URL'],
  [['migrate'], 'clickhouse', 'CLICKHOUSE_URL'],
  [['import', 'samples/northernlion-98355852.v5-rechat.json.gz'], 'nats', 'NATS_URL'],
] as const) {
  test(`twichist ${args[0]} with an unreachable ${setting}`, async () => {
    const port = await freePort();
    const env: Record<string, string> = vars === 'clickhouse' ? { CLICKHOUSE_URL: `http://127.0.0.1:${port}` } : { NATS_URL: `nats://127.0.0.1:${port}` };
    const r = await runCli([...args], { TWICHIST_DATA_DIR: path.join(base, 'other'), ...env }, 30_000);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stderr, STACK_LINE, 'no stack trace');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
    assert.ok(lines[0].includes(setting), lines[0]);
  });
}
