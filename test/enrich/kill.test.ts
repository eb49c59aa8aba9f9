/**
 * `twichist enrich` as a child process, killed with SIGKILL twice mid-stream and restarted: JetStream
 * redelivers what was not acked, the id check and the dedup token keep every row and rollup exact.
 * While a child runs, the test reads through its control server (the child holds the embedded
 * database); the final check opens the folder after the last child exited cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createClient } from '@clickhouse/client';
import type { NatsConnection } from '@nats-io/transport-node';
import { createClickHouse } from '../../core/clickhouse.ts';
import { loadConfig } from '../../core/config.ts';
import { connectControl } from '../../core/control.ts';
import { deleteStream, tryConnectNats } from '../support/nats.ts';
import { REPO_ROOT, sharedDataMissing } from '../support/paths.ts';
import { RIOT_LOG, RIOT_MESSAGES, RIOT_MOD_ACTIONS } from './support/chatty.ts';
import { counts, importEvents, publishAll, unacked, uniqueNatsEnv, waitFor } from './support/harness.ts';
import { freePort } from '../cli/harness.ts';

let nc: NatsConnection | null = null;
let stream: string | null = null;
after(async () => {
  if (nc && stream) await deleteStream(nc, stream);
  await nc?.close();
});

function startChild(env: Record<string, string>): { child: ChildProcess; exited: Promise<number | null>; stderr: () => string } {
  let err = '';
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'twichist.ts'), 'enrich'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, stderr: () => err };
}

/** Reads through the running child's control server; null while no child serves the folder. */
async function throughChild<T>(config: ReturnType<typeof loadConfig>, read: (client: ReturnType<typeof createClient>) => Promise<T>): Promise<T | null> {
  // Never open the folder ourselves here (createClickHouse would, if the control ping were slow): the
  // next child could not lock it. So the client is built on the control connection only.
  const conn = await connectControl(config.dataDir);
  if (conn === null) return null;
  const client = createClient({ connection: conn as never, clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
  try {
    return await read(client);
  } finally {
    await client.close();
  }
}
const childCounts = (config: ReturnType<typeof loadConfig>) => throughChild(config, counts);
/**
 * Messages stored so far, one query: the kill thresholds poll this, not every check of `counts` (under CI load a
 * round of those took long enough for the child to store the rest of the log, and the second kill came too late).
 */
const childMessages = (config: ReturnType<typeof loadConfig>) =>
  throughChild(config, async (client) => Number((await (await client.query({ query: 'SELECT count() AS n FROM messages', format: 'JSONEachRow' })).json<{ n: number }>())[0].n));

test('enrich killed with SIGKILL twice mid-stream and restarted: still exact, rollups too', { skip: sharedDataMissing(), timeout: 600_000 }, async (t) => {
  const r = await tryConnectNats();
  if (!r.nc) return t.skip(`skipped: ${r.reason}`);
  nc = r.nc;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-enrich-kill-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const metricsPort = await freePort();
  const env = { ...uniqueNatsEnv(), TWICHIST_DATA_DIR: dataDir, CLICKHOUSE_DATABASE: 'killtest', LOG_LEVEL: 'warn', ENRICH_BATCH_SIZE: '200', ENRICH_FLUSH_MS: '100', ENRICH_METRICS_PORT: String(metricsPort), PATH: path.dirname(process.execPath) };
  const config = loadConfig(env);
  stream = config.nats.stream;
  await publishAll(nc, config, await importEvents(RIOT_LOG));

  const killedAt: number[] = [];
  for (const threshold of [8_000, 22_000]) {
    const c = startChild(env);
    const seen = await waitFor(`child to store ${threshold} messages`, () => childMessages(config), (v) => v !== null && v >= threshold, 300_000).catch((e: Error) => {
      throw new Error(`${e.message}\nchild stderr: ${c.stderr()}`);
    });
    c.child.kill('SIGKILL');
    await c.exited;
    killedAt.push(seen!);
  }
  assert.ok(killedAt[1] < RIOT_MESSAGES, `second kill happened mid-stream (at ${killedAt[1]})`);

  const last = startChild(env);
  // Redelivery of what the killed children had not acked waits for ack_wait (30 s).
  await waitFor('every event stored and acked', async () => ({ c: await childCounts(config), pending: await unacked(nc!, config) }), (v) => v.c !== null && v.c.messages >= RIOT_MESSAGES && v.c.modActions >= RIOT_MOD_ACTIONS && v.pending === 0, 400_000);
  // the standalone stage's scrape target: what this process stored (the killed ones' work is not in it)
  const scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  assert.equal(scraped.status, 200);
  const stored = Number(/^twichist_enrich_events_out_total\{kind="message"\} (\d+)$/m.exec(await scraped.text())?.[1]);
  assert.ok(stored > 0 && stored <= RIOT_MESSAGES, `events_out message counter ${stored}`);
  assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status, 404);
  last.child.kill('SIGTERM');
  assert.equal(await last.exited, 0, `graceful exit on SIGTERM; stderr: ${last.stderr()}`);

  const client = await createClickHouse(config, { viaControl: false });
  const c = await counts(client);
  await client.close();
  assert.equal(c.messages, RIOT_MESSAGES);
  assert.equal(c.modActions, RIOT_MOD_ACTIONS);
  assert.deepEqual(c.rollupMessages, [RIOT_MESSAGES, RIOT_MESSAGES, RIOT_MESSAGES, RIOT_MESSAGES]);
  assert.deepEqual(c.rollupModActions, [RIOT_MOD_ACTIONS, RIOT_MOD_ACTIONS, RIOT_MOD_ACTIONS, RIOT_MOD_ACTIONS]);
  assert.equal(c.chatters30s, c.chattersRaw);
  assert.deepEqual([c.emoteUses[0], c.emoteUses[1]], [c.emoteUses[2], c.emoteUses[2]]);
  t.diagnostic(`killed at ${killedAt.join(' and ')} stored messages`);
});
