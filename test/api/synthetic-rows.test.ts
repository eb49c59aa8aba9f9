/**
 * The API on a handful of rows made in the test (no ../shared/data needed), by route:
 * - users: chatters stored without a user id (Chatty logs and other imports carry none) do not share a
 *   name history, and an opt-out of one does not touch the others (they shared the id '' until 0044);
 * - messages: search lowercases ASCII only, as ClickHouse's lower() does for the index and the filter;
 * - every route: the 429 message names the window, not the time left in it; unknown routes are 404 for
 *   every method (the token check ran first: 401/403);
 * - messages: words are never dropped from q (more than 16 distinct words: 400; a word over 100
 *   characters is searched, it was dropped); `from` with an impossible calendar date (2016-02-30) is a 400;
 * - channels: following a followed channel under another channel_id is a 409, not a silent change;
 * - live: a plain GET of the WebSocket endpoint is a 426 in the error shape (was an empty 404);
 * - analytics: rows of the derived tables and the compare signatures give times as ISO 8601 UTC with
 *   milliseconds, as every other endpoint (they came as ClickHouse's "2016-09-30 03:02:30").
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { refreshDerived } from '../../analytics/refresh.ts';
import { buildApp } from '../../api/app.ts';
import { timeSchema } from '../../api/schemas.ts';
import { createInProcessLive } from '../../api/live.ts';
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

describe('users whose stored login is a display name in another script (Chatty logs)', () => {
  it('are reachable: profile, messages, the justlog user log and the opt-out (they were a 400)', async () => {
    const name = '永和內馬爾';
    await storeEvents(db.config, db.client, [{ ...msg(40, name, null), id: 'cjk-1', text: 'hello from taipei' }]);
    const app = await buildApp({ config: db.config, logger: createLogger('silent'), client: db.client, rateLimit: false });
    try {
      const p = await app.inject({ method: 'GET', url: `/api/v1/users/${encodeURIComponent(name)}` });
      assert.equal(p.statusCode, 200, p.body);
      assert.equal(JSON.parse(p.body).messages, 1);
      const m = await app.inject({ method: 'GET', url: `/api/v1/messages?user=${encodeURIComponent(name)}` });
      assert.deepEqual(JSON.parse(m.body).items.map((x: { id: string }) => x.id), ['cjk-1']);
      const log = await app.inject({ method: 'GET', url: `/channel/somechan/user/${encodeURIComponent(name)}/2016/9` });
      assert.equal(log.statusCode, 200, log.body);
      assert.match(log.body, /hello from taipei/);
      const found = await app.inject({ method: 'GET', url: `/api/v1/users?prefix=${encodeURIComponent('永和')}` });
      assert.deepEqual(JSON.parse(found.body).items.map((x: { login: string }) => x.login), [name]);
      const o = await app.inject({ method: 'POST', url: `/api/v1/users/${encodeURIComponent(name)}/opt-out`, headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(o.statusCode, 200, o.body);
      assert.equal(JSON.parse(o.body).deleted.messages, 1);
      // still no free text: spaces and punctuation are refused
      assert.equal((await app.inject({ method: 'GET', url: `/api/v1/users/${encodeURIComponent('a b')}` })).statusCode, 400);
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

/** An app over the test database, closed after `fn`. */
async function withApp(fn: (app: Awaited<ReturnType<typeof buildApp>>) => Promise<void>, extra: Partial<Parameters<typeof buildApp>[0]> = {}): Promise<void> {
  const app = await buildApp({ config: db.config, logger: createLogger('silent'), client: db.client, rateLimit: false, ...extra });
  try {
    await fn(app);
  } finally {
    await app.close();
  }
}

describe('unknown routes', () => {
  it('are 404 not_found for every method, with or without a token; known mutating routes still need it', async () => {
    await withApp(async (app) => {
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const) {
        for (const headers of [{}, { authorization: 'Bearer wrong-token-wrong-token-xx' }, { authorization: `Bearer ${TOKEN}` }]) {
          const r = await app.inject({ method, url: '/api/v1/no-such-thing', headers });
          assert.equal(r.statusCode, 404, `${method} ${JSON.stringify(headers)}`);
          const body = JSON.parse(r.body);
          assert.equal(body.error, 'not_found');
          assert.match(body.message, new RegExp(`^no route ${method} /api/v1/no-such-thing`));
        }
      }
      // A method a known path does not have is unknown too.
      assert.equal((await app.inject({ method: 'PUT', url: '/api/v1/channels' })).statusCode, 404);
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/channels', payload: { login: 'x' } })).statusCode, 401);
      assert.equal((await app.inject({ method: 'DELETE', url: '/api/v1/channels/somechan', headers: { authorization: 'Bearer wrong-token-wrong-token-xx' } })).statusCode, 403);
    });
  });
});

