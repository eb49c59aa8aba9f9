/**
 * The "actioned" label of analytics/risk-quality.ts at its edges, on embedded ClickHouse with rows made
 * here: the API's /moderation/risk and the Grafana risk panels read it, and the real-chat tests
 * (test/api/read.test.ts, test/grafana/queries.test.ts) only check it on average.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { actionedMessagesSql, riskQualitySql } from '../../analytics/risk-quality.ts';
import { auc } from '../../enrich/eval/metrics.ts';
import { testDatabase, type TestDatabase } from '../support/clickhouse.ts';

let db: TestDatabase;
const t0 = Date.UTC(2024, 4, 1, 20);
const at = (ms: number) => new Date(t0 + ms).toISOString().replace('T', ' ').replace('Z', '');

/** [id, channel, login, ms after t0, mod_risk, actioned as the label defines it] */
const MESSAGES: Array<[string, string, string, number, number, 0 | 1]> = [
  ['m1', 'c', 'same_ms', 0, 0.9, 1], // banned in the same millisecond: counts as after
  ['m2', 'c', 'at_60s', 0, 0.8, 1], // timed out exactly 60 s later
  ['m3', 'c', 'late', 0, 0.7, 0], // timed out 60.001 s later: outside, but shown as the next action
  ['m4', 'c', 'deleted', 0, 0.6, 0], // only a deletion and a chat clear follow: not bans
  ['m5', 'c', 'elsewhere', 0, 0.5, 0], // banned in another channel
  ['m6', 'c', 'before', 10_000, 0.4, 0], // banned 5 s before the message, nothing after
  ['m7', 'c', 'same_ms', 100_000, 0.3, 1], // back after the first ban, timed out again 30 s later
  ['m8', 'd', 'elsewhere', 0, 0.2, 0], // the other channel's message, banned 61 s later
];
/** [channel, target, ms after t0, action, duration] */
const ACTIONS: Array<[string, string, number, string, number | null]> = [
  ['c', 'same_ms', 0, 'ban', null],
  ['c', 'at_60s', 60_000, 'timeout', 600],
  ['c', 'late', 60_001, 'timeout', 10],
  ['c', 'deleted', 1_000, 'delete', null],
  ['c', '', 2_000, 'clear', null],
  ['d', 'elsewhere', 61_000, 'ban', null],
  ['c', 'before', 5_000, 'ban', null],
  ['c', 'same_ms', 130_000, 'timeout', 60],
];

before(async () => {
  db = await testDatabase();
  await db.client.insert({
    table: 'messages',
    format: 'JSONEachRow',
    values: MESSAGES.map(([id, channel, login, ms, risk]) => ({ id, channel, login, ts: at(ms), received_at: at(ms), text: id, mod_risk: risk, source: 'import' })),
  });
  await db.client.insert({
    table: 'mod_actions',
    format: 'JSONEachRow',
    values: ACTIONS.map(([channel, target, ms, action, duration], i) => ({ id: `a${i}`, channel, target_login: target, ts: at(ms), received_at: at(ms), action, duration_s: duration, source: 'import' })),
  });
});
after(async () => {
  await db?.client.close();
});

async function query<T>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const r = await db.client.query({ query: sql, format: 'JSONEachRow', query_params: params });
  return (await r.json()) as T[];
}

test('a message is actioned by a ban or timeout of its author in its channel from the same millisecond to 60 s after it', async () => {
  const rows = await query<{ id: string; actioned: number; author_action: string; author_action_ts: string | null; author_action_duration_s: number | null }>(
    `${actionedMessagesSql('1', '1')} ORDER BY id`,
  );
  assert.deepEqual(rows.map((r) => [r.id, r.actioned]), MESSAGES.map(([id, , , , , label]) => [id, label]));
  const byId = new Map(rows.map((r) => [r.id, r]));
  // the next ban/timeout at or after the message, inside the window or not
  assert.deepEqual([byId.get('m3')!.author_action, byId.get('m3')!.author_action_duration_s], ['timeout', 10]);
  assert.equal(byId.get('m7')!.author_action, 'timeout');
  assert.equal(byId.get('m7')!.author_action_ts, '2024-05-01 20:02:10.000');
  for (const id of ['m4', 'm6']) assert.deepEqual([byId.get(id)!.author_action, byId.get(id)!.author_action_ts], ['', null], id);
});

test('quality per channel: counts, expected actioned and the AUC the eval computes (ties half); none without both classes', async () => {
  const rows = await query<{ channel: string; messages: number; actioned_messages: number; expected_actioned: number; auc: number | null }>(
    `${riskQualitySql('1', '1')} ORDER BY channel`,
  );
  const c = MESSAGES.filter((m) => m[1] === 'c');
  assert.equal(rows[0].channel, 'c');
  assert.equal(Number(rows[0].messages), c.length);
  assert.equal(Number(rows[0].actioned_messages), 3);
  assert.ok(Math.abs(rows[0].expected_actioned - c.reduce((a, m) => a + m[4], 0)) < 1e-6);
  assert.ok(Math.abs(rows[0].auc! - auc(c.map((m) => Math.fround(m[4])), c.map((m) => m[5]))) < 1e-12, String(rows[0].auc));
  // channel d: one message, nothing actioned
  assert.deepEqual([rows[1].channel, Number(rows[1].messages), rows[1].auc], ['d', 1, null]);
  // a range filter applies to both sides: the last minute of messages still finds its actions after the range
  const [ranged] = await query<{ messages: number; actioned_messages: number }>(
    riskQualitySql(
      "channel = {channel:String} AND ts >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')",
      "channel = {channel:String} AND ts >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND ts < fromUnixTimestamp64Milli({to:Int64}, 'UTC') + INTERVAL 60 SECOND",
      false,
    ),
    { channel: 'c', from: t0 + 100_000, to: t0 + 100_001 },
  );
  assert.deepEqual([Number(ranged.messages), Number(ranged.actioned_messages)], [1, 1]);
});
