/**
 * Read endpoints against the real #xqc capture (4,029 messages, 26 timeouts, 15 user notices) stored
 * by the enrich stage: every figure is checked against a count made here from the parsed events.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ChatEvent, ChatMessage, Timeout, UserNotice } from '../../core/events.ts';
import { parseIrcLine } from '../../ingest/irc-parser.ts';
import { loadHypeModel } from '../../analytics/hype-model.ts';
import { refreshDerived } from '../../analytics/refresh.ts';
import { auc } from '../../enrich/eval/metrics.ts';
import { evalModerationLogs, loadEvalEvents } from '../../enrich/eval/moderation.ts';
import { XQC_FILE, xqcMissing } from './support/load.ts';
import { apiFixture, getJson, tokensOf, type ApiFixture } from './support/setup.ts';

const skip = xqcMissing();
let f: ApiFixture;
let timeouts: Timeout[];
let notices: UserNotice[];
let live: ChatMessage[];
let top: { login: string; n: number };

before(async () => {
  if (skip) return;
  f = await apiFixture();
  timeouts = f.events.filter((e): e is Timeout => e.kind === 'timeout');
  notices = f.events.filter((e): e is UserNotice => e.kind === 'usernotice');
  const deletedIds = new Set(f.deleted.map((d) => d.id));
  live = f.messages.filter((m) => !deletedIds.has(m.id));
  const counts = new Map<string, number>();
  for (const m of f.messages) counts.set(m.login, (counts.get(m.login) ?? 0) + 1);
  const [login, n] = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
  top = { login, n };
});
after(async () => {
  await f?.app.close();
});

const newestFirst = (a: ChatEvent, b: ChatEvent) => b.ts - a.ts || (b.id < a.id ? -1 : b.id > a.id ? 1 : 0);

describe('channels', { skip }, () => {
  it('lists xqc with its message count and last message time', async () => {
    const r = await getJson(f.app, '/api/v1/channels');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.items.map((x: { login: string }) => x.login).filter((l: string) => l.startsWith('xqc')).slice(0, 1), ['xqc']);
    const c = r.body.items.find((x: { login: string }) => x.login === 'xqc');
    assert.equal(c.messages, f.messages.length);
    assert.equal(c.last_message_at, new Date(Math.max(...f.messages.map((m) => m.ts))).toISOString());
    assert.equal(c.configured, false);
  });
  it('stats over all time and over one aligned minute match the events', async () => {
    const r = await getJson(f.app, '/api/v1/channels/xqc/stats');
    assert.equal(r.status, 200);
    assert.equal(r.body.messages, f.messages.length);
    assert.equal(r.body.chatters, new Set(f.messages.map((m) => m.login)).size);
    assert.equal(r.body.moderation.timeouts, timeouts.length);
    assert.equal(r.body.moderation.deletions, f.deleted.length);
    assert.equal(r.body.bits, f.messages.reduce((s, m) => s + (m.bits ?? 0), 0));
    const minute = Math.floor(f.messages[1000].ts / 60_000) * 60_000;
    const inMinute = f.messages.filter((m) => m.ts >= minute && m.ts < minute + 60_000);
    const s = await getJson(f.app, `/api/v1/channels/xqc/stats?from=${minute}&to=${new Date(minute + 60_000).toISOString()}`);
    assert.equal(s.body.bucket, '1m');
    assert.equal(s.body.messages, inMinute.length);
    assert.equal(s.body.chatters, new Set(inMinute.map((m) => m.login)).size);
  });
  it('a channel never seen is a 404 naming it (test/api/unknown-channels.test.ts), bad names are 400', async () => {
    const r = await getJson(f.app, '/api/v1/channels/nobody_here/stats');
    assert.equal(r.status, 404);
    assert.deepEqual(r.body.details, { unknown_channels: ['nobody_here'] });
    assert.equal((await getJson(f.app, '/api/v1/channels/no-dash/stats')).status, 400);
  });
});

describe('messages', { skip }, () => {
  it('a misspelled or unknown query parameter is a 400 naming it, not a silently wider answer', async () => {
    for (const url of ['/api/v1/messages?chanel=xqc', '/api/v1/moderation/actions?chanel=xqc', '/api/v1/analytics/xqc/timeline?buckets=1h']) {
      const r = await getJson(f.app, url);
      assert.equal(r.status, 400, `${url}: ${JSON.stringify(r.body)}`);
      assert.match(JSON.stringify(r.body), /chanel|buckets/, url);
    }
    // the justlog-compatible routes keep accepting what justlog clients add
    assert.equal((await f.app.inject({ url: '/channel/xqc/2023/4/1?json=1&foo=bar' })).statusCode, 200);
  });
  it('pages through every non-deleted message newest first with the cursor', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r: { status: number; body: { items: Array<{ id: string }>; next_cursor: string | null } } = await getJson(f.app, `/api/v1/messages?channel=xqc&limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.status, 200);
      for (const m of r.body.items) seen.push(m.id);
      cursor = r.body.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, [...live].sort(newestFirst).map((m) => m.id));
  });
  it('each message carries its scores, moderation risk included (0..1, as enrich stored it)', async () => {
    const r = await getJson(f.app, '/api/v1/messages?channel=xqc&limit=1000');
    const items: Array<{ sentiment: number; toxicity: number; mod_risk: number; topic_id: number }> = r.body.items;
    assert.ok(items.length > 0 && items.every((m) => m.mod_risk >= 0 && m.mod_risk <= 1 && typeof m.toxicity === 'number' && typeof m.topic_id === 'number'));
    assert.ok(new Set(items.map((m) => m.mod_risk)).size > 10, 'scores, not a constant');
  });
  it('topic_id is the assignment of the window\'s newest computation (topic_window_state), once, also while a re-run window holds two versions', async () => {
    // A refresh writes its version and deletes the older one without waiting (enrich's timer): until the
    // delete is applied, message_topics holds both rows of a message. Far-future versions: newer than any refresh.
    const [m, m2] = [...live].sort(newestFirst);
    const windowOf = (x: { ts: number }) => new Date(Math.floor(x.ts / 300_000) * 300_000).toISOString().slice(0, 19).replace('T', ' ');
    assert.equal(windowOf(m2), windowOf(m), 'the two newest messages share a window');
    const row = (x: typeof m, topic_id: number, computed_at: string) => ({
      channel: 'xqc', window_start: windowOf(x), message_id: x.id, ts: new Date(x.ts).toISOString().replace('T', ' ').replace('Z', ''), topic_id, computed_at,
    });
    // m2: a row of a refresh killed before it recorded its version (9): the topics endpoint does not list it
    await f.db.client.insert({ table: 'message_topics', format: 'JSONEachRow', values: [row(m, 1, '2100-01-01 00:00:00.000'), row(m, 4, '2100-01-01 00:00:01.000'), row(m2, 9, '2100-01-01 00:00:05.000')], clickhouse_settings: { insert_deduplication_token: '' } });
    await f.db.client.insert({ table: 'topic_window_state', format: 'JSONEachRow', values: [{ channel: 'xqc', window_start: windowOf(m), changed_at: '2100-01-01 00:00:00.000', computed_at: '2100-01-01 00:00:01.000' }], clickhouse_settings: { insert_deduplication_token: '' } });
    const page = (await getJson(f.app, '/api/v1/messages?channel=xqc&limit=50')).body.items as Array<{ id: string; topic_id: number }>;
    assert.deepEqual(page.filter((x) => x.id === m.id).map((x) => x.topic_id), [4]);
    assert.deepEqual(page.filter((x) => x.id === m2.id).map((x) => x.topic_id), [-1]);
    assert.equal(page.length, 50);
    assert.equal(new Set(page.map((x) => x.id)).size, 50, 'each message once');
    assert.equal((await getJson(f.app, `/api/v1/messages/${encodeURIComponent(m.id)}`)).body.message.topic_id, 4);
    // the rest of the page: their stored assignment, or -1 without one
    const stored = await f.db.client.query({ query: 'SELECT message_id, topic_id FROM message_topics FINAL WHERE message_id IN {ids:Array(String)}', query_params: { ids: page.map((x) => x.id) }, format: 'JSONEachRow' });
    const want = new Map((await stored.json<{ message_id: string; topic_id: number }>()).map((r) => [r.message_id, r.topic_id]));
    // m's window: its newest computation (the 2100 one) holds m's row only
    for (const x of live) if (x.id !== m.id && windowOf(x) === windowOf(m)) want.set(x.id, -1);
    assert.deepEqual(page.map((x) => x.topic_id), page.map((x) => want.get(x.id) ?? -1));
  });
  it('include_deleted adds the deleted messages, flagged', async () => {
    const r = await getJson(f.app, '/api/v1/messages?channel=xqc&include_deleted=true&limit=1000');
    const all: Array<{ id: string; deleted: boolean }> = [];
    let body = r.body;
    all.push(...body.items);
    while (body.next_cursor) {
      body = (await getJson(f.app, `/api/v1/messages?channel=xqc&include_deleted=true&limit=1000&cursor=${body.next_cursor}`)).body;
      all.push(...body.items);
    }
    assert.equal(all.length, f.messages.length);
    assert.deepEqual(all.filter((m) => m.deleted).map((m) => m.id).sort(), f.deleted.map((m) => m.id).sort());
  });
  it('full-text search matches whole tokens case-insensitively, all tokens required', async () => {
    for (const q of ['LUL', 'dansgame', 'the chat']) {
      const want = live.filter((m) => [...tokensOf(q)].every((t) => tokensOf(m.text).has(t))).sort(newestFirst).map((m) => m.id);
      const r = await getJson(f.app, `/api/v1/messages?q=${encodeURIComponent(q)}&limit=1000`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.items.map((m: { id: string }) => m.id), want, q);
      assert.ok(want.length > 0, `${q} occurs in the log`);
    }
  });
  it('filters by user and time range', async () => {
    const from = f.messages[1000].ts;
    const to = f.messages[3000].ts;
    const want = live.filter((m) => m.login === top.login && m.ts >= from && m.ts < to).sort(newestFirst).map((m) => m.id);
    const r = await getJson(f.app, `/api/v1/messages?user=${top.login}&from=${from}&to=${to}`);
    assert.deepEqual(r.body.items.map((m: { id: string }) => m.id), want);
  });
  it('one message by id carries its deletion', async () => {
    const d = f.deleted[0];
    const r = await getJson(f.app, `/api/v1/messages/${d.id}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.message.text, d.text);
    assert.equal(r.body.message.deleted, true);
    assert.equal(r.body.deletion.target_msg_id, d.id);
    assert.equal(r.body.deletion.ts, new Date(d.ts + 2000).toISOString());
    const t = timeouts[0];
    const before = f.messages.filter((m) => m.login === t.target_login && m.ts <= t.ts && m.ts >= t.ts - 600_000);
    if (before.length) {
      const m = await getJson(f.app, `/api/v1/messages/${before[before.length - 1].id}`);
      assert.ok(m.body.author_actions.some((a: { id: string }) => a.id === t.id));
    }
    const missing = await getJson(f.app, '/api/v1/messages/not-an-id');
    assert.equal(missing.status, 404);
    assert.deepEqual(Object.keys(missing.body).sort(), ['details', 'error', 'message']);
  });
});

describe('users', { skip }, () => {
  it('finds users by login prefix with their counts', async () => {
    const prefix = top.login.slice(0, 3);
    const r = await getJson(f.app, `/api/v1/users?prefix=${prefix}&limit=200`);
    const want = new Map<string, number>();
    // The search counts every stored message, deleted ones too.
    for (const m of f.messages) if (m.login.startsWith(prefix)) want.set(m.login, (want.get(m.login) ?? 0) + 1);
    assert.equal(r.body.items.length, want.size);
    for (const u of r.body.items) assert.equal(u.messages, want.get(u.login));
  });
  it('profile: first/last seen, per channel, names, moderation', async () => {
    const mine = f.messages.filter((m) => m.login === top.login);
    const r = await getJson(f.app, `/api/v1/users/${top.login}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.messages, top.n);
    assert.equal(r.body.first_seen, new Date(Math.min(...mine.map((m) => m.ts))).toISOString());
    assert.equal(r.body.last_seen, new Date(Math.max(...mine.map((m) => m.ts))).toISOString());
    assert.deepEqual(r.body.channels.map((c: { channel: string; messages: number }) => [c.channel, c.messages]), [['xqc', top.n]]);
    assert.deepEqual(r.body.user_ids, [mine[0].user_id]);
    assert.ok(r.body.names.some((n: { display_name: string }) => n.display_name === mine[0].display_name));
    assert.equal(r.body.moderation.timeouts, timeouts.filter((t) => t.target_login === top.login).length);
    const t = timeouts[0].target_login;
    const p = await getJson(f.app, `/api/v1/users/${t}`);
    assert.equal(p.body.moderation.timeouts, timeouts.filter((x) => x.target_login === t).length);
    assert.equal((await getJson(f.app, '/api/v1/users/zz_never_chatted')).status, 404);
  });
  it("lists a user's messages and moderation", async () => {
    const r = await getJson(f.app, `/api/v1/users/${top.login}/messages?limit=1000`);
    assert.deepEqual(r.body.items.map((m: { id: string }) => m.id), live.filter((m) => m.login === top.login).sort(newestFirst).map((m) => m.id));
    const t = timeouts[0].target_login;
    const mod = await getJson(f.app, `/api/v1/users/${t}/moderation`);
    assert.deepEqual(mod.body.items.map((a: { id: string }) => a.id).sort(), timeouts.filter((x) => x.target_login === t).map((x) => x.id).sort());
  });
});

describe('moderation', { skip }, () => {
  it('lists actions by type, newest first, with cursor pages', async () => {
    const p1 = await getJson(f.app, '/api/v1/moderation/actions?channel=xqc&type=timeout&limit=10');
    const p2 = await getJson(f.app, `/api/v1/moderation/actions?channel=xqc&type=timeout&limit=100&cursor=${p1.body.next_cursor}`);
    const ids = [...p1.body.items, ...p2.body.items].map((a: { id: string }) => a.id);
    assert.deepEqual(ids, [...timeouts].sort(newestFirst).map((t) => t.id));
    assert.equal(p2.body.next_cursor, null);
    const del = await getJson(f.app, '/api/v1/moderation/actions?type=delete');
    assert.equal(del.body.items.length, f.deleted.length);
  });
  it('stats per minute window and per type match the events', async () => {
    const r = await getJson(f.app, '/api/v1/moderation/stats?channel=xqc&bucket=1m');
    assert.equal(r.status, 200);
    assert.equal(r.body.totals.timeouts, timeouts.length);
    assert.equal(r.body.totals.deletions, f.deleted.length);
    const perWindow = new Map<string, number>();
    for (const t of timeouts) {
      const w = new Date(Math.floor(t.ts / 60_000) * 60_000).toISOString();
      perWindow.set(w, (perWindow.get(w) ?? 0) + 1);
    }
    for (const w of r.body.windows) assert.equal(w.timeouts, perWindow.get(w.window) ?? 0, w.window);
  });
});

describe('moderation risk', { skip }, () => {
  /** The eval's label from the capture's own events: a timeout or ban of the author within 60 s at or after the message. */
  const actionedHere = (m: ChatMessage) => f.events.some((e) => (e.kind === 'timeout' || e.kind === 'ban') && e.channel === m.channel && e.target_login === m.login && e.ts >= m.ts && e.ts - m.ts <= 60_000);
  async function storedRisk(): Promise<Map<string, number>> {
    const r = await f.db.client.query({ query: "SELECT id, mod_risk FROM messages WHERE channel = 'xqc'", format: 'JSONEachRow' });
    return new Map(((await r.json()) as { id: string; mod_risk: number }[]).map((x) => [x.id, x.mod_risk]));
  }

  it("scores the range against the timeouts that followed: the AUC of the stored mod_risk, as the eval computes it", async () => {
    const r = await getJson(f.app, '/api/v1/moderation/risk?channel=xqc');
    assert.equal(r.status, 200, r.text);
    // default range: the last 24 hours of the channel's stored chat, which hold the whole 5-minute capture
    assert.ok(Date.parse(r.body.range.from) <= f.messages[0].ts && Date.parse(r.body.range.to) > f.messages.at(-1)!.ts, JSON.stringify(r.body.range));
    const risk = await storedRisk();
    const labels = f.messages.map((m) => (actionedHere(m) ? 1 : 0));
    const scores = f.messages.map((m) => risk.get(m.id)!);
    const positives = labels.reduce<number>((a, b) => a + b, 0);
    assert.ok(positives >= 20, `positives ${positives}`);
    assert.equal(r.body.window_s, 60);
    assert.equal(r.body.quality.messages, f.messages.length);
    assert.equal(r.body.quality.actioned, positives);
    assert.ok(Math.abs(r.body.quality.expected_actioned - scores.reduce((a, b) => a + b, 0)) < 1e-3);
    assert.ok(Math.abs(r.body.quality.auc - auc(scores, labels)) < 1e-9, `${r.body.quality.auc} vs ${auc(scores, labels)}`);
    // and what `npm run eval:moderation -- <the capture>` prints, from stored rows instead of a replay
    // (labels by stored time instead of file order, scores stored as Float32)
    const ev = evalModerationLogs([XQC_FILE], 60_000, true, [await loadEvalEvents(XQC_FILE)]).logs[0];
    assert.ok(Math.abs(r.body.quality.auc - ev.auc!) < 0.002, `api ${r.body.quality.auc} vs eval ${ev.auc}`);
    assert.equal(r.body.quality.actioned, ev.positives);
  });

  it('lists the highest-risk messages first, each with whether and how its author was actioned', async () => {
    const risk = await storedRisk();
    const r = await getJson(f.app, '/api/v1/moderation/risk?channel=xqc&limit=40');
    assert.equal(r.body.items.length, 40);
    const byId = new Map(f.messages.map((m) => [m.id, m]));
    const top = [...f.messages].sort((a, b) => risk.get(b.id)! - risk.get(a.id)! || b.ts - a.ts || (b.id < a.id ? -1 : 1)).slice(0, 40);
    assert.deepEqual(r.body.items.map((i: { id: string }) => i.id), top.map((m) => m.id));
    for (const item of r.body.items) {
      const m = byId.get(item.id)!;
      assert.equal(item.text, m.text);
      assert.equal(item.actioned, actionedHere(m), item.id);
      if (item.actioned) {
        assert.ok(['ban', 'timeout'].includes(item.author_action.action));
        const lag = Date.parse(item.author_action.ts) - m.ts;
        assert.ok(lag >= 0 && lag <= 60_000, `lag ${lag}`);
      }
    }
    assert.ok(r.body.items.some((i: { deleted: boolean }) => typeof i.deleted === 'boolean'));
  });

  it('actioned=false gives the risky messages nobody acted on, actioned=true the acted-on ones, each highest risk first', async () => {
    const risk = await storedRisk();
    const deletedIds = new Set(f.deleted.map((m) => m.id));
    let deletedSeen = 0;
    for (const want of [true, false]) {
      const r = await getJson(f.app, `/api/v1/moderation/risk?channel=xqc&actioned=${want}&limit=500`);
      assert.equal(r.status, 200);
      const expected = f.messages.filter((m) => actionedHere(m) === want).sort((a, b) => risk.get(b.id)! - risk.get(a.id)! || b.ts - a.ts || (b.id < a.id ? -1 : 1));
      assert.deepEqual(r.body.items.map((i: { id: string }) => i.id), expected.slice(0, 500).map((m) => m.id));
      // deleted (a CLEARMSG names it) exactly as the message listings say; the fixture's deleted messages
      // include one of the 500 riskiest un-actioned ones, so both values are checked
      for (const i of r.body.items as { id: string; deleted: boolean }[]) {
        assert.equal(i.deleted, deletedIds.has(i.id), i.id);
        if (i.deleted) deletedSeen++;
      }
      // the quality figures stay those of the whole range
      assert.equal(r.body.quality.messages, f.messages.length);
    }
    assert.ok(deletedSeen > 0, 'no deleted message among the listed ones: the deleted flag went unchecked');
  });

  it("author_action is the author's first ban or timeout after the message also when it came after the range's last minute", async () => {
    // the capture's first 100 s: several authors of it were timed out minutes later, after the label's window
    const from = f.messages[0].ts;
    const to = from + 100_000;
    const r = await getJson(f.app, `/api/v1/moderation/risk?channel=xqc&from=${from}&to=${to}&limit=500`);
    assert.equal(r.status, 200, r.text);
    const inRange = f.messages.filter((m) => m.ts >= from && m.ts < to);
    assert.equal(r.body.items.length, Math.min(500, inRange.length));
    const byId = new Map(inRange.map((m) => [m.id, m]));
    let late = 0;
    for (const item of r.body.items) {
      const m = byId.get(item.id)!;
      const first = timeouts.filter((t) => t.target_login === m.login && t.ts >= m.ts).sort((a, b) => a.ts - b.ts)[0];
      assert.deepEqual(item.author_action, first ? { action: 'timeout', ts: new Date(first.ts).toISOString(), duration_s: first.duration_s } : null, item.id);
      if (first && first.ts >= to + 60_000) late++;
    }
    assert.ok(late > 0, 'no listed author was actioned after the range: the case went unchecked');
  });

  it('a range without chat has no AUC; a bad range or a missing channel is a 400 with the reason, an unknown one a 404', async () => {
    const empty = await getJson(f.app, '/api/v1/moderation/risk?channel=xqc&from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z');
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.body.quality, { messages: 0, actioned: 0, expected_actioned: 0, auc: null });
    assert.deepEqual(empty.body.items, []);
    const unknown = await getJson(f.app, '/api/v1/moderation/risk?channel=nobodyhere');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.message, /unknown channel nobodyhere/);
    const backwards = await getJson(f.app, '/api/v1/moderation/risk?channel=xqc&from=2023-04-02T00:00:00Z&to=2023-04-01T00:00:00Z');
    assert.equal(backwards.status, 400);
    assert.match(backwards.text, /from must be before to/);
    const noChannel = await getJson(f.app, '/api/v1/moderation/risk');
    assert.equal(noChannel.status, 400);
    assert.match(noChannel.text, /channel/);
  });
});

