/**
 * Endpoints that change data: the bearer token, channel management (with an in-process ingestor)
 * and the privacy opt-out, checked against the real #xqc capture; for what other users' rows say
 * about an opted-out user, also against real gift sub and reply lines of the MIT fixture sets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { refreshDerived } from '../../analytics/refresh.ts';
import { buildApp } from '../../api/app.ts';
import { rows } from '../../api/db.ts';
import { LATEST_LIFECYCLE_SQL } from '../../api/routes/channels.ts';
import { lifecycleTypes, validateEvent, type ChatEvent, type ChatMessage, type UserNotice } from '../../core/events.ts';
import { parseIrcLine } from '../../ingest/irc-parser.ts';
import { refreshTopics } from '../../enrich/topics/refresh.ts';
import type { IngestState } from '../../api/context.ts';
import { createLogger } from '../../core/logger.ts';
import { DeadLetterWriter } from '../../ingest/pipeline.ts';
import { fixtureLines, imported } from '../support/irc-fixtures.ts';
import { storeEvents, xqcMissing } from './support/load.ts';
import { apiFixture, getJson, TOKEN, tokensOf, type ApiFixture } from './support/setup.ts';

const skip = xqcMissing();
let f: ApiFixture;
const setCalls: string[][] = [];
const states: Record<string, IngestState> = {};
let notified = 0;

before(async () => {
  if (skip) return;
  f = await apiFixture({ app: { ingest: { state: () => ({ ...states }), setChannels: (l) => void setCalls.push(l) }, notifier: { channelsChanged: () => void notified++ } } });
});
after(async () => {
  await f?.app.close();
});

const auth = { authorization: `Bearer ${TOKEN}` };

/** Real lines of the MIT fixture sets (Chatterino, tmi-rs). */
const fixtureNotices = (files: string[]) => fixtureLines(files) as UserNotice[];

/**
 * Tables holding a row in which one of `words` is a whole word (any case), by row count: every column
 * of every table but hash states (`uniqExact` chatters) and `opt_outs` (which keeps the login on purpose).
 */
