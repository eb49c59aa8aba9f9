/**
 * `twichist status` against a running process's control server (this test process holds the embedded
 * database and serves it, as `twichist up` does), the real NATS with a stream of this test only, and
 * dependencies that accept connections but never answer.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createClickHouse } from '../../core/clickhouse.ts';
import { INGEST_STALLED_S, loadConfig } from '../../core/config.ts';
import { startControlServer, type ControlServer } from '../../core/control.ts';
import { createLogger } from '../../core/logger.ts';
import { chatSubject } from '../../core/subjects.ts';
import { migrateUp } from '../../clickhouse/migrate.ts';
import { ensureChatStream } from '../../ingest/jetstream.ts';
import { rows } from '../../api/db.ts';
import { testDatabase, type TestDatabase } from '../support/clickhouse.ts';
import { deleteStream, tryConnectNats, uniqueNatsEnv } from '../support/nats.ts';
import { ROOT, runCli, tempDir } from './harness.ts';
import type { Status } from '../../cli/commands/status.ts';

let db: TestDatabase;
let control: ControlServer;
/** What the control server reports, as `twichist up`'s in-process bus does. */
const report: Record<string, unknown> = { bus: { kind: 'in-process', queued: 3 } };

before(async () => {
  db = await testDatabase();
  control = await startControlServer({ dataDir: db.config.dataDir, logger: createLogger('silent'), status: () => report });
});
after(() => control?.close());

const env = (extra: Record<string, string> = {}) => ({ TWICHIST_DATA_DIR: db.config.dataDir, CLICKHOUSE_DATABASE: db.database, ...extra });

async function statusJson(vars: Record<string, string>): Promise<{ code: number | null; status: Status }> {
  const r = await runCli(['status', '--json'], vars, 60_000);
  assert.equal(r.stderr, '');
  return { code: r.code, status: JSON.parse(r.stdout) as Status };
}

const insert = (table: string, values: Array<Record<string, unknown>>) => db.client.insert({ table, values, format: 'JSONEachRow' });
const alive = (id: string, channel: string, ts: number) => ({ id, channel, ts, received_at: ts, source: 'live', event: 'alive', ingestor: 'test:1' });

