/**
 * Topic refresh that finds its work in the tables (`topic_window_state`, enrich/topics/job.ts) and
 * writes versioned topics (enrich/topics/refresh.ts): a window stored by a process that died before
 * its refresh gets topics from the next one; two refreshes of one window at once leave one set; an
 * enrich refresh that read a window before an opt-out deleted messages does not write the deleted
 * user's words back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { withTopics } from '../../api/messages-query.ts';
import { optOut } from '../../api/privacy.ts';
import { InProcessBus } from '../../core/bus.ts';
import type { ClickHouseClient } from '../../core/clickhouse.ts';
import type { ChatEvent } from '../../core/events.ts';
import { startEnrich } from '../../enrich/index.ts';
import { pendingTopicWindows } from '../../enrich/topics/job.ts';
import { refreshTopics } from '../../enrich/topics/refresh.ts';
import { testDatabase } from '../support/clickhouse.ts';
import { sampleMessage } from '../support/events.ts';

const T0 = Date.UTC(2025, 2, 1, 18, 0, 0);
const silent = pino({ level: 'silent' });

function message(i: number, text: string, login = `viewer${i % 5}`, at = T0 + i * 1000): ChatEvent {
  return { ...sampleMessage, id: `m${i}-${login}`, channel: 'streamer', ts: at, received_at: at, login, user_id: `u-${login}`, display_name: login, text, emotes: [], badges: {} };
}

async function q<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  return (await client.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
}

/** Enough messages about two subjects in the window at T0 for keyword topics. */
const chat = (): ChatEvent[] => [
  ...Array.from({ length: 6 }, (_, i) => message(i, `dragon fight now ${i}`)),
  ...Array.from({ length: 6 }, (_, i) => message(10 + i, `baron steal please ${i}`)),
];

/** Every stored row of the window's topics and message_topics, read without FINAL, and the messages' topic ids as the API reads them. */
async function windowRows(client: ClickHouseClient) {
  const topics = await q<{ topic_id: number; terms: string[]; label: string; computed_at: string }>(client, "SELECT topic_id, terms, label, toString(computed_at) AS computed_at FROM topics WHERE channel = 'streamer' ORDER BY topic_id, computed_at");
  const assigned = await q<{ message_id: string; topic_id: number; computed_at: string }>(client, "SELECT message_id, topic_id, toString(computed_at) AS computed_at FROM message_topics WHERE channel = 'streamer' ORDER BY message_id, computed_at");
  const messages = await withTopics(client, await q<{ id: string; channel: string; ts_ms: number }>(client, "SELECT id, channel, toUnixTimestamp64Milli(ts) AS ts_ms FROM messages WHERE channel = 'streamer' ORDER BY id"));
  return { topics, assigned, messages };
}

/** One set: a single version, one row per topic and per message, and the API's topic ids agreeing with message_topics. */
function assertOneSet(w: Awaited<ReturnType<typeof windowRows>>) {
  const versions = new Set([...w.topics, ...w.assigned].map((r) => r.computed_at));
  assert.equal(versions.size, 1, `one version of the window's topics, found ${[...versions].join(', ')}`);
  assert.equal(new Set(w.topics.map((t) => t.topic_id)).size, w.topics.length, 'one row per topic');
  assert.deepEqual(w.assigned.map((a) => a.message_id), w.messages.map((m) => m.id), 'one message_topics row per message');
  assert.deepEqual(
    w.messages.map((m) => m.topic_id),
    w.assigned.map((a) => a.topic_id),
    'the API shows the stored assignment',
  );
}

/** A stage over the database (no timer, no models) that has stored `events`; not stopped. */
async function storedBy(db: Awaited<ReturnType<typeof testDatabase>>, events: ChatEvent[]) {
  const bus = new InProcessBus();
  const stage = startEnrich({ config: db.config, logger: silent, client: db.client, consumer: bus.consumer(), journalDir: null, models: null, topicsIntervalMs: 0 });
  await bus.publisher().publish('streamer', events);
  await bus.idle();
  await stage.stored();
  return stage;
}

