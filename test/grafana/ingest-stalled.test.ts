/**
 * The "Ingest stalled" alert rule, evaluated as Grafana does (its relative range, backend macros only:
 * test/grafana/macros.ts) on followed channels in the situations that tell a stalled ingest from a
 * quiet channel: heartbeats (`alive`, ingest/live.ts) going on without chat, heartbeats stopping, chat
 * without heartbeats, a channel just enabled, a disabled one.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ClickHouseClient } from '../../core/clickhouse.ts';
import { INGEST_ALIVE_DEFAULT_S } from '../../core/config.ts';
import { chTime, insertRows } from '../../analytics/chatty.ts';
import { testDatabase } from '../support/clickhouse.ts';
import { expandDashboardQuery } from './macros.ts';
import { alertRule, provisionedQueries, runSql } from './support/provisioned.ts';

const MINUTE = 60_000;
const PERIOD = INGEST_ALIVE_DEFAULT_S * 1000;
/** Grafana evaluates at an arbitrary second of the minute. */
const T = Date.UTC(2026, 2, 1, 12, 0, 17);
let client: ClickHouseClient;

const channel = (login: string, enabled: boolean, updatedAt: number) => ({ login, channel_id: null, enabled, removed: false, added_at: chTime(updatedAt), updated_at: chTime(updatedAt) });
const lifecycle = (ch: string, event: string, ts: number) => ({ id: `test-${ch}-${event}-${ts}`, channel: ch, ts: chTime(ts), received_at: chTime(ts), source: 'live', event, ingestor: 'test:1' });
/** Heartbeats every period from `from` to `to`, with the few ms of drift a timer has. */
const heartbeats = (ch: string, from: number, to: number) => {
  const out = [];
  for (let t = from, i = 0; t <= to; t += PERIOD + 3, i++) out.push(lifecycle(ch, 'alive', t));
  return out;
};

const dayAgo = T - 24 * 60 * MINUTE;
/** The last heartbeat of a channel whose heartbeats stopped 20 minutes before T. */
const lastBeatOf = (ch: string) => Date.parse(`${heartbeats(ch, dayAgo + 2 * MINUTE, T - 20 * MINUTE).at(-1)!.ts.replace(' ', 'T')}Z`);

before(async () => {
  client = (await testDatabase()).client;
  await client.insert({
    table: 'channels',
    format: 'JSONEachRow',
    values: [
      channel('quiet', true, dayAgo - MINUTE),
      channel('stopped', true, dayAgo - MINUTE),
      channel('rejoined', true, dayAgo - MINUTE),
      channel('chatty', true, dayAgo - MINUTE),
      channel('added', true, T - 2 * MINUTE),
      channel('off', false, dayAgo - MINUTE),
    ],
  });
  await client.insert({
    table: 'ingest_events',
    format: 'JSONEachRow',
    values: [
      // An offline streamer's channel on a healthy ingestor: joined a day ago, heartbeats since, no chat.
      lifecycle('quiet', 'joined', dayAgo + MINUTE),
      ...heartbeats('quiet', dayAgo + 2 * MINUTE, T + 60 * MINUTE),
      // The ingestor died 20 minutes before T.
      lifecycle('stopped', 'joined', dayAgo + MINUTE),
      ...heartbeats('stopped', dayAgo + 2 * MINUTE, T - 20 * MINUTE),
      // Heartbeats stopped 20 minutes ago; a join 1 minute ago proves nothing about now (the connection
      // may have died right after), only heartbeats and chat do.
      ...heartbeats('rejoined', dayAgo + 2 * MINUTE, T - 20 * MINUTE),
      lifecycle('rejoined', 'joined', T - MINUTE),
    ],
  });
  // Chat stored a minute ago, no heartbeat at all (the chat itself shows ingest works).
  await insertRows(client, [{ id: 'chatty-1', channel: 'chatty', ts: chTime(T - MINUTE), received_at: chTime(T - MINUTE), source: 'test', login: 'a', text: 'hello' }]);
});

after(async () => {
  await client?.close();
});

const firing = async (now: number) => new Map((await alertRule(client, 'Ingest stalled').firing(now)).map((f) => [f.labels.channel, f.value]));

test('pages for a channel whose heartbeats stopped, not for a quiet channel with heartbeats, chat, a channel just enabled or a disabled one', async () => {
  const now = await firing(T);
  assert.deepEqual([...now.keys()].sort(), ['rejoined', 'stopped']);
  // Minutes since the last heartbeat, to a tenth.
  const sinceLast = Math.round((T - lastBeatOf('stopped')) / 6000) / 10;
  assert.ok(sinceLast >= 20 && sinceLast <= 22, String(sinceLast));
  assert.equal(now.get('stopped'), sinceLast);
  assert.equal(now.get('rejoined'), sinceLast);
});

test('fires after 3 missed heartbeat periods, not after one or two; a channel never joined fires once it has had the time', async () => {
  const rule = alertRule(client, 'Ingest stalled');
  assert.equal(rule.threshold, (3 * INGEST_ALIVE_DEFAULT_S) / 60);
  const last = lastBeatOf('stopped');
  for (const [after, fires] of [[2 * PERIOD + 10_000, false], [3 * PERIOD - 1000, false], [3 * PERIOD + 7000, true]] as const) {
    assert.equal((await firing(last + after)).has('stopped'), fires, `${after / 1000} s after the last heartbeat`);
  }
  // Enabled 2 minutes before T and never joined (a refused join, or no ingestor): quiet from its change.
  assert.equal((await firing(T + 3 * MINUTE)).has('added'), false);
  assert.equal((await firing(T + 5 * MINUTE)).get('added'), 7);
  // The quiet channel never fires, at any minute of the hour.
  for (let now = T; now <= T + 60 * MINUTE; now += MINUTE) assert.ok(!(await firing(now)).has('quiet'), new Date(now).toISOString());
});

test("the Overview's Followed channels panel shows no state a channel never had (a missing join side read as 'connected' at 1970)", async () => {
  const q = provisionedQueries().find((x) => x.where === 'overview.json / Followed channels');
  assert.ok(q);
  const sql = expandDashboardQuery(q.sql, [{ name: 'channel', value: ['$__all'], options: [] }], { range: { from: new Date(T - 60 * MINUTE), to: new Date(T) }, intervalMs: MINUTE });
  const rows = (await runSql(client, sql)).data as Array<{ channel: string; last_event: string | null; last_event_at: string | null; last_heartbeat: string | null; last_message: string | null }>;
  const by = new Map(rows.map((r) => [r.channel, r]));
  assert.deepEqual([by.get('added')?.last_event, by.get('added')?.last_event_at, by.get('added')?.last_heartbeat, by.get('added')?.last_message], [null, null, null, null]);
  assert.equal(by.get('chatty')?.last_event, null);
  assert.ok(by.get('chatty')?.last_message);
  assert.equal(by.get('quiet')?.last_event, 'alive');
  assert.equal(by.get('rejoined')?.last_event, 'joined');
});
