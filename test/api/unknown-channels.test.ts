/**
 * A channel Twichist has never seen (a typo: `nothernlion`) is a 404 naming it on every route that reads
 * one channel's data or filters by channel, where it was a 200 with zeros or empty lists. Channels that
 * are followed without chat yet (TWITCH_CHANNELS, the `channels` table, an ingestor elsewhere) or only
 * imported stay 200. Against the real #xqc capture (stored through enrich: `xqc` is an imported channel).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app.ts';
import { createLogger } from '../../core/logger.ts';
import { xqcMissing } from './support/load.ts';
import { apiFixture, getJson, TOKEN, type ApiFixture } from './support/setup.ts';

const skip = xqcMissing();
let f: ApiFixture;

before(async () => {
  if (skip) return;
  f = await apiFixture();
});
after(async () => {
  await f?.app.close();
});

/** Every read that takes a channel, with `C` where the channel goes. */
const ROUTES = [
  '/api/v1/channels/C/stats',
  '/api/v1/analytics/C/timeline',
  '/api/v1/analytics/C/emotes',
  '/api/v1/analytics/C/emotes/timeline?emotes=LUL',
  '/api/v1/analytics/C/bursts',
  '/api/v1/analytics/C/topics',
  '/api/v1/analytics/C/segments',
  '/api/v1/analytics/C/hype',
  '/api/v1/analytics/C/moderation/lag',
  '/api/v1/moderation/risk?channel=C',
  '/api/v1/moderation/actions?channel=C',
  '/api/v1/moderation/stats?channel=C',
  '/api/v1/messages?channel=C',
  '/api/v1/users/someone/messages?channel=C',
  '/api/v1/users/someone/moderation?channel=C',
];
const at = (route: string, channel: string) => route.replace('C', channel);

async function expectStatus(app: FastifyInstance, channel: string, status: number) {
  for (const route of ROUTES) {
    const r = await getJson(app, at(route, channel));
    assert.equal(r.status, status, `${at(route, channel)}: ${r.text}`);
  }
}

describe('unknown channels', { skip }, () => {
  it('a channel never seen is a 404 naming it, on every per-channel route', async () => {
    for (const route of ROUTES) {
      const r = await getJson(f.app, at(route, '%23NothernLion'));
      assert.equal(r.status, 404, `${route}: ${r.text}`);
      assert.equal(r.body.error, 'not_found');
      assert.match(r.body.message, /^unknown channel nothernlion: not followed and nothing stored/);
      assert.deepEqual(r.body.details, { unknown_channels: ['nothernlion'] });
    }
  });

  it('compare names every unknown channel (and only those)', async () => {
    const r = await getJson(f.app, '/api/v1/analytics/compare?channels=xqc,nothernlion,lirrik');
    assert.equal(r.status, 404, r.text);
    assert.match(r.body.message, /^unknown channels nothernlion, lirrik: /);
    assert.deepEqual(r.body.details, { unknown_channels: ['nothernlion', 'lirrik'] });
  });

  it('an imported channel (stored chat, never followed) stays 200', async () => {
    await expectStatus(f.app, 'xqc', 200);
  });

  it('a channel followed through the API with no chat yet is 200 at once, and stays 200 after it is removed', async () => {
    await expectStatus(f.app, 'newchan', 404);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const add = await f.app.inject({ method: 'POST', url: '/api/v1/channels', payload: { login: '#NewChan' }, headers: auth });
    assert.equal(add.statusCode, 201, add.body);
    // the 404s just above are not remembered
    await expectStatus(f.app, 'newchan', 200);
    assert.equal((await f.app.inject({ method: 'DELETE', url: '/api/v1/channels/newchan', headers: auth })).statusCode, 200);
    await expectStatus(f.app, 'newchan', 200);
  });

  it('a channel in TWITCH_CHANNELS, or joined by an ingestor elsewhere (compose), with no chat yet is 200', async () => {
    const app = await buildApp({ config: { ...f.db.config, twitch: { ...f.db.config.twitch, channels: ['envchan'] } }, logger: createLogger('silent'), client: f.db.client, rateLimit: false });
    try {
      await expectStatus(app, 'envchan', 200);
      await expectStatus(app, 'elsewhere', 404);
      await f.db.client.insert({
        table: 'ingest_events',
        values: [{ id: 'lifecycle:elsewhere-joined', channel: 'elsewhere', channel_id: null, ts: Date.now(), received_at: Date.now(), source: 'live', event: 'joined', ingestor: 'other-host:1', detail: null, gap_start: null, gap_end: null, tags: {} }],
        format: 'JSONEachRow',
        clickhouse_settings: { insert_deduplication_token: '', date_time_input_format: 'best_effort' },
      });
      await expectStatus(app, 'elsewhere', 200);
    } finally {
      await app.close();
    }
  });

  it('a known channel is looked up once, then remembered: no extra query per request', async () => {
    const lookups = () => f.queries.filter((q) => q.includes('UNION ALL SELECT login AS c FROM channels')).length;
    await getJson(f.app, '/api/v1/channels/xqc/stats?from=2023-04-01T00:00:00Z');
    const before = lookups();
    for (let i = 0; i < 5; i++) assert.equal((await getJson(f.app, `/api/v1/channels/xqc/stats?from=2023-04-01T0${i}:00:00Z`)).status, 200);
    assert.equal(lookups(), before);
  });
});
