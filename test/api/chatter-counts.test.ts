/**
 * Finalized chatter counts (migration 0040) behind the timeline: the API answers from a counted row
 * only while its message count matches the rollup, and merges the rollup's states otherwise. Real
 * #xqc chat stored by the enrich stage; expected values counted here from the parsed events.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ChatMessage } from '../../core/events.ts';
import { refreshDerived } from '../../analytics/refresh.ts';
import { rows } from '../../api/db.ts';
import { storeEvents, xqcMissing } from './support/load.ts';
import { apiFixture, getJson, type ApiFixture } from './support/setup.ts';

const skip = xqcMissing();
const COUNT_VIEWS = ['chatter_counts_30s_mv', 'chatter_counts_1m_mv', 'chatter_counts_1h_mv', 'chatter_counts_1d_mv'];
let f: ApiFixture;

before(async () => {
  if (skip) return;
  // Uncached reads: each request must see the rows as they are now.
  f = await apiFixture({ app: { cacheTtlMs: 0 } });
});
after(async () => {
  await f?.app.close();
});

function chattersPerMinute(messages: ChatMessage[]): Map<string, number> {
  const users = new Map<string, Set<string>>();
  for (const m of messages) {
    const w = new Date(Math.floor(m.ts / 60_000) * 60_000).toISOString();
    if (!users.has(w)) users.set(w, new Set());
    users.get(w)!.add(m.login);
  }
  return new Map([...users].map(([w, s]) => [w, s.size]));
}

async function timeline(): Promise<Map<string, number>> {
  const r = await getJson(f.app, '/api/v1/analytics/xqc/timeline?bucket=1m');
  assert.equal(r.status, 200);
  return new Map(r.body.points.filter((p: { messages: number }) => p.messages > 0).map((p: { window: string; chatters: number }) => [p.window, p.chatters]));
}

describe('chatter counts', { skip }, () => {
  it('every window is counted by the refresh, and the counts equal the raw chatters', async () => {
    await refreshDerived(f.db.client, { views: COUNT_VIEWS, skipHypeModel: true });
    const want = chattersPerMinute(f.messages);
    const counted = await rows<{ w: string; chatters: number }>(
      f.db.client,
      "SELECT formatDateTime(window, '%Y-%m-%dT%H:%i:00.000Z') AS w, argMax(chatters, counted_at) AS chatters FROM chatter_counts WHERE resolution = '1m' AND channel = 'xqc' GROUP BY window",
    );
    assert.equal(counted.length, want.size);
    for (const c of counted) assert.equal(c.chatters, want.get(c.w), c.w);
    for (const res of ['30s', '1h', '1d']) {
      const [{ n }] = await rows<{ n: number }>(f.db.client, 'SELECT uniqExact(window) AS n FROM chatter_counts WHERE resolution = {res:String}', { res });
      assert.ok(n > 0, res);
    }
    assert.deepEqual(await timeline(), want);
  });

  it('the timeline reads a current count (not the states), and ignores a count its window outgrew', async () => {
    const want = chattersPerMinute(f.messages);
    const [w] = [...want.keys()];
    const [{ messages }] = await rows<{ messages: number }>(f.db.client, "SELECT sum(messages) AS messages FROM chat_1m WHERE channel = 'xqc' AND window = parseDateTime64BestEffort({w:String})", { w });
    // A later count row with the right message count and a wrong chatter figure: the API must show it,
    // which proves the count is what it reads while current.
    await f.db.client.insert({
      table: 'chatter_counts',
      values: [{ resolution: '1m', channel: 'xqc', window: Math.floor(Date.parse(w) / 1000), messages, chatters: 999_999, counted_at: new Date().toISOString() }],
      format: 'JSONEachRow',
    });
    assert.equal((await timeline()).get(w), 999_999);

    // One more message in that window from a new chatter: the count is stale, the states answer.
    const base = f.messages.find((m) => new Date(Math.floor(m.ts / 60_000) * 60_000).toISOString() === w)!;
    const extra: ChatMessage = { ...base, id: 'chatter-counts-test-extra', login: 'chatter_counts_newcomer', user_id: '1', display_name: 'chatter_counts_newcomer', ts: base.ts + 1 };
    await storeEvents(f.db.config, f.db.client, [extra]);
    const after1 = await timeline();
    assert.equal(after1.get(w), want.get(w)! + 1);
    for (const [k, v] of want) if (k !== w) assert.equal(after1.get(k), v, k);

    // The next refresh counts the window again (a later row), and the answer stays exact.
    await refreshDerived(f.db.client, { views: COUNT_VIEWS, skipHypeModel: true });
    const [{ chatters }] = await rows<{ chatters: number }>(
      f.db.client,
      "SELECT argMax(chatters, counted_at) AS chatters FROM chatter_counts WHERE resolution = '1m' AND channel = 'xqc' AND window = parseDateTime64BestEffort({w:String})",
      { w },
    );
    assert.equal(chatters, want.get(w)! + 1);
    assert.equal((await timeline()).get(w), want.get(w)! + 1);
  });
});
