/**
 * A user's history across renames, users known only from notices or moderation, and compact dates, against
 * the real #xqc capture stored through enrich:
 * - a renamed user (one user id, two logins: a real chatter of the capture who was timed out, whose real
 *   messages are stored again under a new login an hour later, as Twitch sends them after a rename) is
 *   answered under either login with what they wrote and received under both, each row naming its login;
 *   a login without ids (an import) still works by login alone;
 * - a user who only subscribed (real USERNOTICEs of the capture), only got a gift sub, or was only banned
 *   (real lines of the MIT fixture sets) has a profile, not a 404;
 * - `from=20230401` is that day, not 20,230,401 ms into 1970; a number that cannot be a time of chat is a
 *   400 naming the accepted forms.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ChatEvent, ChatMessage, Timeout, UserNotice } from '../../core/events.ts';
import { timeSchema } from '../../api/schemas.ts';
import { fixtureLines, ircFixturesMissing } from '../support/irc-fixtures.ts';
import { deletionsOf, storeEvents, xqcMissing } from './support/load.ts';
import { apiFixture, getJson, type ApiFixture } from './support/setup.ts';

const skip = xqcMissing() || ircFixturesMissing();
const NEW = 'renamed_later_x';
const HOUR = 3_600_000;
let f: ApiFixture;
/** The renamed user: their real login and id, their real messages and timeouts, and what was stored under the new login. */
let old: { login: string; id: string; messages: ChatMessage[]; timeouts: Timeout[] };
let later: { messages: ChatMessage[]; timeout: Timeout; deleted: ChatMessage; deletedOld: ChatMessage; idlessOld: ChatMessage; idlessNew: ChatMessage };
/** Real lines of the MIT fixture sets: a ban of a user who never chatted, two gift subs. */
let ban: ChatEvent;
let gifts: UserNotice[];

const newestFirst = (a: ChatEvent, b: ChatEvent) => b.ts - a.ts || (b.id < a.id ? -1 : b.id > a.id ? 1 : 0);

before(async () => {
  if (skip) return;
  f = await apiFixture();
  // the timed-out chatter with the most messages
  const timeouts = f.events.filter((e): e is Timeout => e.kind === 'timeout');
  const count = (l: string) => f.messages.filter((m) => m.login === l).length;
  const login = [...new Set(timeouts.map((t) => t.target_login))].sort((a, b) => count(b) - count(a) || (a < b ? -1 : 1))[0];
  const messages = f.messages.filter((m) => m.login === login);
  assert.ok(messages.length >= 2 && messages[0].user_id, `${login} chatted with an id`);
  old = { login, id: messages[0].user_id!, messages, timeouts: timeouts.filter((t) => t.target_login === login) };

  const as = (m: ChatMessage, id: string, patch: Partial<ChatMessage> = {}): ChatMessage => ({ ...m, id, login: NEW, display_name: NEW.toUpperCase(), ts: m.ts + HOUR, received_at: m.received_at + HOUR, ...patch });
  const copies = messages.map((m) => as(m, `rename-${m.id}`));
  const t = old.timeouts[0];
  const timeout: Timeout = { ...t, id: `rename-${t.id}`, target_login: NEW, ts: t.ts + HOUR, received_at: t.received_at + HOUR };
  // an import without ids under each login: the asked login's counts, the other login's cannot be told apart from another person's
  const idlessOld: ChatMessage = { ...messages[0], id: 'rename-idless-old', user_id: null, ts: messages[0].ts + 2 * HOUR, received_at: messages[0].ts + 2 * HOUR, source: 'import' };
  const idlessNew = as(messages[0], 'rename-idless-new', { user_id: null, ts: messages[0].ts + 2 * HOUR + 1, source: 'import' });
  const deletedOld = messages.find((m) => !f.deleted.some((d) => d.id === m.id))!;
  later = { messages: copies, timeout, deleted: copies[copies.length - 1], deletedOld, idlessOld, idlessNew };

  ban = fixtureLines(['tmi__msg__clear_chat__tests__parse_clearchat_ban.snap'])[0];
  gifts = fixtureLines(['sub-gift.json', 'sub-first-gift.json']) as UserNotice[];
  await storeEvents(f.db.config, f.db.client, [...copies, timeout, idlessOld, idlessNew, ...deletionsOf([later.deleted, deletedOld]), ban, ...gifts]);
});
after(async () => {
  await f?.app.close();
});