describe('search words', () => {
  it('more than 16 distinct words is a 400 saying so (they were dropped); 16 are all required', async () => {
    await withApp(async (app) => {
      const words = Array.from({ length: 17 }, (_, i) => `w${i}`);
      for (const url of [`/api/v1/messages?q=${words.join('+')}`, `/api/v1/users/dave/messages?q=${words.join('+')}`]) {
        const r = await app.inject({ method: 'GET', url });
        assert.equal(r.statusCode, 400, url);
        assert.equal(JSON.parse(r.body).message, 'q has 17 distinct words; at most 16 can be searched (every word must occur)');
      }
      // 16 words are all required: 15 that no message holds and "hello" find nothing.
      const r = await app.inject({ method: 'GET', url: `/api/v1/messages?q=${[...words.slice(0, 15), 'hello'].join('+')}` });
      assert.equal(r.statusCode, 200);
      assert.deepEqual(JSON.parse(r.body).items, []);
    });
  });
  it('a word longer than 100 characters is searched, not dropped ("no searchable word")', async () => {
    const long = 'x'.repeat(150);
    await storeEvents(db.config, db.client, [{ ...msg(6, 'erin', null), text: `see ${long} here` }]);
    await withApp(async (app) => {
      for (const q of [long, `see ${long}`]) {
        const r = await app.inject({ method: 'GET', url: `/api/v1/messages?q=${encodeURIComponent(q)}` });
        assert.equal(r.statusCode, 200, r.body);
        assert.deepEqual(JSON.parse(r.body).items.map((m: { id: string }) => m.id), ['audit-6']);
      }
      const none = await app.inject({ method: 'GET', url: `/api/v1/messages?q=hello+${'y'.repeat(150)}` });
      assert.deepEqual(JSON.parse(none.body).items, []);
    });
  });
});