/** Resolves once `check` holds (polled), or rejects after 60 s. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a window stored by a process that stopped before its refresh gets topics from the next process', async () => {
  const db = await testDatabase();
  // the first process stores and never refreshes: no timer, and it is not stopped (its stop would refresh)
  const crashed = await storedBy(db, chat());
  assert.equal((await q<{ n: number }>(db.client, 'SELECT count() AS n FROM topics'))[0].n, 0);
  assert.deepEqual([...(await pendingTopicWindows(db.client, { database: db.database })).entries()], [['streamer', [T0]]]);

  // a new process over the same database, with nothing in its memory: its periodic refresh finds the window
  const next = startEnrich({ config: db.config, logger: silent, client: db.client, consumer: new InProcessBus().consumer(), journalDir: null, models: null, topicsIntervalMs: 200 });
  try {
    await until(async () => (await q<{ n: number }>(db.client, 'SELECT count() AS n FROM topics'))[0].n > 0, 'topics from the new process');
    await next.refreshTopics();
    const w = await windowRows(db.client);
    assert.ok(w.topics.some((t) => t.terms.includes('dragon')) && w.topics.some((t) => t.terms.includes('baron')), JSON.stringify(w.topics));
  } finally {
    await next.stop();
    await crashed.stop();
    await db.client.close();
  }
});

test('two refreshes of one window at once leave exactly one consistent set of topic rows', async () => {
  const db = await testDatabase();
  await (await storedBy(db, chat())).stop();

  // Both read before either writes: each one's reply to its read waits for the other's read.
  let reads = 0;
  let bothRead!: () => void;
  const barrier = new Promise<void>((r) => (bothRead = r));
  const racing = new Proxy(db.client, {
    get(target, prop, receiver) {
      if (prop !== 'query') return Reflect.get(target, prop, receiver);
      return async (params: Parameters<ClickHouseClient['query']>[0]) => {
        const r = await target.query(params);
        if (/emote_names AS emoteNames/.test(params.query)) {
          if (++reads === 2) bothRead();
          await barrier;
        }
        return r;
      };
    },
  });
  const range = { database: db.database, channel: 'streamer', since: new Date(T0), until: new Date(T0 + 300_000) };
  // different results (a stricter minimum gives fewer topics), so a mix of the two would show
  await Promise.all([refreshTopics(racing, { ...range }), refreshTopics(racing, { ...range, minMessages: 7 })]);
  assert.equal(reads, 2);
  const w = await windowRows(db.client);
  assertOneSet(w);
  await db.client.close();
});

test('an enrich refresh that read a window before an opt-out deleted messages does not write the user\'s words back', async () => {
  const db = await testDatabase();
  // the leaver's word is the window's biggest topic
  const stage = await storedBy(db, [...chat(), ...Array.from({ length: 8 }, (_, i) => message(30 + i, `zeppelin zeppelin ${i}`, 'leaver'))]);
  await stage.refreshTopics();
  assert.ok((await windowRows(db.client)).topics.some((t) => t.terms.includes('zeppelin')), 'the leaver\'s word is a topic term before the opt-out');
  await stage.stop();

  // The enrich refresh reads the window; the opt-out (delete, its own recompute) runs before the
  // refresh writes what it computed from that read.
  let optedOut = false;
  const slow = new Proxy(db.client, {
    get(target, prop, receiver) {
      if (prop !== 'query') return Reflect.get(target, prop, receiver);
      return async (params: Parameters<ClickHouseClient['query']>[0]) => {
        const r = await target.query(params);
        if (!optedOut && /emote_names AS emoteNames/.test(params.query)) {
          optedOut = true;
          const result = await optOut(db.client, 'leaver', silent);
          assert.equal(result.deleted.messages, 8);
        }
        return r;
      };
    },
  });
  await refreshTopics(slow, { database: db.database, channel: 'streamer', since: new Date(T0), until: new Date(T0 + 300_000) });
  assert.ok(optedOut);
  const w = await windowRows(db.client);
  assert.ok(!w.topics.some((t) => t.terms.includes('zeppelin') || t.label.includes('zeppelin')), JSON.stringify(w.topics));
  assert.ok(!w.assigned.some((a) => a.message_id.endsWith('-leaver')), 'no topic assignment of the leaver\'s messages');
  assertOneSet(w);
  assert.ok(w.topics.some((t) => t.terms.includes('dragon')), 'the others\' topics stay');
  await db.client.close();
});
