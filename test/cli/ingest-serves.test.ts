/**
 * `twichist ingest` publishing to JetStream next to embedded ClickHouse: when it is the process that holds the
 * data folder, it serves it (as `enrich` and `api` do, and as the README says), so `twichist sql` and an `enrich`
 * started after it work through it. Before, it held the folder without serving it: both failed on its lock.
 * Found by the zero-data-loss audit of the multi-process path.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { tryConnectNats, uniqueNatsEnv } from '../support/nats.ts';
import { runCli, startCli, tempDir } from './harness.ts';

const base = tempDir('ingest-serves');
after(() => fs.rmSync(base, { recursive: true, force: true }));

test('ingest holding the embedded folder serves it: sql and a later enrich work', { timeout: 180_000 }, async (t) => {
  const r = await tryConnectNats();
  if (!r.nc) return t.skip(`skipped: ${r.reason}`);
  const nats = uniqueNatsEnv();
  const env = { ...nats, TWICHIST_DATA_DIR: path.join(base, 'data'), TWITCH_CHANNELS: '', TWICHIST_ONLINE: 'false', TOPICS_INTERVAL_S: '0', ENRICH_METRICS_PORT: '0' };
  const ingest = startCli(['ingest'], env);
  let enrich: ReturnType<typeof startCli> | null = null;
  try {
    await ingest.waitFor(/ingesting /, 90_000);
    const sql = await runCli(['sql', 'SELECT 41 + 1 AS answer', '--format', 'json'], env, 60_000);
    assert.equal(sql.code, 0, sql.stderr);
    assert.equal(sql.stdout, '{"answer":42}\n');
    enrich = startCli(['enrich'], env);
    // enrich migrates through ingest's control server and consumes; it must still run a few seconds later
    await new Promise((res) => setTimeout(res, 5000));
    assert.equal(enrich.child.exitCode, null, `enrich exited:\n${enrich.stderr()}`);
    const tables = await runCli(['sql', "SELECT count() AS n FROM system.tables WHERE database = 'twichist' AND name = 'messages'", '--format', 'json'], env, 60_000);
    assert.equal(tables.stdout, '{"n":1}\n', tables.stderr);
  } finally {
    enrich?.child.kill('SIGTERM');
    if (enrich) await enrich.exited;
    ingest.child.kill('SIGTERM');
    const { code } = await ingest.exited;
    assert.equal(code, 0, ingest.stderr());
    try {
      await (await jetstreamManager(r.nc)).streams.delete(nats.NATS_STREAM);
    } catch {
      // never created
    }
    await r.nc.close();
  }
});
