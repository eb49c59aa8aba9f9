/**
 * riotgames1 (43,301 messages, 1,681 BAN lines naming 1,900 users) imported with the Chatty importer,
 * published through JetStream (a stream of its own), enriched by the durable consumer into embedded
 * ClickHouse: plain counts and every rollup must be exact, with and without a 10 s ClickHouse outage.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { createLogger } from '../../core/logger.ts';
import { createJetStreamConsumer } from '../../enrich/consumer.ts';
import { startEnrich } from '../../enrich/index.ts';
import { testDatabase } from '../support/clickhouse.ts';
import { deleteStream, tryConnectNats } from '../support/nats.ts';
import { sharedDataMissing } from '../support/paths.ts';
import { RIOT_LOG, RIOT_MESSAGES, RIOT_MOD_ACTIONS } from './support/chatty.ts';
import { faultyClient } from './support/faults.ts';
import { counts, importEvents, publishAll, unacked, uniqueNatsEnv, waitFor } from './support/harness.ts';

const logger = createLogger('silent');
let nc: NatsConnection | null = null;
let natsMissing: string | null = null;
const streams: string[] = [];

before(async () => {
  const r = await tryConnectNats();
  nc = r.nc;
  natsMissing = r.reason;
});
after(async () => {
  for (const s of streams) if (nc) await deleteStream(nc, s);
  await nc?.close();
});

async function run(t: { skip(msg: string): void }, opts: { outageMs: number }) {
  if (!nc) return t.skip(`skipped: ${natsMissing}`);
  const env = uniqueNatsEnv();
  const db = await testDatabase({ env: { ...env, ENRICH_BATCH_SIZE: '5000', ENRICH_FLUSH_MS: '250' } });
  streams.push(db.config.nats.stream);
  const events = await importEvents(RIOT_LOG);
  assert.equal(events.filter((e) => e.kind === 'message').length, RIOT_MESSAGES, 'importer read every message');
  await publishAll(nc, db.config, events);
  const faulty = faultyClient(db.client);
  if (opts.outageMs > 0) faulty.outageUntil(Date.now() + opts.outageMs);
  const consumer = await createJetStreamConsumer({ config: db.config, logger, connection: nc });
  const stage = startEnrich({ config: db.config, logger, client: faulty.client, consumer });
  await waitFor('every event stored and acked', async () => ({ c: await counts(db.client), pending: await unacked(nc!, db.config) }), (v) => v.c.messages >= RIOT_MESSAGES && v.c.modActions >= RIOT_MOD_ACTIONS && v.pending === 0, 300_000);
  await stage.stop();
  await consumer.close();
  const c = await counts(db.client);
  assert.equal(c.messages, RIOT_MESSAGES);
  assert.equal(c.modActions, RIOT_MOD_ACTIONS);
  assert.deepEqual(c.rollupMessages, [RIOT_MESSAGES, RIOT_MESSAGES, RIOT_MESSAGES, RIOT_MESSAGES]);
  assert.deepEqual(c.rollupModActions, [RIOT_MOD_ACTIONS, RIOT_MOD_ACTIONS, RIOT_MOD_ACTIONS, RIOT_MOD_ACTIONS]);
  assert.equal(c.chatters30s, c.chattersRaw);
  assert.equal(c.emoteUses[0], c.emoteUses[2]);
  assert.equal(c.emoteUses[1], c.emoteUses[2]);
  assert.equal(c.deadLetters, 0);
  return { stage, faulty };
}

test('riotgames1 through JetStream: exact raw counts and rollups', { skip: sharedDataMissing() }, async (t) => {
  const r = await run(t, { outageMs: 0 });
  if (r) assert.equal(r.stage.metrics.eventsOut.message, RIOT_MESSAGES);
});

test('riotgames1 through JetStream with ClickHouse failing for 10 s: still exact', { skip: sharedDataMissing() }, async (t) => {
  const r = await run(t, { outageMs: 10_000 });
  if (!r) return;
  assert.ok(r.faulty.stats.failed > 0, 'the outage was hit');
  assert.ok(r.stage.metrics.busNaked > 0, 'batches were handed back during the outage');
});