test('a stalled followed channel and a dead letter: each named on one line, exit 1; once fixed, healthy and exit 0', { timeout: 120_000 }, async () => {
  const now = Date.now();
  await insert('channels', ['lirik', 'xqc', 'quiet'].map((login) => ({ login, channel_id: null, enabled: login !== 'quiet', removed: false, added_at: now, updated_at: now })));
  await insert('ingest_events', [alive('a1', 'lirik', now - 30_000), alive('a2', 'xqc', now - (INGEST_STALLED_S + 60) * 1000)]);
  await insert('messages', [{ id: 'm1', channel: 'lirik', ts: now - 10_000, received_at: now - 10_000, source: 'live', login: 'a', text: 'hi' }]);
  await insert('dead_letters', [{ id: 'dl1', ts: now, stage: 'enrich', source: 'test', reason: 'bad line', payload: '{' }]);

  const { code, status } = await statusJson(env());
  assert.equal(code, 1);
  assert.equal(status.healthy, false);
  assert.equal(status.problems.length, 2, status.problems.join('\n'));
  assert.match(status.problems.find((p) => p.includes('#xqc')) ?? '', /^channel #xqc: ingest stalled, last ingest event alive at /);
  assert.match(status.problems.find((p) => p.startsWith('dead letters')) ?? '', /^dead letters: 1 event\(s\) could not be stored/);
  const byLogin = Object.fromEntries(status.clickhouse.channels.map((c) => [c.login, c]));
  assert.deepEqual(Object.keys(byLogin).sort(), ['lirik', 'quiet', 'xqc']);
  assert.deepEqual(
    [byLogin.lirik.ingest_state, byLogin.xqc.ingest_state, byLogin.quiet.ingest_state],
    ['joined', 'stalled', 'disabled'],
    'the API ingest_state definitions',
  );
  assert.equal(byLogin.lirik.last_heartbeat_at, new Date(now - 30_000).toISOString());
  assert.equal(byLogin.lirik.last_message_at, new Date(now - 10_000).toISOString());
  assert.equal(byLogin.quiet.last_heartbeat_at, null);
  assert.deepEqual(status.bus, { kind: 'in-process', pid: process.pid, queued: 3 });
  assert.equal(status.process?.pid, process.pid);
  assert.equal(status.clickhouse.rows?.messages, 1);
  assert.equal(status.clickhouse.dead_letters, 1);
  assert.deepEqual(status.clickhouse.migrations?.pending, []);
  assert.equal(status.journal.pending, 0);
  assert.deepEqual(status.models.installed, []);

  const text = await runCli(['status'], env(), 60_000);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /\n2 problem\(s\):\n {2}dead letters: 1 .*\n {2}channel #xqc: ingest stalled.*\n$/);
  assert.match(text.stdout, /^bus {9}in-process, twichist pid \d+: 3 bus messages queued or unacknowledged$/m);

  await insert('ingest_events', [alive('a3', 'xqc', Date.now())]);
  await db.client.command({ query: 'TRUNCATE TABLE dead_letters' });
  const fixed = await runCli(['status'], env(), 60_000);
  assert.equal(fixed.code, 0, fixed.stdout);
  assert.match(fixed.stdout, /\nhealthy\n$/);
});

/** Polls `check` every 200 ms until it is true (the engine's refreshes run on their own schedule). */
async function until(check: () => Promise<boolean>, what: string, ms = 30_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('refreshable views of the serving process: one whose refresh fails and one stopped for over 3 periods are problems naming the view, its error or age, exit 1; `analytics views` shows the same', { timeout: 120_000 }, async () => {
  const views = (sql: string) => rows<{ view: string; failed: number; ok: number }>(db.client, sql);
  await db.client.command({ query: 'CREATE TABLE broken_target (x UInt8) ENGINE = MergeTree ORDER BY x' });
  await db.client.command({ query: "CREATE MATERIALIZED VIEW broken_mv REFRESH EVERY 1 MINUTE TO broken_target AS SELECT throwIf(number = 0, 'test view cannot refresh') AS x FROM numbers(1)" });
  await db.client.command({ query: 'CREATE TABLE stopped_target (x UInt8) ENGINE = MergeTree ORDER BY x' });
  await db.client.command({ query: 'CREATE MATERIALIZED VIEW stopped_mv REFRESH EVERY 1 SECOND TO stopped_target AS SELECT 1 AS x' });
  const mine = (ps: string[]) => ps.filter((p) => /^view (broken|stopped)_mv /.test(p));
  try {
    const state = "SELECT view, exception != '' AS failed, last_success_time IS NOT NULL AS ok FROM system.view_refreshes WHERE database = currentDatabase() AND view IN ('broken_mv', 'stopped_mv') ORDER BY view";
    await until(async () => JSON.stringify((await views(state)).map((r) => [r.view, Number(r.failed), Number(r.ok)])) === '[["broken_mv",1,0],["stopped_mv",0,1]]', 'the first refreshes');
    await db.client.command({ query: 'SYSTEM STOP VIEW stopped_mv' });
    // its last success becomes older than 3 periods (3 s); this process's engine has run longer than that
    await new Promise((r) => setTimeout(r, 4500));

    const { code, status } = await statusJson(env());
    assert.equal(code, 1);
    const problems = mine(status.problems);
    assert.equal(problems.length, 2, status.problems.join('\n'));
    assert.match(problems[0], /^view broken_mv \(refreshes broken_target every 60 s\): last refresh failed at \d{4}-\d\d-\d\dT[\d:.]+Z, never succeeded: Code: 395\. DB::Exception: test view cannot refresh: .*\(FUNCTION_THROW_IF_VALUE_IS_NON_ZERO\) \(`twichist analytics views`, system\.view_refreshes\)$/);
    assert.match(problems[1], /^view stopped_mv \(refreshes stopped_target every 1 s\): last success \d+ s ago, over 3 periods; stopped \(SYSTEM STOP VIEW\)/);
    assert.ok(!problems[0].includes('Stack trace'), problems[0]);
    const broken = status.clickhouse.views?.list.find((v) => v.view === 'broken_mv');
    assert.equal(broken?.last_success_at, null);
    assert.equal(broken?.period_s, 60);

    const text = await runCli(['status'], env(), 60_000);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^views {7}\d+ refreshable: 2 failing or late \(refreshed by twichist pid \d+, up \d+ (s|min)\)$/m);
    // served: the serving process's refreshes, not a fresh engine's "never, next 1970-01-01 00:00:30"
    const listed = await runCli(['analytics', 'views'], env(), 60_000);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^broken_mv +Scheduled +every 1 min +last ok never {2}next \d{4}-.* {2}error: Code: 395\. DB::Exception: test view cannot refresh/m);
    assert.match(listed.stdout, /^stopped_mv +Disabled +every 1 s +last ok \d{4}-\d\d-\d\dT/m);
    assert.doesNotMatch(listed.stdout, /1970/);
  } finally {
    for (const v of ['broken_mv', 'stopped_mv']) await db.client.command({ query: `DROP VIEW IF EXISTS ${v}` });
    for (const t of ['broken_target', 'stopped_target']) await db.client.command({ query: `DROP TABLE IF EXISTS ${t}` });
  }
  assert.deepEqual(mine((await statusJson(env())).status.problems), []);
});

