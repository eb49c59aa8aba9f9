/**
 * Derived tables follow live data: events inserted after start appear in the rollups at once (plain
 * materialized views) and in bursts/hype_predictions after one refresh, either by refreshDerived()
 * (what `twichist import` and `twichist up` call) or by the schedule itself (shortened to 2 s here;
 * the migrations use 30 s).
 * Live chat: channel `live`, 10 messages per 30-s window for the 10 minutes before now, then one
 * window with 80 messages "PogChamp": a volume burst (80 >= 20, >= 1.5 x median 10, score (80-10)/
 * max(1.48 * 0, sqrt(10), 1) = 22 >= 4) and a PogChamp emote burst (80 uses against a 0 baseline).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { refreshDerived } from '../../analytics/refresh.ts';
import { chTime, insertRows, openTestDatabase, rows, testDataDir } from './support/db.ts';

const W = 30_000;

function liveChat(channel: string, spikeWindow: number) {
  const out: object[] = [];
  const say = (ms: number, login: string, text: string) => out.push({ id: `${channel}-${out.length}-${ms}`, channel, ts: chTime(ms), received_at: chTime(ms), source: 'test', login, text, emote_names: text === 'PogChamp' ? ['PogChamp'] : [] });
  for (let w = spikeWindow - 20 * W; w < spikeWindow; w += W) for (let i = 0; i < 10; i++) say(w + i * 3000, `user${i}`, `chatting ${w} ${i}`);
  for (let i = 0; i < 80; i++) say(spikeWindow + i * 300, `hype${i}`, 'PogChamp');
  return out;
}

describe('derived tables on live data', () => {
  const data = testDataDir('live');
  after(() => data.cleanup());

  test('refreshDerived: inserted events are in rollups, bursts and hype predictions when it returns', async () => {
    const client = await openTestDatabase(data.dir, 'live_refresh');
    await refreshDerived(client);
    assert.equal((await rows<{ n: number }>(client, 'SELECT count() AS n FROM bursts'))[0].n, 0);
    const spike = Math.floor(Date.now() / W) * W - W;
    await insertRows(client, liveChat('live', spike));
    const [roll] = await rows<{ n: number }>(client, "SELECT sum(messages) AS n FROM chat_30s WHERE channel = 'live'");
    assert.equal(roll.n, 200 + 80, 'rollups are incremental: no refresh needed');
    await refreshDerived(client);
    const b = await rows<{ kind: string; emote: string; start: string; peak_count: number }>(client, "SELECT kind, emote, start, peak_count FROM bursts WHERE channel = 'live' ORDER BY kind");
    const at = chTime(spike).slice(0, 19);
    assert.deepEqual(b.map((r) => [r.kind, r.emote, r.start, r.peak_count]), [['emote', 'PogChamp', at, 80], ['volume', '', at, 80]]);
    const [p] = await rows<{ n: number }>(client, "SELECT count() AS n FROM hype_predictions WHERE channel = 'live'");
    assert.equal(p.n, 21, 'one prediction per active window (needs analytics/hype-weights.json)');
  });

  test('the schedule alone picks up new events within one refresh period', async () => {
    const client = await openTestDatabase(data.dir, 'live_schedule');
    // A dependent view waits for its dependency's refresh: shorten the whole chain.
    // burst_windows_mv and bursts_mv append (migration 0053), and MODIFY REFRESH must say so again.
    for (const v of ['burst_windows_mv', 'bursts_mv']) await client.command({ query: `ALTER TABLE ${v} MODIFY REFRESH EVERY 2 SECOND APPEND` });
    await client.command({ query: 'ALTER TABLE hype_predictions_mv MODIFY REFRESH EVERY 2 SECOND' });
    const spike = Math.floor(Date.now() / W) * W - W;
    await insertRows(client, liveChat('live', spike));
    const insertedAt = Date.now();
    let found = 0;
    while (Date.now() - insertedAt < 15_000) {
      found = (await rows<{ n: number }>(client, "SELECT count() AS n FROM bursts WHERE channel = 'live'"))[0].n;
      if (found === 2) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const waited = Date.now() - insertedAt;
    console.log(JSON.stringify({ bursts_visible_after_ms: waited }));
    assert.equal(found, 2);
    // Two chained 2-s refreshes plus their run time; 15 s would mean the schedule is not running.
    assert.ok(waited < 10_000, `took ${waited} ms`);
  });
});
