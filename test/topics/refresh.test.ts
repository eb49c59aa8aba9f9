import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { migrateUp } from '../../clickhouse/migrate.ts';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.ts';
import { loadConfig } from '../../core/config.ts';
import { refreshTopics } from '../../enrich/topics/index.ts';
import { windowRanges } from '../../enrich/topics/refresh.ts';

const T0 = Date.UTC(2026, 0, 1, 20, 0, 0);
const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

function row(id: string, channel: string, ms: number, text: string, emotes: string[] = []) {
  return { id, channel, ts: iso(ms), received_at: iso(ms), source: 'test', login: 'viewer', text, action: false, first_msg: false, returning_chatter: false, emote_names: emotes, enrich_version: 'test' };
}

test('windowRanges: windows under an hour apart share a range, no range spans more than 6 hours', () => {
  const M = 60_000;
  assert.deepEqual(windowRanges([]), []);
  assert.deepEqual(windowRanges([10 * M, 0, 5 * M, 5 * M]), [{ from: 0, to: 15 * M }]);
  assert.deepEqual(windowRanges([0, 65 * M]), [{ from: 0, to: 70 * M }]);
  assert.deepEqual(windowRanges([0, 70 * M]), [{ from: 0, to: 5 * M }, { from: 70 * M, to: 75 * M }]);
  // a day of consecutive windows: four ranges of 6 hours
  const day = Array.from({ length: 288 }, (_, i) => i * 5 * M);
  assert.deepEqual(windowRanges(day).map((r) => (r.to - r.from) / (60 * M)), [6, 6, 6, 6]);
});