async function tablesNaming(words: string[]): Promise<Record<string, number>> {
  const cols = await rows<{ table: string; cols: string[] }>(
    f.db.client,
    `SELECT table, groupArray(name) AS cols FROM system.columns WHERE database = currentDatabase() AND table != 'opt_outs' AND type NOT LIKE 'AggregateFunction%'
       AND table IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree') GROUP BY table`,
  );
  const out: Record<string, number> = {};
  for (const { table, cols: c } of cols) {
    const [{ n }] = await rows<{ n: number }>(
      f.db.client,
      `SELECT count() AS n FROM \`${table}\` WHERE hasAny(arrayMap(w -> lower(w), extractAll(formatRow('TabSeparated', ${c.map((x) => `\`${x}\``).join(', ')}), {re:String})), {words:Array(String)})`,
      { words, re: '[\\p{L}\\p{N}_]+' },
    );
    if (Number(n) > 0) out[table] = Number(n);
  }
  return out;
}

describe('token', { skip }, () => {
  it('mutating endpoints answer 401 without a token and 403 with a wrong one', async () => {
    for (const [method, url, payload] of [
      ['POST', '/api/v1/channels', { login: 'somechan' }],
      ['PATCH', '/api/v1/channels/xqc', { enabled: false }],
      ['DELETE', '/api/v1/channels/xqc', undefined],
      ['POST', '/api/v1/users/somebody/opt-out', undefined],
    ] as const) {
      const none = await f.app.inject({ method, url, payload });
      assert.equal(none.statusCode, 401, `${method} ${url}`);
      assert.equal(JSON.parse(none.body).error, 'unauthorized');
      const wrong = await f.app.inject({ method, url, payload, headers: { authorization: 'Bearer not-the-token-at-all-xx' } });
      assert.equal(wrong.statusCode, 403, `${method} ${url}`);
      assert.deepEqual(Object.keys(JSON.parse(wrong.body)).sort(), ['details', 'error', 'message']);
    }
    const rs = await rows<{ n: number }>(f.db.client, "SELECT count() AS n FROM channels WHERE login = 'somechan'");
    assert.equal(rs[0].n, 0);
  });
  it('without a configured token every mutation is 403 and says to set TWICHIST_API_TOKEN; reads still work', async () => {
    const app = await buildApp({ config: { ...f.db.config, api: { ...f.db.config.api, token: null } }, logger: createLogger('silent'), client: f.db.client, rateLimit: false });
    const r = await app.inject({ method: 'POST', url: '/api/v1/channels', payload: { login: 'somechan' }, headers: auth });
    assert.equal(r.statusCode, 403);
    assert.match(JSON.parse(r.body).message, /TWICHIST_API_TOKEN/);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/channels' })).statusCode, 200);
    await app.close();
  });
});

describe('channels', { skip }, () => {
  it('add, disable, enable, remove: the table, the ingestor and the list follow', async () => {
    states.newchan = 'joining';
    const add = await f.app.inject({ method: 'POST', url: '/api/v1/channels', payload: { login: '#NewChan' }, headers: auth });
    assert.equal(add.statusCode, 201, add.body);
    assert.equal(JSON.parse(add.body).login, 'newchan');
    assert.deepEqual(setCalls.at(-1), ['newchan']);
    assert.equal(notified, 1);
    let list = (await getJson(f.app, '/api/v1/channels')).body.items;
    assert.deepEqual(list.find((c: { login: string }) => c.login === 'newchan'), { ...list.find((c: { login: string }) => c.login === 'newchan'), configured: true, enabled: true, messages: 0, ingest_state: 'joining' });
    const off = await f.app.inject({ method: 'PATCH', url: '/api/v1/channels/newchan', payload: { enabled: false }, headers: auth });
    assert.equal(off.statusCode, 200);
    assert.equal(JSON.parse(off.body).ingest_state, 'disabled');
    assert.deepEqual(setCalls.at(-1), []);
    const on = await f.app.inject({ method: 'PATCH', url: '/api/v1/channels/newchan', payload: { enabled: true }, headers: auth });
    assert.equal(JSON.parse(on.body).enabled, true);
    const del = await f.app.inject({ method: 'DELETE', url: '/api/v1/channels/newchan', headers: auth });
    assert.equal(del.statusCode, 200);
    assert.equal(notified, 4);
    assert.deepEqual(setCalls.at(-1), []);
    list = (await getJson(f.app, '/api/v1/channels')).body.items;
    assert.equal(list.find((c: { login: string }) => c.login === 'newchan'), undefined);
    const rs = await rows<{ removed: boolean; enabled: boolean }>(f.db.client, "SELECT removed, enabled FROM channels FINAL WHERE login = 'newchan'");
    assert.deepEqual(rs, [{ removed: true, enabled: false }]);
    assert.equal((await f.app.inject({ method: 'PATCH', url: '/api/v1/channels/newchan', payload: { enabled: true }, headers: auth })).statusCode, 404);
    assert.equal((await f.app.inject({ method: 'POST', url: '/api/v1/channels', payload: { login: 'bad name!' }, headers: auth })).statusCode, 400);
    assert.equal((await f.app.inject({ method: 'POST', url: '/api/v1/channels', payload: '{not json', headers: { ...auth, 'content-type': 'application/json' } })).statusCode, 400);
  });
  it('removing a channel keeps its history; ingest state falls back to ingest_events', async () => {
    await f.app.inject({ method: 'POST', url: '/api/v1/channels', payload: { login: 'xqc' }, headers: auth });
    await f.app.inject({ method: 'DELETE', url: '/api/v1/channels/xqc', headers: auth });
    const c = (await getJson(f.app, '/api/v1/channels')).body.items.find((x: { login: string }) => x.login === 'xqc');
    assert.equal(c.messages, f.messages.length);
    assert.equal(c.configured, false);
    await f.db.client.insert({ table: 'ingest_events', values: [{ id: 'ie1', channel: 'xqc', ts: Date.now(), received_at: Date.now(), source: 'live', event: 'joined', ingestor: 'test:1' }], format: 'JSONEachRow' });
    const app = await buildApp({ config: f.db.config, logger: createLogger('silent'), client: f.db.client, rateLimit: false });
    const c2 = (await getJson(app, '/api/v1/channels')).body.items.find((x: { login: string }) => x.login === 'xqc');
    assert.equal(c2.ingest_state, 'joined');
    await app.close();
  });
  it("ingest state from ingest_events: a heartbeat ('alive') after a part means joined again; read from the latest_event projection", async () => {
    const t0 = Date.now() + 60_000;
    const ev = (id: string, ts: number, event: string) => ({ id, channel: 'heartbeat', ts, received_at: ts, source: 'live', event, ingestor: 'test:1' });
    const state = async () => {
      const app = await buildApp({ config: f.db.config, logger: createLogger('silent'), client: f.db.client, rateLimit: false });
      const c = (await getJson(app, '/api/v1/channels')).body.items.find((x: { login: string }) => x.login === 'heartbeat');
      await app.close();
      return c.ingest_state;
    };
    await f.app.inject({ method: 'POST', url: '/api/v1/channels', payload: { login: 'heartbeat' }, headers: auth });
    await f.db.client.insert({ table: 'ingest_events', values: [ev('hb1', t0, 'joined'), ev('hb2', t0 + 1000, 'parted')], format: 'JSONEachRow' });
    assert.equal(await state(), 'parted');
    // Separate inserts, so separate parts: the projection's argMax is merged across them.
    await f.db.client.insert({ table: 'ingest_events', values: [ev('hb3', t0 + 2000, 'joined'), ev('hb4', t0 + 122_000, 'alive')], format: 'JSONEachRow' });
    await f.db.client.insert({ table: 'ingest_events', values: [ev('hb5', t0 + 242_000, 'alive')], format: 'JSONEachRow' });
    assert.equal(await state(), 'joined');
    // One channel per lifecycle type: the projection's Enum code maps back to the very name the column holds.
    await f.db.client.insert({ table: 'ingest_events', values: lifecycleTypes.map((t, i) => ({ ...ev(`code-${t}`, t0 + i, t), channel: `code_${t}` })), format: 'JSONEachRow' });
    const latest = async (settings: Record<string, number>) => (await rows<{ channel: string; event: string; last_ms: number }>(f.db.client, LATEST_LIFECYCLE_SQL, {}, settings)).sort((a, b) => a.channel.localeCompare(b.channel));
    const scan = (await rows<{ channel: string; event: string; last_ms: number }>(f.db.client, 'SELECT channel, toString(argMax(event, ts)) AS event, toUnixTimestamp64Milli(max(ts)) AS last_ms FROM ingest_events GROUP BY channel', {}, { optimize_use_projections: 0, force_optimize_projection: 0 })).sort((a, b) => a.channel.localeCompare(b.channel));
    assert.deepEqual(await latest({ optimize_use_projections: 1, force_optimize_projection: 1 }), scan);
    for (const t of lifecycleTypes) assert.equal(scan.find((r) => r.channel === `code_${t}`)?.event, t);
  });
  it("a followed channel whose last heartbeat is older than 3 periods is 'stalled' (a dead ingestor), a fresh one 'joined', history-only channels never", async () => {
    const now = Date.now();
    const ev = (channel: string, id: string, ts: number, event: string) => ({ id, channel, ts, received_at: ts, source: 'live', event, ingestor: 'test:1' });
    for (const login of ['stale_hb', 'fresh_hb', 'stopped_hb']) await f.app.inject({ method: 'POST', url: '/api/v1/channels', payload: { login }, headers: auth });
    await f.db.client.insert({
      table: 'ingest_events',
      values: [
        ev('stale_hb', 's1', now - 10 * 60_000, 'joined'), ev('stale_hb', 's2', now - 7 * 60_000, 'alive'),
        ev('fresh_hb', 'f1', now - 10 * 60_000, 'joined'), ev('fresh_hb', 'f2', now - 60_000, 'alive'),
        // an ingestor stopped 10 minutes ago: its last row for the channel says disconnected (joining)
        ev('stopped_hb', 'd1', now - 20 * 60_000, 'alive'), ev('stopped_hb', 'd2', now - 10 * 60_000, 'disconnected'),
        // an imported channel (not followed) whose only lifecycle row is old
        ev('old_import', 'o1', now - 86_400_000, 'joined'),
      ],
      format: 'JSONEachRow',
    });
    await f.db.client.insert({ table: 'messages', values: [{ id: 'old-import-1', channel: 'old_import', ts: now - 86_400_000, received_at: now - 86_400_000, source: 'import', login: 'x', text: 'hi' }], format: 'JSONEachRow' });
    const app = await buildApp({ config: f.db.config, logger: createLogger('silent'), client: f.db.client, rateLimit: false });
    const items = (await getJson(app, '/api/v1/channels')).body.items as Array<{ login: string; ingest_state: string | null }>;
    await app.close();
    const state = Object.fromEntries(items.filter((c) => ['stale_hb', 'fresh_hb', 'stopped_hb', 'old_import'].includes(c.login)).map((c) => [c.login, c.ingest_state]));
    assert.deepEqual(state, { fresh_hb: 'joined', old_import: 'joined', stale_hb: 'stalled', stopped_hb: 'stalled' });
  });
});

describe('opt-out', { skip }, () => {
  it('removes a user from search, profile, justlog and the per-user rollups', async () => {
    // The chatter with the most messages, so many windows change.
    const counts = new Map<string, number>();
    for (const m of f.messages) counts.set(m.login, (counts.get(m.login) ?? 0) + 1);
    const login = [...counts].sort((a, b) => b[1] - a[1])[0][0];
    const mine = f.messages.filter((m) => m.login === login);
    const word = [...tokensOf(mine[0].text)][0];
    const rest = f.messages.filter((m) => m.login !== login);
    const deletedIds = new Set(f.deleted.map((d) => d.id));

    const before = await getJson(f.app, `/api/v1/messages?q=${encodeURIComponent(word)}&limit=1000`);
    assert.ok(before.body.items.some((m: { login: string }) => m.login === login));

    // Topics of every window first: the user's words can be topic terms, so the opt-out must recompute them.
    await refreshTopics(f.db.client, { database: f.db.database, since: new Date(0), until: new Date(Date.now()) });
    const topicRows = async () => rows<{ n: number }>(f.db.client, 'SELECT count() AS n FROM message_topics WHERE message_id IN {ids:Array(String)}', { ids: mine.map((m) => m.id) });
    assert.ok((await topicRows())[0].n > 0, 'the user had topic assignments');
    // Counted chatters (0040) for every window first, so the timelines below read counts the opt-out outdates.
    await refreshDerived(f.db.client, { views: ['chatter_counts_30s_mv', 'chatter_counts_1m_mv', 'chatter_counts_1h_mv', 'chatter_counts_1d_mv'], skipHypeModel: true });
    const r = await f.app.inject({ method: 'POST', url: `/api/v1/users/${login}/opt-out`, headers: auth });
    assert.equal(r.statusCode, 200, r.body);
    const body = JSON.parse(r.body);
    assert.equal(body.deleted.messages, mine.length);
    assert.ok(body.rollups.includes('chat_30s') && body.rollups.includes('emotes_1d'));
    // Nothing was stored meanwhile: the first rebuild verifies exact (test/api/opt-out-race.test.ts races it).
    assert.equal(body.rebuild_rounds, 1);
    assert.deepEqual(body.rollup_mismatches, []);
    assert.equal(body.topic_windows, new Set(mine.map((m) => Math.floor(m.ts / 300_000))).size);
    assert.equal((await topicRows())[0].n, 0, 'no topic assignment of the user is left');

    const after = await getJson(f.app, `/api/v1/messages?q=${encodeURIComponent(word)}&limit=1000`);
    const want = rest.filter((m) => !deletedIds.has(m.id) && tokensOf(m.text).has(word)).length;
    assert.equal(after.body.items.length, want);
    assert.ok(!after.body.items.some((m: { login: string }) => m.login === login));
    assert.equal((await getJson(f.app, `/api/v1/users/${login}/messages`)).body.items.length, 0);
    assert.equal((await getJson(f.app, `/api/v1/users?prefix=${login}`)).body.items.length, 0);
    const profile = await getJson(f.app, `/api/v1/users/${login}`);
    // Moderation actions against the user stay (they are the moderators' record), so the profile may remain.
    const targeted = f.events.filter((e) => 'target_login' in e && e.target_login === login).length;
    if (targeted === 0) assert.equal(profile.status, 404);
    else {
      assert.equal(profile.body.messages, 0);
      assert.deepEqual(profile.body.names, []);
      assert.equal(profile.body.opted_out, true);
    }
    const jl = await getJson(f.app, `/channel/xqc/user/${login}/2023/4?json`);
    // a month with nothing left of the user is justlog's 404; bans and timeouts against them stay in it
    if (jl.status === 404) assert.match(jl.body.message, /^could not load logs/);
    else assert.equal(jl.body.messages.filter((m: { type: number }) => m.type === 1).length, 0);
    const day = await getJson(f.app, '/channel/xqc/2023/4/1?json');
    assert.ok(!day.body.messages.some((m: { type: number; username: string }) => m.type === 1 && m.username === login));
    const [proj] = await rows<{ n: number }>(f.db.client, 'SELECT count() AS n FROM messages WHERE login = {l:String}', { l: login });
    assert.equal(proj.n, 0);
    const [names] = await rows<{ n: number }>(f.db.client, 'SELECT count() AS n FROM user_names WHERE login = {l:String}', { l: login });
    assert.equal(names.n, 0);
    const [opt] = await rows<{ active: boolean }>(f.db.client, 'SELECT active FROM opt_outs FINAL WHERE login = {l:String}', { l: login });
    assert.equal(opt.active, true);

    // Rollups: every bucket size now counts the remaining chatters and messages only.
    for (const [bucket, ms] of [['30s', 30_000], ['1m', 60_000], ['1h', 3_600_000], ['1d', 86_400_000]] as const) {
      const tl = await getJson(f.app, `/api/v1/analytics/xqc/timeline?bucket=${bucket}`);
      const perWindow = new Map<string, { n: number; users: Set<string> }>();
      for (const m of rest) {
        const w = new Date(Math.floor(m.ts / ms) * ms).toISOString();
        const x = perWindow.get(w) ?? { n: 0, users: new Set<string>() };
        x.n++;
        x.users.add(m.login);
        perWindow.set(w, x);
      }
      const got = tl.body.points.filter((p: { messages: number }) => p.messages > 0);
      assert.equal(got.length, perWindow.size, bucket);
      for (const p of got) {
        assert.equal(p.messages, perWindow.get(p.window)!.n, `${bucket} ${p.window}`);
        assert.equal(p.chatters, perWindow.get(p.window)!.users.size, `${bucket} ${p.window}`);
      }
    }
    const stats = await getJson(f.app, '/api/v1/channels/xqc/stats');
    assert.equal(stats.body.chatters, new Set(rest.map((m) => m.login)).size);
    assert.equal(stats.body.moderation.timeouts, f.events.filter((e) => e.kind === 'timeout').length);
    const emotes = await getJson(f.app, '/api/v1/analytics/xqc/emotes?limit=500');
    const [raw] = await rows<{ n: number }>(f.db.client, "SELECT count() AS n FROM messages ARRAY JOIN emote_names WHERE channel = 'xqc'");
    assert.equal(emotes.body.items.reduce((s: number, e: { uses: number }) => s + e.uses, 0), raw.n);

    // Idempotent: a second opt-out deletes nothing more.
    const again = await f.app.inject({ method: 'POST', url: `/api/v1/users/${login}/opt-out`, headers: auth });
    assert.equal(JSON.parse(again.body).deleted.messages, 0);
  });
  it("drops the user's words from other chatters' replies to them; the replies stay", async () => {
    // the capture's real replies carry their parent's text (reply-parent-msg-body), which the justlog endpoints serve
    const replies = f.messages.filter((m) => m.reply?.parent_text && m.reply.parent_login);
    assert.ok(replies.length > 0, 'the capture holds replies');
    const reply = replies[0];
    const parent = reply.reply!.parent_login!;
    const words = reply.reply!.parent_text!;
    const dayLog = async () => (await getJson(f.app, '/channel/xqc/2023/4/1?json')).body.messages as Array<{ id: string; raw: string; tags: Record<string, string> }>;
    const before = (await dayLog()).find((m) => m.id === reply.id)!;
    assert.equal(before.tags['reply-parent-msg-body'], words);
    const r = await f.app.inject({ method: 'POST', url: `/api/v1/users/${parent}/opt-out`, headers: auth });
    assert.equal(r.statusCode, 200, r.body);
    const after = (await dayLog()).find((m) => m.id === reply.id);
    assert.ok(after, 'the reply of another chatter is kept');
    assert.equal(after.tags['reply-parent-msg-body'], undefined);
    assert.ok(!after.raw.includes('reply-parent-msg-body'), after.raw);
    assert.equal(after.tags['reply-parent-msg-id'], reply.reply!.parent_msg_id);
    const [left] = await rows<{ n: number }>(f.db.client, 'SELECT count() AS n FROM messages WHERE reply_parent_login = {l:String} AND reply_parent_text IS NOT NULL', { l: parent });
    assert.equal(left.n, 0);
  });
  it("blanks the user in other users' notices: a gift sub's recipient, a continued gift's gifter, a text log's gift sentence; the notices stay", async () => {
    // Real lines (Chatterino, tmi-rs; MIT): hyperbolicxd -> quote_if_nam, tww2 -> mr_woodchuck, an anonymous
    // gift to qatarking24xd, and crazycrackanimal continuing the gift sub they got from stridezgum.
    const irc = fixtureNotices(['sub-first-gift.json', 'sub-gift.json', 'tmi__msg__user_notice__tests__parse_anonsubgift.snap', 'tmi__msg__user_notice__tests__parse_anonsubmysterygift.snap']);
    const [toQuote, toWoodchuck, , upgrade] = irc;
    assert.deepEqual([toQuote.params['recipient-user-name'], toWoodchuck.params['recipient-name'], upgrade.params['sender-login']], ['quote_if_nam', 'mr_woodchuck', 'stridezgum']);
    // quote_if_nam chatted once (so the opt-out knows their id), and a justlog text log of the channel has the same gift as its sentence only
    const own: ChatMessage = { ...f.messages[0], id: 'privacy-quote-msg', channel: toQuote.channel, channel_id: toQuote.channel_id, ts: toQuote.ts + 1000, received_at: toQuote.ts + 1000, login: 'quote_if_nam', user_id: '217259245', display_name: 'quote_if_nam', reply: null, tags: {} };
    const text = await imported('pajlada.log', `[2018-06-05 09:28:59] #pajlada ${toQuote.system_msg}\n`);
    assert.deepEqual(text.map((e) => [e.kind, (e as UserNotice).notice_type, (e as UserNotice).login]), [['usernotice', 'subgift', 'hyperbolicxd']]);
    await storeEvents(f.db.config, f.db.client, [...irc, own, ...text]);
    const users = ['quote_if_nam', '217259245', 'qatarking24xd', '236653628', 'stridezgum'];
    assert.deepEqual(Object.keys(await tablesNaming(users)).sort(), ['messages', 'user_names', 'user_notices']);

    for (const login of ['quote_if_nam', 'qatarking24xd', 'stridezgum']) {
      const r = await f.app.inject({ method: 'POST', url: `/api/v1/users/${login}/opt-out`, headers: auth });
      assert.equal(r.statusCode, 200, r.body);
    }
    assert.deepEqual(await tablesNaming(users), {});
    const ids = [...irc, ...text].map((e) => e.id);
    const kept = new Map((await rows<{ id: string; login: string; params: Record<string, string>; system_msg: string | null }>(f.db.client, 'SELECT id, login, params, system_msg FROM user_notices WHERE id IN {ids:Array(String)}', { ids })).map((r) => [r.id, r]));
    assert.equal(kept.size, ids.length, 'the gifters\' notices stay');
    assert.deepEqual(kept.get(toQuote.id), { id: toQuote.id, login: 'hyperbolicxd', params: { months: '1', 'sender-count': '1', 'sub-plan-name': 'Channel Subscription (nymn_hs)', 'sub-plan': '1000' }, system_msg: null });
    assert.deepEqual(kept.get(upgrade.id)!.params, {});
    assert.equal(kept.get(text[0].id)!.system_msg, null);
    // another recipient's gift is untouched
    assert.deepEqual(kept.get(toWoodchuck.id), { id: toWoodchuck.id, login: 'tww2', params: toWoodchuck.params, system_msg: toWoodchuck.system_msg });
    // what the justlog endpoints serve: raw lines, tags and text
    const day = await getJson(f.app, '/channel/pajlada/2018/6/5?json');
    assert.equal(day.body.messages.length, 2);
    assert.ok(!/quote_if_nam|217259245/i.test(day.text), day.text);
    assert.equal(day.body.messages[0].tags['msg-param-sub-plan'], '1000');
  });
  it("blanks the user as the parent of other users' replies and as the root of their threads: login, display name, id and words; the replies stay", async () => {
    // Real line (Chatterino; MIT): nerixyz replies to a message of `blocked` (id 12345), who also started the thread.
    const [reply] = fixtureLines(['reply-blocked-user.json']) as ChatMessage[];
    assert.deepEqual([reply.login, reply.reply!.parent_login, reply.reply!.thread_parent_login, reply.tags['reply-thread-parent-user-id']], ['nerixyz', 'blocked', 'blocked', '12345']);
    const parent: ChatMessage = { ...reply, id: reply.reply!.parent_msg_id, ts: reply.ts - 5000, received_at: reply.ts - 5000, login: 'blocked', user_id: '12345', display_name: 'blocked', text: reply.reply!.parent_text!, reply: null, tags: {} };
    await storeEvents(f.db.config, f.db.client, [parent, reply]);
    const r = await f.app.inject({ method: 'POST', url: '/api/v1/users/blocked/opt-out', headers: auth });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(await tablesNaming(['blocked', '12345']), {});
    const [row] = await rows<Record<string, unknown>>(f.db.client, 'SELECT login, text, reply_parent_msg_id, reply_parent_login, reply_parent_display_name, reply_parent_user_id, reply_parent_text, reply_thread_parent_msg_id, reply_thread_parent_login FROM messages WHERE id = {id:String}', { id: reply.id });
    assert.deepEqual(row, { login: 'nerixyz', text: reply.text, reply_parent_msg_id: reply.reply!.parent_msg_id, reply_parent_login: null, reply_parent_display_name: null, reply_parent_user_id: null, reply_parent_text: null, reply_thread_parent_msg_id: reply.reply!.thread_parent_msg_id, reply_thread_parent_login: null });
    const day = await getJson(f.app, '/channel/pajlada/2024/9/18?json');
    const served = day.body.messages.find((m: { id: string }) => m.id === reply.id);
    assert.equal(served.tags['reply-parent-msg-id'], reply.reply!.parent_msg_id);
    assert.ok(!/blocked|12345/.test(day.text), served.raw);
  });
  it("deletes the user's dead letters and writes [opted-out] for their names in others', and the per-user rows of the logins they had before a rename", async () => {
    // A renamed user (one id, two logins) in the capture's stream, and a chatter who stays.
    const t = f.messages[100];
    const as = (id: string, login: string, dt: number, patch: Partial<ChatMessage> = {}): ChatMessage => ({ ...t, id, login, display_name: login.toUpperCase(), user_id: login === 'privacy_stays' ? '990000002' : '990000001', ts: t.ts + dt, received_at: t.ts + dt, reply: null, tags: {}, ...patch });
    const long = 'x'.repeat(20_001);
    // the last two are over the event contract's 20,000 characters: enrich stores them as dead letters
    await storeEvents(f.db.config, f.db.client, [as('privacy-old-1', 'privacy_old_name', 10), as('privacy-new-1', 'privacy_new_name', 20), as('privacy-new-2', 'privacy_new_name', 30, { text: long }), as('privacy-stays-1', 'privacy_stays', 40, { text: `@Privacy_New_Name @privacy_old_name ${long}` })]);
    // and a raw line `twichist import` rejected (ingest's dead letters)
    const writer = new DeadLetterWriter({ clickhouse: async () => f.db.client, logger: createLogger('silent') });
    await imported('rejected.irc', `@badges=;display-name=Privacy_New_Name;id=privacy-raw-1;room-id=71092938;tmi-sent-ts=${t.ts + 50};user-id=990000001 :privacy_new_name!privacy_new_name@privacy_new_name.tmi.twitch.tv PRIVMSG #xqc :${long}\n`, (rej) => writer.add(rej));
    await writer.flush();
    assert.equal(writer.written, 1);
    // another user continues a gift sub the user gave under the old login (real line, tmi-rs; MIT)
    const [upgrade] = fixtureNotices(['tmi__msg__user_notice__tests__parse_anonsubmysterygift.snap']);
    assert.equal(upgrade.params['sender-login'], 'stridezgum');
    await storeEvents(f.db.config, f.db.client, [{ ...upgrade, id: 'privacy-upgrade-1', params: { ...upgrade.params, 'sender-login': 'privacy_old_name', 'sender-name': 'Privacy_Old_Name' }, system_msg: null }]);
    await refreshDerived(f.db.client, { views: ['channel_streams_mv', 'stream_chatters_mv', 'chatter_features_mv'], skipHypeModel: true });
    const names = ['privacy_old_name', 'privacy_new_name', '990000001'];
    assert.deepEqual(Object.keys(await tablesNaming(names)).sort(), ['chatter_features', 'dead_letters', 'messages', 'stream_chatters', 'user_names', 'user_notices']);

    const r = await f.app.inject({ method: 'POST', url: '/api/v1/users/privacy_new_name/opt-out', headers: auth });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(JSON.parse(r.body).deleted.messages, 2);
    assert.deepEqual(await tablesNaming(names), {});
    assert.equal((await getJson(f.app, '/api/v1/users/privacy_old_name')).status, 404);
    // the other chatter's dead letter stays (a parked event of theirs), without the user's names
    assert.deepEqual(await tablesNaming(['privacy_stays']), { dead_letters: 1 });
    const [kept] = await rows<{ payload: string }>(f.db.client, "SELECT payload FROM dead_letters WHERE payload LIKE '%privacy-stays-1%'");
    assert.equal(JSON.parse(kept.payload).text, `@[opted-out] @[opted-out] ${long}`);
  });
  it("a streamer's opt-out keeps the channel fields of other users' dead letters in their channel (they replay as they were); mentions in the text go", async () => {
    const t = f.messages[100];
    const chan = { channel: 'privacy_streamer', channel_id: '990000010' };
    // the streamer chats in their own channel (so the opt-out knows their id), a viewer does too
    const own: ChatMessage = { ...t, ...chan, id: 'privacy-streamer-own', login: 'privacy_streamer', display_name: 'Privacy_Streamer', user_id: '990000010', reply: null, tags: {} };
    const viewer: ChatMessage = { ...t, ...chan, id: 'privacy-viewer-json', ts: t.ts + 10, received_at: t.ts + 10, login: 'privacy_viewer', display_name: 'Privacy_Viewer', user_id: '990000011', text: '@Privacy_Streamer LUL hi privacy_streamer #privacy_streamer', emotes: [], reply: null, tags: {} };
    await storeEvents(f.db.config, f.db.client, [own]);
    // parked events of the viewer: the bus line (JSON) and a raw IRC line
    const irc = `@badges=;color=;display-name=Privacy_Viewer;emotes=;id=privacy-viewer-irc;mod=0;room-id=990000010;subscriber=0;tmi-sent-ts=${t.ts + 20};turbo=0;user-id=990000011;user-type= :privacy_viewer!privacy_viewer@privacy_viewer.tmi.twitch.tv PRIVMSG #privacy_streamer :hey @privacy_streamer 990000010`;
    const parked = [
      { id: 'privacy-dl-json', ts: t.ts, stage: 'enrich', source: 'bus:test', reason: 'parked by the test', payload: JSON.stringify(viewer) },
      { id: 'privacy-dl-irc', ts: t.ts, stage: 'ingest', source: 'rejected.irc:1', reason: 'parked by the test', payload: irc },
    ];
    await f.db.client.insert({ table: 'dead_letters', values: parked, format: 'JSONEachRow' });

    const r = await f.app.inject({ method: 'POST', url: '/api/v1/users/privacy_streamer/opt-out', headers: auth });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(JSON.parse(r.body).user_ids, ['990000010']);
    const left = new Map((await rows<{ id: string; payload: string }>(f.db.client, 'SELECT id, payload FROM dead_letters WHERE id IN {ids:Array(String)}', { ids: parked.map((p) => p.id) })).map((x) => [x.id, x.payload]));
    const json = validateEvent(JSON.parse(left.get('privacy-dl-json')!));
    assert.ok(json.ok, 'the JSON event still validates');
    assert.deepEqual(json.event, { ...viewer, text: '@[opted-out] LUL hi [opted-out] #privacy_streamer' });
    const line = parseIrcLine(left.get('privacy-dl-irc')!, { receivedAt: t.ts, source: 'import' });
    assert.ok(line.ok, 'the IRC line still parses');
    assert.equal(line.event.kind, 'message');
    const m = line.event as ChatMessage;
    assert.deepEqual([m.channel, m.channel_id, m.login, m.user_id, m.text], ['privacy_streamer', '990000010', 'privacy_viewer', '990000011', 'hey @[opted-out] [opted-out]']);
  });
  it('a login someone else held before: the opt-out takes its newest holder (and their earlier logins), not the earlier holder', async () => {
    const t = f.messages[100];
    const as = (id: string, login: string, userId: string, dt: number): ChatMessage => ({ ...t, id, login, display_name: login, user_id: userId, ts: t.ts + dt, received_at: t.ts + dt, reply: null, tags: {} });
    // A (990000020) chatted as privacy_reused, then renamed; B (990000021) took the login later.
    const a = [as('privacy-reused-a1', 'privacy_reused', '990000020', 10), as('privacy-reused-a2', 'privacy_a_renamed', '990000020', 20)];
    const b = [as('privacy-reused-b0', 'privacy_b_before', '990000021', 25), as('privacy-reused-b1', 'privacy_reused', '990000021', 30), as('privacy-reused-b2', 'privacy_reused', '990000021', 40)];
    // a reply to A under the login, and a parked event of A's under it
    const reply: ChatMessage = { ...as('privacy-reused-reply', 'privacy_stays', '990000002', 50), reply: { parent_msg_id: 'privacy-reused-a1', parent_user_id: '990000020', parent_login: 'privacy_reused', parent_display_name: 'privacy_reused', parent_text: t.text, thread_parent_msg_id: null, thread_parent_login: null } };
    await storeEvents(f.db.config, f.db.client, [...a, ...b, reply]);
    const parkedA = { id: 'privacy-dl-reused-a', ts: t.ts, stage: 'enrich', source: 'bus:test', reason: 'parked by the test', payload: JSON.stringify({ ...a[0], id: 'privacy-reused-a0' }) };
    await f.db.client.insert({ table: 'dead_letters', values: [parkedA], format: 'JSONEachRow' });

    const r = await f.app.inject({ method: 'POST', url: '/api/v1/users/privacy_reused/opt-out', headers: auth });
    assert.equal(r.statusCode, 200, r.body);
    const ids = (await rows<{ id: string }>(f.db.client, "SELECT id FROM messages WHERE id LIKE 'privacy-reused-%' ORDER BY id")).map((x) => x.id);
    assert.deepEqual(ids, ['privacy-reused-a1', 'privacy-reused-a2', 'privacy-reused-reply'], "only B's messages are gone");
    const body = JSON.parse(r.body);
    assert.deepEqual(body.user_ids, ['990000021']);
    assert.equal(body.deleted.messages, 3);
    const [kept] = await rows<Record<string, unknown>>(f.db.client, "SELECT reply_parent_login, reply_parent_user_id, reply_parent_text FROM messages WHERE id = 'privacy-reused-reply'");
    assert.deepEqual(kept, { reply_parent_login: 'privacy_reused', reply_parent_user_id: '990000020', reply_parent_text: t.text });
    assert.deepEqual((await rows<{ login: string }>(f.db.client, "SELECT DISTINCT login FROM user_names WHERE user_id = '990000020' ORDER BY login")).map((x) => x.login), ['privacy_a_renamed', 'privacy_reused']);
    assert.equal((await rows<{ n: number }>(f.db.client, "SELECT count() AS n FROM user_names WHERE user_id = '990000021'"))[0].n, 0);
    const [dl] = await rows<{ payload: string }>(f.db.client, "SELECT payload FROM dead_letters WHERE id = 'privacy-dl-reused-a'");
    assert.equal(dl?.payload, parkedA.payload, "A's parked event is kept as it was");
  });
  it('rejects a bad login', async () => {
    const r = await f.app.inject({ method: 'POST', url: "/api/v1/users/a'b/opt-out", headers: auth });
    assert.equal(r.statusCode, 400);
  });
});