describe('a renamed user', { skip }, () => {
  it('lists the messages of both logins under either, each naming its login; id-less rows only under the asked login', async () => {
    const both = [...old.messages, ...later.messages];
    for (const [asked, idless] of [[NEW, later.idlessNew], [old.login, later.idlessOld]] as const) {
      const r = await getJson(f.app, `/api/v1/users/${asked}/messages?include_deleted=true&limit=1000`);
      assert.equal(r.status, 200, r.text);
      const want = [...both, idless].sort(newestFirst);
      assert.deepEqual(r.body.items.map((m: { id: string; login: string }) => [m.id, m.login]), want.map((m) => [m.id, m.login]), asked);
      const deleted = r.body.items.filter((m: { deleted: boolean }) => m.deleted).map((m: { id: string }) => m.id);
      for (const d of [later.deleted.id, later.deletedOld.id]) assert.ok(deleted.includes(d), `${d} is flagged deleted`);
    }
    // without include_deleted the deletions under either login are left out
    const live = await getJson(f.app, `/api/v1/users/${NEW}/messages?limit=1000&channel=xqc`);
    const ids = live.body.items.map((m: { id: string }) => m.id);
    assert.ok(!ids.includes(later.deleted.id) && !ids.includes(later.deletedOld.id));
    assert.ok(ids.includes(old.messages.find((m) => m.id !== later.deletedOld.id && !f.deleted.some((d) => d.id === m.id))!.id));
  });

  it('lists the moderation received under both logins: timeouts by id, deletions of their messages', async () => {
    const r = await getJson(f.app, `/api/v1/users/${NEW}/moderation?limit=1000`);
    assert.equal(r.status, 200, r.text);
    const got = r.body.items.map((a: { action: string; target_login: string; target_msg_id: string | null }) => `${a.action} ${a.target_login} ${a.target_msg_id ?? ''}`).sort();
    const oldDeletions = [...f.deleted, later.deletedOld].filter((m) => m.login === old.login).map((m) => `delete ${old.login} ${m.id}`);
    const want = [...old.timeouts.map(() => `timeout ${old.login} `), `timeout ${NEW} `, `delete ${NEW} ${later.deleted.id}`, ...oldDeletions].sort();
    assert.deepEqual(got, want);
    const timeoutsOnly = await getJson(f.app, `/api/v1/users/${old.login}/moderation?type=timeout`);
    assert.equal(timeoutsOnly.body.items.length, old.timeouts.length + 1);
  });

  it('profile: totals over both logins, and what each login holds', async () => {
    const r = await getJson(f.app, `/api/v1/users/${NEW}`);
    assert.equal(r.status, 200, r.text);
    const p = r.body;
    assert.deepEqual(p.user_ids, [old.id]);
    assert.equal(p.messages, old.messages.length + later.messages.length + 1);
    assert.deepEqual(p.channels.map((c: { channel: string; messages: number }) => [c.channel, c.messages]), [['xqc', p.messages]]);
    assert.equal(p.first_seen, new Date(Math.min(...old.messages.map((m) => m.ts))).toISOString());
    const oldDeleted = [...f.deleted, later.deletedOld].filter((m) => m.login === old.login).length;
    assert.deepEqual(p.moderation, { bans: 0, timeouts: old.timeouts.length + 1, deletions: oldDeleted + 1 });
    assert.deepEqual(
      p.logins.map((l: { login: string; messages: number; moderation: object }) => [l.login, l.messages, l.moderation]),
      [
        [NEW, later.messages.length + 1, { bans: 0, timeouts: 1, deletions: 1 }],
        [old.login, old.messages.length, { bans: 0, timeouts: old.timeouts.length, deletions: oldDeleted }],
      ],
    );
    assert.deepEqual([...new Set(p.names.map((n: { login: string }) => n.login))].sort(), [NEW, old.login].sort());
  });

  it('justlog: the user log by either login or by id holds both logins; list and random follow', async () => {
    const notices = f.events.filter((e) => e.kind === 'usernotice' && e.login === old.login);
    const want = [...old.messages, ...later.messages, ...old.timeouts, later.timeout, ...notices].length;
    const byNew = await getJson(f.app, `/channel/xqc/user/${NEW}/2023/4?json`);
    assert.equal(byNew.status, 200, byNew.text);
    assert.equal(byNew.body.messages.length, want + 1, 'and the id-less message under the asked login');
    assert.deepEqual([...new Set(byNew.body.messages.map((m: { username: string }) => m.username))].sort(), [NEW, old.login].sort());
    const byId = await getJson(f.app, `/channelid/${old.messages[0].channel_id}/userid/${old.id}/2023/4?json`);
    assert.equal(byId.status, 200, byId.text);
    // the id's newest login is the new one: its id-less message counts, as under /channel/xqc/user/<new>
    assert.deepEqual(byId.body.messages.map((m: { raw: string }) => m.raw), byNew.body.messages.map((m: { raw: string }) => m.raw));
    assert.deepEqual((await getJson(f.app, `/list?channel=xqc&user=${NEW}`)).body, { availableLogs: [{ year: '2023', month: '4' }] });
    const red = await f.app.inject({ method: 'GET', url: `/channelid/${old.messages[0].channel_id}/userid/${old.id}` });
    assert.equal(red.statusCode, 302);
    assert.equal(red.headers.location, `/channelid/${old.messages[0].channel_id}/userid/${old.id}/2023/4`);
    const rnd = await getJson(f.app, `/channel/xqc/user/${NEW}/random?json`);
    assert.ok([NEW, old.login].includes(rnd.body.messages[0].username));
  });

  it('a login without ids is still read by login alone', async () => {
    const chatty = f.messages.find((m) => m.user_id !== null)!;
    // in a channel of its own, so the day's figures of #xqc below stay the fixture's
    const idless: ChatMessage = { ...chatty, id: 'idless-only-1', channel: 'xqc_import', channel_id: null, login: 'idless_only_user', user_id: null, display_name: null, source: 'import' };
    await storeEvents(f.db.config, f.db.client, [idless]);
    const p = await getJson(f.app, '/api/v1/users/idless_only_user');
    assert.equal(p.status, 200, p.text);
    assert.deepEqual([p.body.messages, p.body.user_ids, p.body.logins.map((l: { login: string }) => l.login)], [1, [], ['idless_only_user']]);
    const m = await getJson(f.app, '/api/v1/users/idless_only_user/messages');
    assert.deepEqual(m.body.items.map((x: { id: string }) => x.id), ['idless-only-1']);
  });
});