describe('refreshTopics on embedded ClickHouse', () => {
  // One data folder per process (chdb); databases per test.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'twichist-topics-ch-'));
  let ch: ClickHouseClient;
  const database = `topics_${process.pid}`;
  /** Mutations of `messages` the migrations queued (0045 materializes a projection). */
  let migrationMutations = 0;

  before(async () => {
    ch = await createClickHouse(loadConfig({ TWICHIST_DATA_DIR: dataDir, CLICKHOUSE_DATABASE: database }));
    await migrateUp(ch);
    migrationMutations = (await messagesUntouched()).mutations;
    const msgs = [
      row('a1', 'streamer', T0 + 0.1 * MIN, 'pizza time'),
      row('a2', 'streamer', T0 + 0.5 * MIN, 'that pizza looks good'),
      row('a3', 'streamer', T0 + 1 * MIN, 'pineapple pizza is a crime'),
      row('a4', 'streamer', T0 + 2 * MIN, 'gg'),
      row('b1', 'streamer', T0 + 5.5 * MIN, 'goal KEKW', ['KEKW']),
      row('b2', 'streamer', T0 + 6 * MIN, 'what a goal KEKW', ['KEKW']),
      row('b3', 'streamer', T0 + 7 * MIN, 'offside goal KEKW', ['KEKW']),
      row('c1', 'other', T0 + 1 * MIN, 'raid incoming'),
      row('c2', 'other', T0 + 2 * MIN, 'raid hype'),
      row('c3', 'other', T0 + 3 * MIN, 'big raid'),
    ];
    await ch.insert({ table: 'messages', values: msgs, format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: '' } });
  });
  after(async () => {
    await ch?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const topics = async () =>
    (await ch.query({ query: 'SELECT channel, toUnixTimestamp(window_start) * 1000 AS ws, topic_id, label, terms, messages, method FROM topics ORDER BY channel, ws, topic_id', format: 'JSONEachRow' })).json<{
      channel: string;
      ws: number;
      topic_id: number;
      label: string;
      terms: string[];
      messages: number;
      method: string;
    }>();
  const messageTopics = async () =>
    Object.fromEntries(
      (await (await ch.query({ query: 'SELECT message_id, topic_id FROM message_topics ORDER BY message_id', format: 'JSONEachRow' })).json<{ message_id: string; topic_id: number }>()).map((r) => [r.message_id, r.topic_id]),
    );
  /** Mutations queued on `messages` of this database since the migrations, and the topic ids the table holds (its deprecated column). */
  const messagesUntouched = async () => {
    const [{ n }] = await (await ch.query({ query: "SELECT count() AS n FROM system.mutations WHERE database = {db:String} AND table = 'messages'", query_params: { db: database }, format: 'JSONEachRow' })).json<{ n: number | string }>();
    const ids = await (await ch.query({ query: 'SELECT DISTINCT topic_id FROM messages', format: 'JSONEachRow' })).json<{ topic_id: number }>();
    return { mutations: Number(n) - migrationMutations, topicIds: ids.map((r) => r.topic_id) };
  };

  test('writes topics and message_topics for every channel in range', async () => {
    const r = await refreshTopics(ch, { database, since: new Date(T0), until: new Date(T0 + 10 * MIN) });
    assert.deepEqual(r, { channels: ['other', 'streamer'], windows: 3, topics: 3, messages: 10, method: 'keywords' });
    const t = await topics();
    assert.deepEqual(t.map((x) => [x.channel, x.ws, x.topic_id, x.terms[0], x.messages, x.method]), [
      ['other', T0, 0, 'raid', 3, 'keywords'],
      ['streamer', T0, 0, 'pizza', 3, 'keywords'],
      // KEKW and goal tie on every count; ties go by term order (uppercase first).
      ['streamer', T0 + 5 * MIN, 0, 'KEKW', 3, 'keywords'],
    ]);
    assert.equal(t[2].terms[1], 'goal');
    assert.deepEqual(await messageTopics(), { a1: 0, a2: 0, a3: 0, a4: -1, b1: 0, b2: 0, b3: 0, c1: 0, c2: 0, c3: 0 });
  });

  test('a refresh replaces the windows it recomputes, for one channel only', async () => {
    // Fewer topics after a stricter minimum: the old rows must go, not linger beside the new ones.
    const r = await refreshTopics(ch, { database, channel: 'streamer', since: new Date(T0), until: new Date(T0 + 10 * MIN), minMessages: 4 });
    assert.deepEqual(r.channels, ['streamer']);
    assert.equal(r.topics, 0);
    const t = await topics();
    assert.deepEqual(t.map((x) => x.channel), ['other']);
    const ids = await messageTopics();
    assert.deepEqual([ids.a1, ids.b1, ids.c1], [-1, -1, 0]);
  });

  test('a refresh never mutates messages (a mutation of the hot table costs per part of it, not per window)', async () => {
    // after the refreshes above, waited for (the CLI) and queued (enrich's timer)
    await refreshTopics(ch, { database, channel: 'streamer', since: new Date(T0), until: new Date(T0 + 10 * MIN), wait: false });
    assert.equal((await messageTopics()).a1, 0);
    assert.deepEqual(await messagesUntouched(), { mutations: 0, topicIds: [-1] });
  });

  test('a named channel whose range has no messages left loses its topics of the range (an opt-out deleted them)', async () => {
    await refreshTopics(ch, { database, since: new Date(T0), until: new Date(T0 + 10 * MIN) });
    assert.ok((await topics()).some((x) => x.channel === 'other'));
    await ch.command({ query: "ALTER TABLE {db:Identifier}.messages DELETE WHERE channel = 'other'", query_params: { db: database }, clickhouse_settings: { mutations_sync: '2' } });
    const r = await refreshTopics(ch, { database, channel: 'other', since: new Date(T0), until: new Date(T0 + 10 * MIN) });
    assert.deepEqual([r.channels, r.topics, r.messages], [['other'], 0, 0]);
    assert.ok(!(await topics()).some((x) => x.channel === 'other'));
  });

  test('an empty range is a no-op', async () => {
    const r = await refreshTopics(ch, { database, since: new Date(T0 - 60 * MIN), until: new Date(T0 - 30 * MIN) });
    assert.deepEqual(r, { channels: [], windows: 0, topics: 0, messages: 0, method: null });
  });
});