describe('analytics', { skip }, () => {
  for (const [bucket, ms] of [['30s', 30_000], ['1m', 60_000], ['1h', 3_600_000]] as const) {
    it(`timeline per ${bucket}: messages and chatters per window`, async () => {
      const r = await getJson(f.app, `/api/v1/analytics/xqc/timeline?bucket=${bucket}`);
      assert.equal(r.status, 200);
      const want = new Map<string, { n: number; users: Set<string>; bits: number }>();
      for (const m of f.messages) {
        const w = new Date(Math.floor(m.ts / ms) * ms).toISOString();
        const x = want.get(w) ?? { n: 0, users: new Set(), bits: 0 };
        x.n++;
        x.users.add(m.login);
        x.bits += m.bits ?? 0;
        want.set(w, x);
      }
      const got = r.body.points.filter((p: { messages: number }) => p.messages > 0);
      assert.equal(got.length, want.size);
      for (const p of got) {
        assert.equal(p.messages, want.get(p.window)!.n, p.window);
        assert.equal(p.chatters, want.get(p.window)!.users.size, p.window);
        assert.equal(p.bits, want.get(p.window)!.bits, p.window);
        assert.equal(p.sentiment.negative + p.sentiment.neutral + p.sentiment.positive, p.messages);
      }
    });
  }
  it('timeline rejects a range of too many buckets and a reversed range', async () => {
    assert.equal((await getJson(f.app, '/api/v1/analytics/xqc/timeline?bucket=30s&from=0&to=1700000000000')).status, 400);
    assert.equal((await getJson(f.app, '/api/v1/analytics/xqc/timeline?from=1700000000000&to=1600000000000')).status, 400);
  });
  it('from=0, "the beginning": a range starting at the channel\'s first window (it was a 400 for 1970-2023 in days)', async () => {
    const day = new Date(Math.floor(f.messages[0].ts / 86_400_000) * 86_400_000).toISOString();
    for (const url of ['/api/v1/analytics/xqc/timeline?bucket=1d&from=0', '/api/v1/analytics/xqc/emotes/timeline?emotes=LUL&bucket=1d&from=0', '/api/v1/moderation/stats?channel=xqc&bucket=1d&from=0']) {
      const r = await getJson(f.app, url);
      assert.equal(r.status, 200, `${url}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.range.from, day, url);
    }
  });
  it('top emotes and emote timeline agree with the stored emote tokens', async () => {
    const r = await getJson(f.app, '/api/v1/analytics/xqc/emotes?limit=5');
    assert.equal(r.status, 200);
    const { rows } = await import('../../api/db.ts');
    const want = await rows<{ emote: string; uses: number; users: number }>(
      f.db.client,
      "SELECT emote, count() AS uses, uniqExact(login) AS users FROM messages ARRAY JOIN emote_names AS emote WHERE channel = 'xqc' GROUP BY emote ORDER BY uses DESC, emote LIMIT 5",
    );
    assert.deepEqual(r.body.items, want);
    const e = want[0].emote;
    const tl = await getJson(f.app, `/api/v1/analytics/xqc/emotes/timeline?emotes=${encodeURIComponent(e)}&bucket=1m`);
    assert.equal(tl.body.points.reduce((s: number, p: { uses: number }) => s + p.uses, 0), want[0].uses);
  });
  it('top emotes of a range count that range (the hour around it before), and say which range and bucket they read', async () => {
    const { rows } = await import('../../api/db.ts');
    const count = (from: number, to: number) =>
      rows<{ emote: string; uses: number; users: number }>(
        f.db.client,
        "SELECT emote, count() AS uses, uniqExact(login) AS users FROM messages ARRAY JOIN emote_names AS emote WHERE channel = 'xqc' AND ts >= fromUnixTimestamp64Milli({f:Int64}) AND ts < fromUnixTimestamp64Milli({t:Int64}) GROUP BY emote ORDER BY uses DESC, emote LIMIT 5",
        { f: from, t: to },
      );
    // two whole minutes inside the capture's hour: read from the 1m rollup, exactly the range
    const minute = Math.floor(f.messages[1000].ts / 60_000) * 60_000;
    const r = await getJson(f.app, `/api/v1/analytics/xqc/emotes?from=${minute}&to=${minute + 120_000}&limit=5`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.items, await count(minute, minute + 120_000));
    assert.equal(r.body.bucket, '1m');
    assert.deepEqual(r.body.range, { from: new Date(minute).toISOString(), to: new Date(minute + 120_000).toISOString() });
    assert.notDeepEqual(r.body.items, await count(0, 8_000_000_000_000), 'the range differs from the whole capture');
    // unaligned ends: the 30 s windows overlapping the range, as the answer says
    const [from, to] = [minute + 10_000, minute + 100_000];
    const u = await getJson(f.app, `/api/v1/analytics/xqc/emotes?from=${from}&to=${to}&limit=5`);
    assert.equal(u.body.bucket, '30s');
    assert.deepEqual(u.body.range, { from: new Date(minute).toISOString(), to: new Date(minute + 120_000).toISOString() });
    assert.deepEqual(u.body.items, await count(minute, minute + 120_000));
    // an explicit bucket is read as asked, and the answer says what it covers
    const h = await getJson(f.app, `/api/v1/analytics/xqc/emotes?bucket=1h&from=${from}&limit=5`);
    assert.deepEqual([h.body.bucket, h.body.range], ['1h', { from: new Date(Math.floor(from / 3_600_000) * 3_600_000).toISOString(), to: null }]);
  });
  it('topics: only the newest version of each window, though a refresh stores two for a moment', async () => {
    // a refresh writes its version, records it in topic_window_state, then deletes the older one without waiting
    // (enrich/topics/refresh.ts); the second window's newest version has no topics (an opt-out emptied it)
    const row = (window_start: string, topic_id: number, computed_at: string, label: string) => ({
      channel: 'topicsver', window_start, window_seconds: 300, topic_id, label, terms: [label], weights: [1], messages: 5, method: 'keywords', model: '', computed_at,
    });
    const [w1, w2, v1, v2] = ['2023-04-01 12:00:00', '2023-04-01 12:05:00', '2023-04-01 12:16:00.000', '2023-04-01 12:21:00.000'];
    // a followed channel, or it would be unknown: it has no chat here, only these topic rows
    await f.db.client.insert({ table: 'channels', format: 'JSONEachRow', values: [{ login: 'topicsver', channel_id: null, enabled: true, removed: false, added_at: Date.now(), updated_at: Date.now() }], clickhouse_settings: { insert_deduplication_token: '' } });
    await f.db.client.insert({
      table: 'topics',
      format: 'JSONEachRow',
      values: [row(w1, 0, v1, 'old a'), row(w1, 1, v1, 'old b'), row(w1, 2, v1, 'old c'), row(w1, 0, v2, 'new a'), row(w1, 1, v2, 'new b'), row(w2, 0, v1, 'emptied')],
    });
    await f.db.client.insert({
      table: 'topic_window_state',
      format: 'JSONEachRow',
      values: [w1, w2].flatMap((w) => [v1, v2].map((v) => ({ channel: 'topicsver', window_start: w, changed_at: '2023-04-01 12:10:00.000', computed_at: v }))),
    });
    const r = await getJson(f.app, '/api/v1/analytics/topicsver/topics');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.items.map((t: { label: string }) => t.label), ['new a', 'new b']);
  });
  it('derived tables answer lists (empty until refreshed), never 500', async () => {
    for (const p of ['bursts', 'topics', 'segments', 'hype', 'moderation/lag']) {
      const r = await getJson(f.app, `/api/v1/analytics/xqc/${p}`);
      assert.equal(r.status, 200, p);
      assert.ok(Array.isArray(r.body.items));
    }
  });
});

describe('justlog', { skip }, () => {
  const dayLog = () => [...f.messages, ...timeouts, ...notices].filter((e) => new Date(e.ts).toISOString().startsWith('2023-04-01'));
  it('channel day log as JSON: every message, timeout and notice, oldest first; ?reverse newest first', async () => {
    const r = await getJson(f.app, '/channel/xqc/2023/4/1?json');
    assert.equal(r.status, 200);
    const want = dayLog().sort((x, y) => x.ts - y.ts || (x.id < y.id ? -1 : 1));
    assert.equal(r.body.messages.length, want.length);
    assert.deepEqual(Object.keys(r.body.messages[0]).sort(), ['channel', 'displayName', 'id', 'raw', 'tags', 'text', 'timestamp', 'type', 'username']);
    const m0 = want.find((e): e is ChatMessage => e.kind === 'message')!;
    const got0 = r.body.messages.find((m: { id: string }) => m.id === m0.id);
    assert.equal(got0.text, m0.text);
    assert.equal(got0.username, m0.login);
    assert.equal(got0.type, 1);
    assert.equal(got0.timestamp, new Date(Math.floor(m0.ts / 1000) * 1000).toISOString().replace('.000Z', 'Z'));
    assert.equal(got0.tags.id, m0.id);
    assert.equal(r.body.messages.filter((m: { type: number }) => m.type === 2).length, timeouts.length);
    assert.equal(r.body.messages.filter((m: { type: number }) => m.type === 4).length, notices.length);
    const rev = await getJson(f.app, '/channel/xqc/2023/4/1?json&reverse');
    assert.deepEqual(rev.body.messages.map((m: { raw: string }) => m.raw), [...r.body.messages].reverse().map((m: { raw: string }) => m.raw));
  });
  it('raw lines parse back to the stored events; text is justlog layout', async () => {
    const raw = await getJson(f.app, '/channel/xqc/2023/4/1?raw');
    const lines = raw.text.trimEnd().split('\n');
    assert.equal(lines.length, dayLog().length);
    const byId = new Map(f.messages.map((m) => [m.id, m]));
    let checked = 0;
    for (const line of lines) {
      const p = parseIrcLine(line, { receivedAt: 0, source: 'import' });
      assert.ok(p.ok, line);
      if (p.ok && p.event.kind === 'message') {
        const want = byId.get(p.event.id)!;
        assert.equal(p.event.text, want.text);
        assert.equal(p.event.login, want.login);
        assert.deepEqual(p.event.emotes, want.emotes);
        checked++;
      }
    }
    assert.equal(checked, f.messages.length);
    const text = await getJson(f.app, '/channel/xqc/2023/4/1');
    const first = f.messages[0];
    const d = new Date(first.ts);
    const hms = d.toISOString().slice(11, 19);
    assert.ok(text.text.includes(`[2023-04-${d.getUTCDate()} ${hms}] #xqc ${first.login}: ${first.text}\n`));
    assert.match(String(text.headers['content-type']), /^text\/plain/);
  });
  it('user month log, latest-month redirect, list, channels, random', async () => {
    const r = await getJson(f.app, `/channel/xqc/user/${top.login}/2023/4?json`);
    const want = f.messages.filter((m) => m.login === top.login).length + timeouts.filter((t) => t.target_login === top.login).length + notices.filter((n) => n.login === top.login).length;
    assert.equal(r.body.messages.length, want);
    const red = await f.app.inject({ method: 'GET', url: `/channel/xqc/user/${top.login}?json` });
    assert.equal(red.statusCode, 302);
    assert.equal(red.headers.location, `/channel/xqc/user/${top.login}/2023/4?json`);
    assert.deepEqual((await getJson(f.app, `/list?channel=xqc&user=${top.login}`)).body, { availableLogs: [{ year: '2023', month: '4' }] });
    assert.deepEqual((await getJson(f.app, '/list?channel=xqc')).body, { availableLogs: [{ year: '2023', month: '4', day: '1' }] });
    const ch = await getJson(f.app, '/channels');
    assert.deepEqual(ch.body.channels.find((c: { name: string }) => c.name === 'xqc'), { userID: f.messages[0].channel_id, name: 'xqc' });
    const rnd = await getJson(f.app, `/channel/xqc/user/${top.login}/random?json`);
    assert.equal(rnd.body.messages.length, 1);
    assert.equal(rnd.body.messages[0].username, top.login);
    const uid = f.messages.find((m) => m.login === top.login)!.user_id;
    const byId = await getJson(f.app, `/channelid/${f.messages[0].channel_id}/userid/${uid}/2023/4?json`);
    assert.equal(byId.body.messages.length, want);
    assert.equal((await getJson(f.app, '/channel/xqc/2023/2/30')).status, 400);
    assert.equal((await getJson(f.app, '/channel/xqc/user/nobody_at_all/random')).status, 404);
  });
});

describe('system', { skip }, () => {
  it('health is 200 with ClickHouse up; metrics count requests; docs describe the API', async () => {
    const h = await getJson(f.app, '/health');
    assert.equal(h.status, 200);
    assert.equal(h.body.clickhouse.ok, true);
    assert.equal(h.body.nats.configured, false);
    const m = await f.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(m.body, /twichist_api_requests_total\{method="GET",route="\/health",status="200"\} 1/);
    const d = await getJson(f.app, '/docs/json');
    assert.ok(d.body.paths['/api/v1/messages/'] || d.body.paths['/api/v1/messages']);
    assert.ok(d.body.paths['/api/v1/users/{login}/opt-out']);
    const nf = await getJson(f.app, '/api/v1/nothing');
    assert.equal(nf.status, 404);
    assert.equal(nf.body.error, 'not_found');
  });
  it('docs page, CORS, request ids and the rate limit (429 in the error shape)', async () => {
    const docs = await f.app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(docs.statusCode, 200);
    assert.match(docs.body, /swagger/i);
    const r = await f.app.inject({ method: 'GET', url: '/api/v1/channels', headers: { origin: 'https://example.org', 'x-request-id': 'abc-123' } });
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.equal(r.headers['x-request-id'], 'abc-123');
    const { buildApp } = await import('../../api/app.ts');
    const { createLogger } = await import('../../core/logger.ts');
    const limited = await buildApp({ config: f.db.config, logger: createLogger('silent'), client: f.db.client, rateLimit: { max: 2, timeWindowMs: 60_000 } });
    const codes: number[] = [];
    let last = '';
    for (let i = 0; i < 3; i++) {
      const x = await limited.inject({ method: 'GET', url: '/health' });
      codes.push(x.statusCode);
      last = x.body;
    }
    assert.deepEqual(codes, [200, 200, 429]);
    assert.equal(JSON.parse(last).error, 'too_many_requests');
    await limited.close();
  });
  it('health is 503 with the reason when ClickHouse fails', async () => {
    const { buildApp } = await import('../../api/app.ts');
    const { createLogger } = await import('../../core/logger.ts');
    const broken = { query: async () => { throw new Error('connection refused'); } } as never;
    const app = await buildApp({ config: f.db.config, logger: createLogger('silent'), client: broken, rateLimit: false });
    const h = await getJson(app, '/health');
    assert.equal(h.status, 503);
    assert.equal(h.body.clickhouse.ok, false);
    assert.match(h.body.clickhouse.error, /connection refused/);
    await app.close();
  });
});

// Last: these add channels (renamed copies), which would change the all-channel figures above.
describe('more channels', { skip }, () => {
  const extra: ChatMessage[] = [];
  it('keeps pages stable while newer messages arrive', async () => {
    // On a renamed copy, so the newer rows do not change the xqc figures other tests check.
    const { renamed, storeEvents } = await import('./support/load.ts');
    const copy = renamed(f.messages.slice(0, 300), 'xqc_pages') as ChatMessage[];
    await storeEvents(f.db.config, f.db.client, copy);
    extra.push(...copy);
    const sorted = [...copy].sort(newestFirst);
    const p1 = await getJson(f.app, '/api/v1/messages?channel=xqc_pages&limit=50');
    assert.deepEqual(p1.body.items.map((m: { id: string }) => m.id), sorted.slice(0, 50).map((m) => m.id));
    const newer = copy.slice(0, 20).map((m) => ({ ...m, id: `newer-${m.id}`, ts: m.ts + 3_600_000 }));
    await storeEvents(f.db.config, f.db.client, newer);
    extra.push(...newer);
    const p2 = await getJson(f.app, `/api/v1/messages?channel=xqc_pages&limit=50&cursor=${p1.body.next_cursor}`);
    assert.deepEqual(p2.body.items.map((m: { id: string }) => m.id), sorted.slice(50, 100).map((m) => m.id));
    const fresh = await getJson(f.app, '/api/v1/messages?channel=xqc_pages&limit=20');
    assert.ok(fresh.body.items.every((m: { id: string }) => m.id.startsWith('newer-')));
  });
  it('compare computes chatter overlap (Jaccard) and emote similarity', async () => {
    // A second channel: the first half of the capture renamed, so overlap is known exactly.
    const { renamed, storeEvents } = await import('./support/load.ts');
    const half = f.messages.slice(0, 2000);
    await storeEvents(f.db.config, f.db.client, renamed(half, 'xqc_half'));
    extra.push(...(renamed(half, 'xqc_half') as ChatMessage[]));
    const r = await getJson(f.app, '/api/v1/analytics/compare?channels=xqc,xqc_half');
    assert.equal(r.status, 200);
    const a = new Set(f.messages.map((m) => m.login));
    const b = new Set(half.map((m) => m.login));
    const shared = [...a].filter((x) => b.has(x)).length;
    assert.equal(r.body.chatters.xqc, a.size);
    assert.equal(r.body.chatters.xqc_half, b.size);
    assert.equal(r.body.overlap[0].shared_chatters, shared);
    assert.ok(Math.abs(r.body.overlap[0].jaccard - shared / (a.size + b.size - shared)) < 1e-9);
    assert.ok(r.body.similarity[0][1] > 0.9 && r.body.similarity[0][1] <= 1.0000001, String(r.body.similarity[0][1]));
    assert.equal((await getJson(f.app, '/api/v1/analytics/compare?channels=xqc')).status, 400);
  });
  it('search across channels pages correctly through older time windows (hours to months back)', async () => {
    const { renamed, storeEvents } = await import('./support/load.ts');
    // Copies 3 h, 3 days and 45 days older: the all-channel read walks back window by window.
    const old = [3 * 3_600_000, 3 * 86_400_000, 45 * 86_400_000].flatMap((back, i) =>
      (renamed(f.messages.slice(i * 400, i * 400 + 400), `xqc_old${i}`) as ChatMessage[]).map((m) => ({ ...m, ts: m.ts - back })),
    );
    await storeEvents(f.db.config, f.db.client, old);
    extra.push(...old);
    const deletedIds = new Set(f.deleted.map((d) => d.id));
    const all = [...f.messages.filter((m) => !deletedIds.has(m.id)), ...extra];
    const want = all.filter((m) => tokensOf(m.text).has('lul')).sort(newestFirst).map((m) => m.id);
    const got: string[] = [];
    let cursor: string | null = null;
    do {
      const r: { body: { items: Array<{ id: string }>; next_cursor: string | null } } = await getJson(f.app, `/api/v1/messages?q=LUL&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      got.push(...r.body.items.map((m) => m.id));
      cursor = r.body.next_cursor;
    } while (cursor);
    assert.deepEqual(got, want);
    assert.ok(want.some((id) => id.startsWith('xqc_old2:')), 'the 45-day-old copy matched');
  });
});

// Last: refreshing the views changes what /compare reads (analytics instead of computed).
describe('derived tables after the views ran', { skip }, () => {
  it('hype predictions and moderation lag are served once the views have run (hype weights loaded as migrate does)', async () => {
    await loadHypeModel(f.db.client);
    await refreshDerived(f.db.client, { skipHypeModel: true });
    const hype = await getJson(f.app, '/api/v1/analytics/xqc/hype?limit=1000');
    assert.ok(hype.body.items.length > 0 && hype.body.items.every((p: { probability: number }) => p.probability >= 0 && p.probability <= 1));
    const lag = await getJson(f.app, '/api/v1/analytics/xqc/moderation/lag');
    assert.equal(lag.status, 200);
    assert.ok(Array.isArray(lag.body.items));
  });
  it('compare gives the same figures from the views as computed from the raw tables over all history', async () => {
    // A channel without a single emote: its emote similarity is undefined (null) from both sources.
    const { renamed, storeEvents } = await import('./support/load.ts');
    const plain = (renamed(f.messages.slice(0, 50), 'xqc_plain') as ChatMessage[]).map((m) => ({ ...m, text: 'hello there friend', emotes: [] }));
    await storeEvents(f.db.config, f.db.client, plain);
    await refreshDerived(f.db.client, { skipHypeModel: true });
    const url = '/api/v1/analytics/compare?channels=xqc_old0,xqc,xqc_plain,xqc_half';
    const views = (await getJson(f.app, url)).body;
    const raw = (await getJson(f.app, `${url}&from=0`)).body;
    assert.deepEqual([views.source, raw.source], [{ similarity: 'analytics', overlap: 'analytics' }, { similarity: 'computed', overlap: 'computed' }]);
    const close = (a: number | null, b: number | null) => (a === null || b === null ? a === b : Math.abs(a - b) < 1e-9);
    views.similarity.forEach((row: Array<number | null>, i: number) => row.forEach((v, j) => assert.ok(close(v, raw.similarity[i][j]), `similarity[${i}][${j}]: ${v} vs ${raw.similarity[i][j]}`)));
    assert.equal(views.similarity[0][2], null);
    assert.ok(views.similarity[0][1] > 0 && views.similarity[0][1] < 1);
    assert.deepEqual(views.chatters, raw.chatters);
    const pairs = (o: Array<{ a: string; b: string; shared_chatters: number; jaccard: number }>) => o.map((x) => [x.a, x.b, x.shared_chatters, Math.round(x.jaccard * 1e9)]);
    assert.deepEqual(pairs(views.overlap), pairs(raw.overlap));
    assert.deepEqual(views.overlap.map((x: { a: string; b: string }) => `${x.a} ${x.b}`), raw.overlap.map((x: { a: string; b: string }) => `${x.a} ${x.b}`).sort());
  });
});