describe('users known only from notices or moderation', { skip }, () => {
  it('a subscriber who never chatted has a profile with their notices and zero messages', async () => {
    const notices = f.events.filter((e): e is UserNotice => e.kind === 'usernotice' && e.login !== null);
    const silent = notices.filter((n) => !f.messages.some((m) => m.login === n.login) && !f.events.some((e) => 'target_login' in e && e.target_login === n.login));
    assert.ok(silent.length >= 5, 'the capture has subscribers who did not chat');
    for (const n of silent) {
      const r = await getJson(f.app, `/api/v1/users/${n.login}`);
      assert.equal(r.status, 200, `${n.login}: ${r.text}`);
      const sent: Record<string, number> = {};
      for (const x of notices.filter((x) => x.login === n.login)) sent[x.notice_type] = (sent[x.notice_type] ?? 0) + 1;
      assert.deepEqual([r.body.messages, r.body.first_seen, r.body.channels, r.body.notices], [0, null, [], { sent, gifts_received: 0 }]);
    }
  });
  it('a gift sub recipient who never chatted has a profile with the gift', async () => {
    for (const g of gifts) {
      const to = (g.params['recipient-user-name'] ?? g.params['recipient-name']).toLowerCase();
      const r = await getJson(f.app, `/api/v1/users/${to}`);
      assert.equal(r.status, 200, `${to}: ${r.text}`);
      assert.deepEqual([r.body.messages, r.body.notices.gifts_received, r.body.logins[0].gifts_received], [0, 1, 1]);
      // and the gifter's profile counts the gift they sent
      assert.equal((await getJson(f.app, `/api/v1/users/${g.login}`)).body.notices.sent.subgift, 1);
    }
  });
  it('a user who was only banned has a profile with the ban; nothing stored is still a 404', async () => {
    assert.equal(ban.kind, 'ban');
    const login = (ban as { target_login: string }).target_login;
    const r = await getJson(f.app, `/api/v1/users/${login}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.body.messages, r.body.moderation, r.body.user_ids], [0, { bans: 1, timeouts: 0, deletions: 0 }, [(ban as { target_user_id: string }).target_user_id]]);
    const none = await getJson(f.app, '/api/v1/users/zz_never_seen_at_all');
    assert.equal(none.status, 404);
  });
});

describe('compact dates and numbers that are not times of chat', { skip }, () => {
  it('from=YYYYMMDD&to=YYYYMMDD is that day (it was 20,230,401 ms into 1970: an empty answer)', async () => {
    const top = old.login;
    const r = await getJson(f.app, `/api/v1/users/${top}/messages?from=20230401&to=20230402&limit=1000&include_deleted=true`);
    assert.equal(r.status, 200, r.text);
    const day = [...old.messages, ...later.messages, later.idlessOld].filter((m) => m.ts >= Date.UTC(2023, 3, 1) && m.ts < Date.UTC(2023, 3, 2));
    assert.equal(r.body.items.length, day.length);
    assert.ok(day.length > 0);
    const stats = await getJson(f.app, '/api/v1/channels/xqc/stats?from=20230401&to=20230402');
    assert.equal(stats.body.messages, f.messages.length + later.messages.length + 2);
  });
  it('a number before 2007 (but 0) is a 400 naming the accepted forms; epoch seconds are named as such', async () => {
    for (const [v, words] of [
      ['1680307200', /looks like epoch seconds: 1680307200000 is 2023-04-01T00:00:00\.000Z/],
      ['123', /before 2007/],
      ['20231301', /20231301 is not a date \(YYYYMMDD\): there is no month 13/],
      ['20230230', /2023-02 has 28 days/],
    ] as const) {
      const r = await getJson(f.app, `/api/v1/messages?channel=xqc&from=${v}`);
      assert.equal(r.status, 400, v);
      assert.match(r.body.message, words, v);
      if (!v.startsWith('2023')) assert.match(r.body.message, /epoch milliseconds from 2007 on .* ISO 8601 .* YYYYMMDD/, v);
    }
    assert.equal((await getJson(f.app, '/api/v1/messages?channel=xqc&from=0&limit=1')).status, 200);
    assert.equal(timeSchema.parse('1475200800000'), 1475200800000);
    assert.equal(timeSchema.parse('20160930'), Date.UTC(2016, 8, 30));
  });
  it('the OpenAPI document says which forms are accepted', async () => {
    const doc = (await getJson(f.app, '/docs/json')).body;
    const from = doc.paths['/api/v1/messages/'] ?? doc.paths['/api/v1/messages'];
    const p = from.get.parameters.find((x: { name: string }) => x.name === 'from');
    assert.match(p.description ?? p.schema?.description ?? '', /YYYYMMDD.*before 2007 is a 400/s);
  });
});
