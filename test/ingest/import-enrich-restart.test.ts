/**
 * `twichist import` publishing to JetStream next to a `twichist enrich` that holds the embedded
 * database: when enrich is down (crashed, restarting) while the import writes its dead letters, the
 * import must not open the data folder itself. It did: chdb then held the folder's lock until the
 * import exited, which is after settleDerived waited (up to 5 minutes) for the enrich consumer to
 * drain, and the restarting enrich could not start ("Cannot lock file .../status", exit 1).
 * Found by the zero-data-loss audit of the multi-process path.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createClient } from '@clickhouse/client';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectControl } from '../../core/control.ts';
import { tryConnectNats, uniqueNatsEnv, TEST_NATS_URL } from '../support/nats.ts';
import { REPO_ROOT, SHARED_DATA, sharedDataMissing } from '../support/paths.ts';

const NATS_URL = process.env.TWICHIST_TEST_NATS_URL ?? TEST_NATS_URL;

function start(args: string[], env: Record<string, string>) {
  let out = '';
  const child: ChildProcess = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'twichist.ts'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, out: () => out };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('import with rejects while enrich is down does not lock enrich out of the embedded database', { skip: sharedDataMissing(), timeout: 180_000 }, async (t) => {
  const r = await tryConnectNats(NATS_URL);
  if (!r.nc) return t.skip(`skipped: ${r.reason}`);
  const nc = r.nc;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-import-lock-'));
  const natsEnv = uniqueNatsEnv(NATS_URL);
  const env = { ...natsEnv, TWICHIST_DATA_DIR: dataDir, LOG_LEVEL: 'warn', TWICHIST_ONLINE: 'false', TOPICS_INTERVAL_S: '0', ENRICH_METRICS_PORT: '0', ENRICH_FLUSH_MS: '100', PATH: path.dirname(process.execPath) };
  const children: ChildProcess[] = [];
  t.after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    try {
      await (await jetstreamManager(nc)).streams.delete(natsEnv.NATS_STREAM);
    } catch {
      // never created
    }
    await nc.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  // 50 real lines and 2 bad ones.
  const lines = fs.readFileSync(path.join(SHARED_DATA, 'irc', 'xqc-2023-04-01.raw.irc'), 'utf8').split('\n').slice(0, 60);
  lines.splice(30, 0, 'this is not irc at all', '@@@;;;=== :::: PRIVMSG');
  const file = path.join(dataDir, 'mixed.raw.irc');
  fs.writeFileSync(file, lines.join('\n') + '\n');

  // An enrich that ran (stream, durable consumer, migrations) and then crashed.
  const first = start(['enrich'], env);
  children.push(first.child);
  await until('enrich to serve the database', async () => (await connectControl(dataDir)) !== null, 60_000);
  first.child.kill('SIGKILL');
  await first.exited;

  // The import publishes, then writes its 2 dead letters (before the fix: by opening the folder itself,
  // then printing its summary and waiting for the consumer; after: waiting for a serving process).
  const imp = start(['import', file], env);
  children.push(imp.child);
  await until('the import to publish and reach its dead letters', () => /imported 1 file|waiting for a twichist process/.test(imp.out()) || imp.child.exitCode !== null, 60_000);

  // enrich restarts meanwhile: it must start, drain the stream, and so let the import finish.
  const second = start(['enrich'], env);
  children.push(second.child);
  const winner = await Promise.race([second.exited.then((code) => ({ who: 'enrich exited', code })), imp.exited.then((code) => ({ who: 'import exited', code }))]);
  assert.deepEqual(winner, { who: 'import exited', code: 0 }, `enrich output:\n${second.out()}\nimport output:\n${imp.out()}`);
  assert.match(imp.out(), /rejected: 2 \(dead letters written 2, failed 0\)/);

  const conn = await connectControl(dataDir);
  assert.ok(conn, 'the restarted enrich serves the database');
  const client = createClient({ connection: conn as never, clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
  const rs = await client.query({ query: "SELECT (SELECT count() FROM twichist.dead_letters WHERE stage = 'ingest') AS dead, (SELECT count() FROM twichist.messages) AS messages", format: 'JSONEachRow' });
  const [row] = await rs.json<{ dead: number; messages: number }>();
  await client.close();
  assert.equal(row.dead, 2, 'both rejected lines are in dead_letters, once');
  assert.ok(row.messages > 0, 'the good lines were stored');
  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0);
});