test('a folder no process serves: status does not judge the views by its own engine, and `analytics views` says no refresh ran and when each table was last written', { timeout: 120_000 }, async () => {
  const dir = tempDir('twichist-status-views-');
  assert.equal((await runCli(['migrate'], { TWICHIST_DATA_DIR: dir }, 60_000)).code, 0);
  const listed = await runCli(['analytics', 'views'], { TWICHIST_DATA_DIR: dir }, 60_000);
  assert.equal(listed.code, 0, listed.stderr);
  // it printed "last ok never, next 1970-01-01 00:00:30" for every view: the state of its own fresh engine
  assert.doesNotMatch(listed.stdout, /1970|last ok/);
  assert.match(listed.stdout, /^no twichist process runs on .*: views refresh only inside one \(up, enrich, api, ingest\), and this command refreshed none/);
  assert.match(listed.stdout, /^burst_windows_mv +every 30 s +burst_window_rows written never \(empty\)$/m);
  const status = await runCli(['status'], { TWICHIST_DATA_DIR: dir }, 60_000);
  assert.match(status.stdout, /^views {7}not checked: no twichist process runs on this data folder/m);
});

test('live ingest that cannot reach Twitch IRC: its last error and since when it retries, on the ingest line and as a problem', { timeout: 60_000 }, async () => {
  const since = new Date(Date.now() - 125_000).toISOString();
  const error = 'irc-ws.chat.twitch.tv:443: getaddrinfo ENOTFOUND irc-ws.chat.twitch.tv';
  report.ingest = { target: 'irc-ws.chat.twitch.tv:443', connected: false, last_error: error, retrying_since: since };
  try {
    const r = await runCli(['status'], env(), 60_000);
    assert.equal(r.code, 1);
    assert.ok(r.stdout.includes(`\ningest      Twitch IRC not connected since ${since} (2 min ago): ${error}\n`), r.stdout);
    assert.ok(r.stdout.includes(`\n  Twitch IRC: not connected, retrying since ${since} (2 min ago): ${error}\n`), r.stdout);
  } finally {
    delete report.ingest;
  }
});

