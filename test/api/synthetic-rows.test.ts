/**
 * The API on a handful of rows made in the test (no ../shared/data needed), by route:
 * - users: chatters stored without a user id (Chatty logs and other imports carry none) do not share a
 *   name history, and an opt-out of one does not touch the others (they shared the id '' until 0044);
 * - messages: search lowercases ASCII only, as ClickHouse's lower() does for the index and the filter;
 * - every route: the 429 message names the window, not the time left in it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildApp } from '../../api/app.ts';
import { rows } from '../../api/db.ts';
import type { ChatMessage } from '../../core/events.ts';
import { createLogger } from '../../core/logger.ts';
import { sampleMessage } from '../support/events.ts';
import { testDatabase, type TestDatabase } from '../support/clickhouse.ts';
import { storeEvents } from './support/load.ts';

const TOKEN = 'test-token-0123456789abcdef';
let db: TestDatabase;

const msg = (i: number, login: string, userId: string | null): ChatMessage => ({
  ...sampleMessage,
  id: `audit-${i}`,
  channel: 'somechan',
  channel_id: null,
  ts: Date.UTC(2016, 8, 30, 2, 0, i),
  received_at: Date.UTC(2016, 8, 30, 2, 0, i),
  source: 'import',
  user_id: userId,
  login,
  display_name: login.toUpperCase(),
  text: `hello number ${i}`,
  emotes: [],
});

before(async () => {
  db = await testDatabase({ env: { TWICHIST_API_TOKEN: TOKEN } });
  await storeEvents(db.config, db.client, [msg(1, 'alice', null), msg(2, 'bob', null), msg(3, 'carol', null), msg(4, 'dave', '4242'), { ...msg(5, 'dave', '4242'), text: 'AQUI É BR, PARÇA' }]);
});
after(async () => {
  await db?.client.close();
});

describe('chatters without a user id', () => {
  it('get no user_names row (no shared empty id)', async () => {
    const r = await rows<{ user_id: string; login: string }>(db.client, 'SELECT user_id, login FROM user_names ORDER BY login');
    assert.deepEqual(r.map((x) => [x.user_id, x.login]), [['4242', 'dave']]);
  });
  it("a profile lists no other chatter's names, and an opt-out deletes only the user's rows", async () => {
    const app = await buildApp({ config: db.config, logger: createLogger('silent'), client: db.client, rateLimit: false });
    try {
      const p = await app.inject({ method: 'GET', url: '/api/v1/users/alice' });
      assert.equal(p.statusCode, 200);
      const profile = JSON.parse(p.body);
      assert.deepEqual(profile.user_ids, []);
      assert.deepEqual(profile.names.map((n: { login: string }) => n.login), []);
      // A row stored under '' by an older schema must not be treated as an id either.
      await db.client.insert({ table: 'user_names', values: [{ user_id: '', login: 'bob', display_name: 'BOB', first_seen: 0, last_seen: 0 }], format: 'JSONEachRow' });
      const o = await app.inject({ method: 'POST', url: '/api/v1/users/alice/opt-out', headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(o.statusCode, 200, o.body);
      const out = JSON.parse(o.body);
      assert.deepEqual(out.user_ids, []);
      assert.equal(out.deleted.messages, 1);
      assert.equal(out.deleted.user_names, 0);
      const left = await rows<{ login: string }>(db.client, 'SELECT login FROM user_names ORDER BY login');
      assert.deepEqual(left.map((x) => x.login), ['bob', 'dave']);
      const msgs = await rows<{ login: string }>(db.client, 'SELECT login FROM messages ORDER BY login');
      assert.deepEqual(msgs.map((x) => x.login), ['bob', 'carol', 'dave', 'dave']);
      // nothing of alice is left, but the profile still says she opted out (it was a 404)
      const gone = await app.inject({ method: 'GET', url: '/api/v1/users/alice' });
      assert.equal(gone.statusCode, 200, gone.body);
      assert.deepEqual([JSON.parse(gone.body).messages, JSON.parse(gone.body).opted_out], [0, true]);
      assert.equal((await app.inject({ method: 'GET', url: '/api/v1/users/nobody_here' })).statusCode, 404);
    } finally {
      await app.close();
    }
  });
});

describe('search', () => {
  it('finds a word holding a non-ASCII capital as written, ASCII letters in any case', async () => {
    const app = await buildApp({ config: db.config, logger: createLogger('silent'), client: db.client, rateLimit: false });
    try {
      for (const q of ['PARÇA', 'parÇa', 'aqui PARÇA']) {
        const r = await app.inject({ method: 'GET', url: `/api/v1/messages?q=${encodeURIComponent(q)}` });
        assert.equal(r.statusCode, 200);
        assert.deepEqual(JSON.parse(r.body).items.map((m: { id: string }) => m.id), ['audit-5'], q);
      }
    } finally {
      await app.close();
    }
  });
});

describe('rate limit', () => {
  it('the 429 message states the window, not the time left in it', async () => {
    const app = await buildApp({ config: db.config, logger: createLogger('silent'), client: db.client, rateLimit: { max: 1, timeWindowMs: 60_000 } });
    try {
      await app.inject({ method: 'GET', url: '/health' });
      const r = await app.inject({ method: 'GET', url: '/health' });
      assert.equal(r.statusCode, 429);
      const body = JSON.parse(r.body);
      assert.equal(body.error, 'too_many_requests');
      assert.match(body.message, /^rate limit of 1 requests per 60 s exceeded; retry in /);
    } finally {
      await app.close();
    }
  });
});
