/**
 * The channel list (`GET /api/v1/channels`, justlog `/channels`) is answered by the `channel_summary`
 * projection of `messages` (migration 0045), not by a scan of every message, and stays exact: equal to
 * the plain scan after inserts, after an opt-out's `ALTER TABLE ... DELETE` and after retention (TTL) merges.
 * Real #xqc capture (test/api/support/setup.ts) plus copies of it made inside ClickHouse.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { applyRetention } from '../../clickhouse/migrate.ts';
import { CHANNEL_SUMMARY_SQL, type ChannelSummary } from '../../api/routes/channels.ts';
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

const summaries = async (settings: Record<string, number>) => {
  const rs = await f.db.client.query({ query: CHANNEL_SUMMARY_SQL, format: 'JSONEachRow', clickhouse_settings: settings });
  return (await rs.json<ChannelSummary>()).map((r) => ({ channel: r.channel, channel_id: r.channel_id, n: Number(r.n), last_ms: Number(r.last_ms) }));
};
/** Every message read (the answer before migration 0045). */
const scanned = () => summaries({ optimize_use_projections: 0 });
/** Fails with PROJECTION_NOT_USED unless the projection answers. */
const projected = () => summaries({ optimize_use_projections: 1, force_optimize_projection: 1 });

/** The projection and the plain scan agree, and so do both endpoints; returns the counts per channel. */
async function assertExact(what: string): Promise<Map<string, number>> {
  const plain = await scanned();
  assert.deepEqual(await projected(), plain, `${what}: projection vs. scan`);
  const api = await getJson(f.app, '/api/v1/channels');
  assert.equal(api.status, 200, api.text);
  const got = api.body.items
    .filter((c: { messages: number }) => c.messages > 0)
    .map((c: { login: string; channel_id: string | null; messages: number; last_message_at: string }) => ({ channel: c.login, channel_id: c.channel_id, n: c.messages, last_ms: Date.parse(c.last_message_at) }));
  assert.deepEqual(got, plain, `${what}: GET /api/v1/channels`);
  const jl = await getJson(f.app, '/channels');
  assert.deepEqual(jl.body.channels, plain.map((p) => ({ userID: p.channel_id ?? '', name: p.channel })), `${what}: justlog /channels`);
  return new Map(plain.map((p) => [p.channel, p.n]));
}

/** A copy of the capture as another channel, its times moved so the copy's first message is at `firstMs`. */
async function copyAs(channel: string, firstMs: number) {
  await f.db.client.command({
    query: `INSERT INTO messages SELECT * REPLACE (concat(id, ':', {channel:String}) AS id, {channel:String} AS channel,
              ts + toIntervalMillisecond({shift:Int64}) AS ts, received_at + toIntervalMillisecond({shift:Int64}) AS received_at)
            FROM (SELECT * FROM messages WHERE channel = 'xqc')`,
    query_params: { channel, shift: firstMs - Math.min(...f.messages.map((m) => m.ts)) },
    clickhouse_settings: { insert_deduplication_token: '' },
  });
}

describe('channel list from the channel_summary projection', { skip }, () => {
  it('the query the route sends reads the projection', async () => {
    f.queries.length = 0;
    assert.equal((await getJson(f.app, '/api/v1/channels')).status, 200);
    assert.equal((await getJson(f.app, '/channels')).status, 200);
    const sent = f.queries.filter((q) => /\bFROM messages\b/.test(q));
    assert.deepEqual(sent, [CHANNEL_SUMMARY_SQL, CHANNEL_SUMMARY_SQL], 'both endpoints send the one summary query');
    const rs = await f.db.client.query({ query: `EXPLAIN ${CHANNEL_SUMMARY_SQL}`, format: 'JSONEachRow' });
    const plan = (await rs.json<{ explain: string }>()).map((r) => r.explain).join('\n');
    assert.match(plan, /ReadFromMergeTree \(channel_summary\)/, plan);
    await projected();
  });

  it('stays equal to the plain scan after inserts, an opt-out and retention merges', async () => {
    assert.equal((await assertExact('as stored')).get('xqc'), f.messages.length);

    await copyAs('xqc_copy', Date.parse('2026-01-05T12:00:00Z'));
    assert.equal((await assertExact('after a second insert')).get('xqc_copy'), f.messages.length);

    // Opt-out: a rewrite of every part holding the user's messages (ALTER TABLE ... DELETE).
    const perUser = new Map<string, number>();
    for (const m of f.messages) perUser.set(m.login, (perUser.get(m.login) ?? 0) + 1);
    const [login, mine] = [...perUser].sort((a, b) => b[1] - a[1])[0];
    const r = await f.app.inject({ method: 'POST', url: `/api/v1/users/${login}/opt-out`, headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.statusCode, 200, r.body);
    const afterOptOut = await assertExact('after the opt-out');
    assert.equal(afterOptOut.get('xqc'), f.messages.length - mine);
    assert.equal(afterOptOut.get('xqc_copy'), f.messages.length - mine);

    // Retention: a part whose rows straddle the cutoff, stored before the TTL was set (so nothing is
    // dropped at insert), then a merge that deletes the expired half of it.
    const days = 30;
    const span = Math.max(...f.messages.map((m) => m.ts)) - Math.min(...f.messages.map((m) => m.ts));
    await copyAs('ttl_chan', Date.now() - days * 86_400_000 - span / 2);
    assert.equal((await assertExact('before the TTL')).get('ttl_chan'), f.messages.length - mine);
    await applyRetention(f.db.client, days);
    try {
      await f.db.client.command({ query: 'OPTIMIZE TABLE messages FINAL' });
      const afterTtl = await assertExact('after the TTL merge');
      const left = afterTtl.get('ttl_chan') ?? 0;
      assert.ok(left > 0 && left < f.messages.length - mine, `the merge deleted part of ttl_chan (${left} left)`);
      assert.equal(afterTtl.has('xqc'), false, 'the 2023 capture is past retention');
    } finally {
      await applyRetention(f.db.client, 0);
    }
  });
});