describe('time parameters', () => {
  it('an impossible calendar date is a 400 with the reason, not the next month', async () => {
    await withApp(async (app) => {
      for (const [from, reason] of [
        ['2016-02-30', '2016-02-30 is not a date: 2016-02 has 29 days'],
        ['2015-02-29T10:00:00Z', '2015-02-29 is not a date: 2015-02 has 28 days'],
        ['2016-04-31', '2016-04-31 is not a date: 2016-04 has 30 days'],
        ['2016-02-00', '2016-02-00 is not a date: 2016-02 has 29 days'],
      ]) {
        const r = await app.inject({ method: 'GET', url: `/api/v1/messages?channel=somechan&from=${from}` });
        assert.equal(r.statusCode, 400, from);
        assert.equal(JSON.parse(r.body).message, `invalid querystring from: ${reason}`);
      }
      const ok = await app.inject({ method: 'GET', url: '/api/v1/messages?channel=somechan&from=2016-02-29&to=2016-09-30T02:00:03Z' });
      assert.equal(ok.statusCode, 200);
      assert.deepEqual(JSON.parse(ok.body).items.map((m: { id: string }) => m.id), ['audit-2']);
    });
  });
  it('a date-time without a zone is UTC whatever the server\'s time zone (Date.parse would read it as local)', () => {
    const tz = process.env.TZ;
    process.env.TZ = 'Asia/Shanghai';
    try {
      for (const [v, want] of [['2016-09-30T02:00', '2016-09-30T02:00:00.000Z'], ['2016-09-30 02:00:05', '2016-09-30T02:00:05.000Z'], ['2016-09-30T10:00:00+08:00', '2016-09-30T02:00:00.000Z'], ['2016-09-30', '2016-09-30T00:00:00.000Z'],
        // the '+' of an offset typed into a URL unencoded arrives as a space (it was a 400)
        ['2016-09-30T10:00:00 08:00', '2016-09-30T02:00:00.000Z'], ['2016-09-30 10:00 0800', '2016-09-30T02:00:00.000Z'], ['2016-09-30T10:00:00.5 08:00', '2016-09-30T02:00:00.500Z']]) {
        assert.equal(new Date(timeSchema.parse(v)).toISOString(), want, v);
      }
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });
});

describe('channels', () => {
  it('following a followed channel under another channel_id is a 409; the same id, none, or a first id are 200', async () => {
    await withApp(async (app) => {
      const post = (body: object) => app.inject({ method: 'POST', url: '/api/v1/channels', payload: body, headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal((await post({ login: 'idchan' })).statusCode, 201);
      const first = await post({ login: 'idchan', channel_id: '111' });
      assert.equal(first.statusCode, 200, first.body);
      assert.equal(JSON.parse(first.body).channel_id, '111');
      const other = await post({ login: 'idchan', channel_id: '222' });
      assert.equal(other.statusCode, 409);
      const body = JSON.parse(other.body);
      assert.equal(body.error, 'conflict');
      assert.match(body.message, /already followed with channel_id 111, not 222/);
      for (const b of [{ login: 'idchan', channel_id: '111' }, { login: 'idchan' }]) {
        const r = await post(b);
        assert.equal(r.statusCode, 200);
        assert.equal(JSON.parse(r.body).channel_id, '111');
      }
    });
  });
});

describe('live', () => {
  it('a GET of /live/ws without an upgrade is a 426 in the error shape', async () => {
    await withApp(
      async (app) => {
        const r = await app.inject({ method: 'GET', url: '/api/v1/live/ws?channels=somechan' });
        assert.equal(r.statusCode, 426);
        assert.equal(r.headers.upgrade, 'websocket');
        const body = JSON.parse(r.body);
        assert.equal(body.error, 'upgrade_required');
        assert.match(body.message, /WebSocket/);
        assert.equal((await app.inject({ method: 'GET', url: '/api/v1/live/ws' })).statusCode, 400);
      },
      { live: createInProcessLive() },
    );
  });
});

describe('opt-out of a renamed user', () => {
  it('blanks the text of deletions of messages sent under an earlier login (a CLEARMSG names the login of its time)', async () => {
    // user 5151 chatted as oldname, then as newname; a moderator deleted one message of each
    const early = { ...msg(40, 'oldname', '5151'), id: 'rename-1', channel: 'renamechan', text: 'words under the old name' };
    const late = { ...msg(41, 'newname', '5151'), id: 'rename-2', channel: 'renamechan', text: 'words under the new name' };
    const del = (m: ChatMessage) => ({ v: 1 as const, kind: 'delete' as const, id: `del-${m.id}`, channel: m.channel, channel_id: null, ts: m.ts + 1000, received_at: m.ts + 1000, source: 'import' as const, tags: {}, target_msg_id: m.id, target_login: m.login, text: m.text });
    await storeEvents(db.config, db.client, [early, late, del(early), del(late)]);
    await withApp(async (app) => {
      const o = await app.inject({ method: 'POST', url: '/api/v1/users/newname/opt-out', headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(o.statusCode, 200, o.body);
      assert.equal(JSON.parse(o.body).deleted.messages, 2);
      const r = await app.inject({ method: 'GET', url: '/api/v1/moderation/actions?channel=renamechan&type=delete' });
      const items = JSON.parse(r.body).items as Array<{ target_msg_id: string; text: string | null }>;
      // the actions stay (the moderators' record), the user's words go
      assert.deepEqual(items.map((a) => [a.target_msg_id, a.text]).sort(), [['rename-1', null], ['rename-2', null]]);
    });
  });
  it("blanks the user's words quoted in a reply's tags when Twitch left the parent id empty (the tags are kept as they came)", async () => {
    const quoted = { ...msg(42, 'quotedone', '6161'), id: 'quote-parent', channel: 'quotechan', text: 'my private words' };
    const reply = {
      ...msg(43, 'replier', '7171'), id: 'quote-reply', channel: 'quotechan', text: '@quotedone what',
      tags: { 'reply-parent-msg-id': '', 'reply-parent-user-login': 'quotedone', 'reply-parent-msg-body': 'my private words' },
    };
    await storeEvents(db.config, db.client, [quoted, reply]);
    const tagsOf = async () => ((await (await db.client.query({ query: "SELECT tags FROM messages WHERE id = 'quote-reply'", format: 'JSONEachRow' })).json<{ tags: Record<string, string> }>())[0]?.tags);
    assert.equal((await tagsOf())?.['reply-parent-msg-body'], 'my private words', 'the parser kept the tag (the case under test)');
    await withApp(async (app) => {
      const o = await app.inject({ method: 'POST', url: '/api/v1/users/quotedone/opt-out', headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(o.statusCode, 200, o.body);
    });
    const after = await tagsOf();
    assert.ok(after, 'the reply itself stays');
    assert.equal(after['reply-parent-msg-body'], undefined);
  });
});

// Last: refreshes the derived tables.
describe('analytics derived rows', () => {
  it('bursts, topics, hype and compare signatures give times as ISO 8601 UTC with milliseconds', async () => {
    await refreshDerived(db.client);
    // bursts_mv refreshes every 30 s and could tombstone the inserted row. `bursts` is a view over
    // burst_rows (migration 0053); a version above any refresh's wins.
    await db.client.command({ query: 'SYSTEM STOP VIEW bursts_mv' });
    await db.client.insert({
      table: 'burst_rows',
      format: 'JSONEachRow',
      values: [{ channel: 'somechan', kind: 'volume', emote: '', start: '2016-09-30 02:00:00', end: '2016-09-30 02:00:30', peak_window: '2016-09-30 02:00:00', peak_count: 5, baseline: 1, score: 3, top_emotes: [], sample_messages: [], detected_at: '2016-09-30 03:02:30', version: 1_000_000_000, deleted: 0 }],
    });
    // A channel without messages: the refresh above recomputed somechan's topics (computed_at = now).
    await db.client.insert({
      table: 'topics',
      format: 'JSONEachRow',
      values: [{ channel: 'quietchan', window_start: '2016-09-30 02:00:00', window_seconds: 300, topic_id: 0, label: 'hello', terms: ['hello'], weights: [1], messages: 5, method: 'keywords', model: '', computed_at: '2016-09-30 02:10:00.250' }],
    });
    await db.client.insert({ table: 'topic_window_state', format: 'JSONEachRow', values: [{ channel: 'quietchan', window_start: '2016-09-30 02:00:00', changed_at: '2016-09-30 02:09:00.000', computed_at: '2016-09-30 02:10:00.250' }] });
    // followed, else unknown (a 404): neither has chat here
    await db.client.insert({ table: 'channels', format: 'JSONEachRow', values: ['quietchan', 'other'].map((login) => ({ login, channel_id: null, enabled: true, removed: false, added_at: Date.now(), updated_at: Date.now() })), clickhouse_settings: { insert_deduplication_token: '' } });
    const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
    await withApp(async (app) => {
      const get = async (url: string) => {
        const r = await app.inject({ method: 'GET', url });
        assert.equal(r.statusCode, 200, r.body);
        return JSON.parse(r.body);
      };
      const bursts = (await get('/api/v1/analytics/somechan/bursts')).items;
      assert.deepEqual([bursts[0].start, bursts[0].end, bursts[0].peak_window, bursts[0].detected_at], ['2016-09-30T02:00:00.000Z', '2016-09-30T02:00:30.000Z', '2016-09-30T02:00:00.000Z', '2016-09-30T03:02:30.000Z']);
      const topics = (await get('/api/v1/analytics/quietchan/topics')).items;
      assert.deepEqual([topics[0].window_start, topics[0].computed_at], ['2016-09-30T02:00:00.000Z', '2016-09-30T02:10:00.250Z']);
      const hype = (await get('/api/v1/analytics/somechan/hype')).items;
      assert.ok(hype.length > 0, 'the hype view ran');
      assert.ok(hype.every((h: { window: string }) => ISO_MS.test(h.window)), JSON.stringify(hype[0]));
      const cmp = await get('/api/v1/analytics/compare?channels=somechan,other');
      const sig = cmp.signatures.find((x: { channel: string }) => x.channel === 'somechan');
      assert.ok(sig, 'channel_signatures has the channel');
      assert.equal(sig.first_seen, '2016-09-30T02:00:02.000Z');
      assert.ok(ISO_MS.test(sig.last_seen), sig.last_seen);
      // Every value that looks like a time is ISO with milliseconds (a Date column stays a date).
      for (const item of [...bursts, ...topics, ...hype, ...cmp.signatures]) {
        for (const [k, v] of Object.entries(item)) if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}[ T]\d/.test(v)) assert.match(v, ISO_MS, k);
      }
    });
  });
});