test('TWITCH_CHANNELS logins are followed without a table row or chat: a dead ingestor is stalled, a refused join listed, no lifecycle row "not joined yet" after a fresh start\'s grace', { timeout: 120_000 }, async () => {
  const hourAgo = Date.now() - 3_600_000;
  const lifecycle = (id: string, channel: string, event: string, detail: string | null) => ({ id, channel, ts: hourAgo, received_at: hourAgo, source: 'live', event, detail, ingestor: 'test:1' });
  await insert('ingest_events', [lifecycle('e1', 'deadchan', 'joined', null), lifecycle('e2', 'refusedchan', 'parted', 'join failed: msg_banned')]);
  await insert('messages', [{ id: 'm-dead', channel: 'deadchan', ts: hourAgo, received_at: hourAgo, source: 'live', login: 'a', text: 'hi' }]);
  const vars = env({ TWITCH_CHANNELS: 'deadchan,refusedchan,newchan' });

  // the test database was migrated minutes ago: a fresh start, so newchan (no row at all) is not flagged yet
  const fresh = await statusJson(vars);
  assert.equal(fresh.code, 1);
  const byLogin = Object.fromEntries(fresh.status.clickhouse.channels.map((c) => [c.login, c]));
  assert.deepEqual([byLogin.deadchan?.ingest_state, byLogin.refusedchan?.ingest_state, byLogin.newchan?.ingest_state], ['stalled', 'parted', null]);
  const mine = (ps: string[]) => ps.filter((p) => /#(deadchan|refusedchan|newchan)\b/.test(p)).sort();
  assert.equal(mine(fresh.status.problems).length, 2, fresh.status.problems.join('\n'));
  assert.match(mine(fresh.status.problems)[0], /^channel #deadchan: ingest stalled, last ingest event joined at /);
  assert.match(mine(fresh.status.problems)[1], /^channel #refusedchan: ingest parted, last ingest event parted at /);

  // a database first migrated an hour ago (an older ledger row of an applied version): newchan is now a problem
  const [m] = await rows<{ name: string; checksum: string }>(db.client, 'SELECT name, checksum FROM schema_migrations WHERE version = 1 LIMIT 1');
  await insert('schema_migrations', [{ version: 1, name: m.name, checksum: m.checksum, applied: true, at: hourAgo }]);
  const old = await statusJson(vars);
  assert.match(mine(old.status.problems).join('\n'), /^channel #newchan: not joined yet: no ingest event for it at all/m);
  assert.equal(mine(old.status.problems).length, 3, old.status.problems.join('\n'));
  const text = await runCli(['status'], vars, 60_000);
  assert.match(text.stdout, /^ {2}#newchan +not joined /m);
});

test('a holder whose JS thread is busy for seconds is reported as the serving process, not absent', { timeout: 120_000 }, async () => {
  const dir = tempDir('twichist-status-busy-');
  const holder = spawn(process.execPath, ['--input-type=module', '-e', `
    import { createClickHouse } from ${JSON.stringify(path.join(ROOT, 'core/clickhouse.ts'))};
    import { startControlServer } from ${JSON.stringify(path.join(ROOT, 'core/control.ts'))};
    import { loadConfig } from ${JSON.stringify(path.join(ROOT, 'core/config.ts'))};
    import { createLogger } from ${JSON.stringify(path.join(ROOT, 'core/logger.ts'))};
    const config = loadConfig({ TWICHIST_DATA_DIR: ${JSON.stringify(dir)} });
    await createClickHouse(config, { viaControl: false });
    await startControlServer({ dataDir: config.dataDir, logger: createLogger('silent'), status: () => ({ bus: { queued: 7 } }) });
    console.log('ready');
    // busy 5 s of every 5.1 s: longer than the 3 s probe status had, within connectControl's 15 s
    setInterval(() => { const t = Date.now(); while (Date.now() - t < 5000); }, 100);
  `], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      holder.once('exit', (c) => reject(new Error(`holder exited ${c}`)));
    });
    const { status } = await statusJson({ TWICHIST_DATA_DIR: dir });
    assert.equal(status.process?.pid, holder.pid, JSON.stringify(status));
    assert.deepEqual(status.bus, { kind: 'in-process', pid: holder.pid, queued: 7 });
    assert.doesNotMatch(status.clickhouse.error ?? '', /lock/i);
  } finally {
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
  }
});

test('an open with lockWaitMs (as up\'s) waits for a short command that holds the folder instead of failing on its lock', { timeout: 60_000 }, async () => {
  const dir = tempDir('twichist-status-lock-');
  const open = (holdMs: number, lockWaitMs: number) =>
    spawn(process.execPath, ['--input-type=module', '-e', `
      import { closeEmbedded, createClickHouse } from ${JSON.stringify(path.join(ROOT, 'core/clickhouse.ts'))};
      import { loadConfig } from ${JSON.stringify(path.join(ROOT, 'core/config.ts'))};
      await createClickHouse(loadConfig({ TWICHIST_DATA_DIR: ${JSON.stringify(dir)} }), { viaControl: false, lockWaitMs: ${lockWaitMs} });
      console.log('opened');
      await new Promise((r) => setTimeout(r, ${holdMs}));
      await closeEmbedded();
      console.log('released');
      await new Promise((r) => setTimeout(r, 5000));
    `], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const short = open(2000, 0);
  const out = (p: ReturnType<typeof open>) => {
    let text = '';
    p.stdout!.on('data', (d: Buffer) => (text += d.toString()));
    return () => text;
  };
  const shortOut = out(short);
  try {
    await new Promise<void>((resolve) => short.stdout!.on('data', () => shortOut().includes('opened') && resolve()));
    const waiting = open(0, 10_000);
    const code = await new Promise<number | null>((r) => waiting.once('exit', r));
    assert.equal(code, 0, 'the second open failed on the lock');
    assert.ok(shortOut().includes('released'));
  } finally {
    short.kill('SIGKILL');
  }
});

test('pending migrations are a problem naming them; a database nothing created is said so and status creates nothing', { timeout: 180_000 }, async () => {
  const partial = `${db.database}_partial`;
  const client = await createClickHouse(loadConfig({ TWICHIST_DATA_DIR: db.config.dataDir, CLICKHOUSE_DATABASE: partial }), { viaControl: false });
  await migrateUp(client, { to: 10 });
  const { code, status } = await statusJson(env({ CLICKHOUSE_DATABASE: partial }));
  assert.equal(code, 1);
  assert.equal(status.clickhouse.migrations?.applied, 2);
  assert.match(status.problems.join('\n'), /^migrations: \d+ of \d+ pending \(0020_create_topic_tables, .*\); run `twichist migrate`/m);

  const none = `${db.database}_none`;
  const empty = await statusJson(env({ CLICKHOUSE_DATABASE: none }));
  assert.equal(empty.code, 1);
  assert.match(empty.status.problems[0], /^No Twichist tables in the embedded database/);
  const created = await rows<{ name: string }>(db.client, 'SELECT name FROM system.databases WHERE name = {none:String}', { none });
  assert.deepEqual(created, [], 'status created the database');
  // a database without the ledger (created by hand, or a server's default): status must not create the ledger either
  const bare = `${db.database}_bare`;
  await db.client.command({ query: 'CREATE DATABASE {bare:Identifier}', query_params: { bare } });
  assert.match((await statusJson(env({ CLICKHOUSE_DATABASE: bare }))).status.problems[0], /^No Twichist tables/);
  assert.deepEqual(await rows(db.client, 'SELECT name FROM system.tables WHERE database = {bare:String}', { bare }), [], 'status created a table');
});

test('JetStream: the stream size and the durable consumer pending / unacknowledged; no consumer is a problem', { timeout: 120_000 }, async (t) => {
  const r = await tryConnectNats();
  if (!r.nc) return t.skip(`skipped: ${r.reason}`);
  const nats = uniqueNatsEnv();
  const config = loadConfig({ ...nats, TWICHIST_DATA_DIR: db.config.dataDir });
  try {
    await ensureChatStream(r.nc, config.nats);
    const js = jetstream(r.nc);
    for (let i = 0; i < 3; i++) await js.publish(chatSubject(config.nats.subjectPrefix, 'lirik'), `{"n":${i}}`);
    const before = await statusJson(env(nats));
    assert.equal(before.code, 1);
    assert.deepEqual(before.status.problems, [`no durable consumer ${nats.NATS_CONSUMER} on stream ${nats.NATS_STREAM}: no twichist enrich has consumed it, so nothing published is stored`]);

    await (await jetstreamManager(r.nc)).consumers.add(nats.NATS_STREAM, { durable_name: nats.NATS_CONSUMER, ack_policy: AckPolicy.Explicit });
    const taken = await (await js.consumers.get(nats.NATS_STREAM, nats.NATS_CONSUMER)).next();
    assert.ok(taken, 'one message delivered and left unacknowledged');
    const { code, status } = await statusJson(env(nats));
    assert.equal(code, 0, status.problems.join('\n'));
    assert.deepEqual(status.bus, { kind: 'jetstream', url: nats.NATS_URL, stream: nats.NATS_STREAM, consumer: nats.NATS_CONSUMER, messages: 3, num_pending: 2, num_ack_pending: 1, redelivered: 0, error: null });
  } finally {
    await deleteStream(r.nc, nats.NATS_STREAM);
    await r.nc.close();
  }
});

test('ClickHouse and NATS that accept connections but never answer: both named, within seconds', { timeout: 60_000 }, async () => {
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((s) => void sockets.add(s));
  await new Promise<void>((res) => silent.listen(0, '127.0.0.1', () => res()));
  const { port } = silent.address() as net.AddressInfo;
  try {
    const started = Date.now();
    const r = await runCli(['status'], { TWICHIST_DATA_DIR: db.config.dataDir, CLICKHOUSE_URL: `http://127.0.0.1:${port}`, NATS_URL: `nats://127.0.0.1:${port}` }, 30_000);
    const took = Date.now() - started;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, new RegExp(`\\n2 problem\\(s\\):\\n {2}ClickHouse \\(http://127\\.0\\.0\\.1:${port}\\) cannot be read: .+\\n {2}cannot reach NATS at nats://127\\.0\\.0\\.1:${port} \\(timeout\\)\\n$`));
    // 3 s per dependency, both at once, plus starting node: far below a hang
    assert.ok(took < 15_000, `took ${took} ms`);
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
  }
});
