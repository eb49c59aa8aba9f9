/**
 * Every importer on the matching files in ../shared/data with exact counts (counted independently with
 * grep/jq/zcat; the commands are in ingest/README.md), a second import giving the same ids, and a file
 * with corrupt lines mid-way importing the good lines and reporting the bad ones with line numbers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { EXPORT_TIME_TAG, validateEvent, type ChatEvent } from '../../core/events.ts';
import { deterministicId } from '../../core/ids.ts';
import { detectFormat, importFile, listImportFiles, type Reject } from '../../ingest/importers/index.ts';
import { peekText } from '../../ingest/importers/input.ts';
import { fileOrderClock } from '../../ingest/importers/types.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DATA = path.resolve(repoRoot, '..', 'shared', 'data');
const skip = fs.existsSync(DATA) ? false : `skipped: ${DATA} not found (../shared/data is absent)`;
const FIXTURE_TD = path.join(repoRoot, 'test', 'fixtures', 'ingest', 'twitchdownloader-sample.json');

async function run(file: string, opts: { channel?: string } = {}) {
  const events: ChatEvent[] = [];
  const rejects: Reject[] = [];
  const stats = await importFile(file, (e) => void events.push(e), { ...opts, onReject: (r) => rejects.push(r) });
  return { events, rejects, stats };
}

const count = (events: ChatEvent[], kind: string) => events.filter((e) => e.kind === kind).length;

/** [file, format, messages, timeouts, bans, usernotices, roomstates]; counts from grep/jq (ingest/README.md). */
const EXPECTED: Array<[string, string, number, number, number, number, number]> = [
  ['irc/xqc-2023-04-01.raw.irc', 'raw-irc', 4029, 26, 0, 15, 1],
  ['chatty/cheflethalplays/cheflethalplays1.log', 'chatty', 1697, 2, 2, 0, 0],
  ['chatty/cheflethalplays/cheflethalplays10.log', 'chatty', 1563, 4, 0, 0, 0],
  ['chatty/cheflethalplays/cheflethalplays2.log', 'chatty', 605, 0, 0, 0, 0],
  ['chatty/cheflethalplays/cheflethalplays3.log', 'chatty', 726, 1, 0, 0, 0],
  ['chatty/cheflethalplays/cheflethalplays4.log', 'chatty', 712, 2, 0, 0, 0],
  ['chatty/cheflethalplays/cheflethalplays5.log', 'chatty', 509, 1, 0, 0, 0],
  ['chatty/cheflethalplays/cheflethalplays6.log', 'chatty', 1121, 0, 0, 0, 0],
  ['chatty/cheflethalplays/cheflethalplays8.log', 'chatty', 1139, 0, 0, 0, 0],
  ['chatty/cheflethalplays/cheflethalplays9.log', 'chatty', 337, 3, 0, 0, 0],
  ['chatty/hsdogdog/hsdogdog1.log', 'chatty', 3043, 9, 0, 2, 0],
  ['chatty/hsdogdog/hsdogdog2.log', 'chatty', 4547, 0, 0, 4, 0],
  ['chatty/hsdogdog/hsdogdog3.log', 'chatty', 14167, 19, 3, 4, 0],
  ['chatty/neviilz/neviilz1.log', 'chatty', 1232, 19, 0, 0, 0],
  ['chatty/reckful/reckful1.log', 'chatty', 1542, 18, 0, 1, 0],
  ['chatty/riotgames/riotgames1.log', 'chatty', 43301, 1897, 3, 0, 0],
  ['chatty/tidesoftime/tidesoftime1.log', 'chatty', 1998, 39, 9, 0, 0],
  ['vod-json/gql-verbose/arypie/2021-11-10_15-41-56_1201462028/verbose_chat.json.gz', 'gql', 5584, 0, 0, 0, 0],
  ['vod-json/gql-verbose/arypie/2021-12-05_23-55-28_1225373060/verbose_chat.json.gz', 'gql', 5395, 0, 0, 0, 0],
  ['vod-json/gql-verbose/arypie/2023-03-01_17-19-50_1752668672/verbose_chat.json.gz', 'gql', 4481, 0, 0, 0, 0],
  ['vod-json/gql-verbose/arypie/2024-01-23_04-09-17_2040989125/verbose_chat.json.gz', 'gql', 3919, 0, 0, 0, 0],
  ['vod-json/gql-verbose/arypie/2025-04-03_19-59-39_2423118817/verbose_chat.json.gz', 'gql', 3700, 0, 0, 0, 0],
  ['vod-json/v5-rechat/rechat-103227724.json', 'v5', 2622, 0, 0, 0, 0],
  ['vod-json/v5-rechat/rechat-115328018.json', 'v5', 2862, 0, 0, 0, 0],
  ['vod-json/v5-rechat/rechat-158202424.json', 'v5', 1970, 0, 0, 0, 0],
  ['vod-json/v5-rechat/rechat-84065913.json', 'v5', 3926, 0, 0, 0, 0],
  ['vod-json/v5-rechat/rechat-98355852.json', 'v5', 1632, 0, 0, 0, 0],
];

for (const [rel, format, messages, timeouts, bans, notices, roomstates] of EXPECTED) {
  test(`import ${rel}: ${messages} messages, ${timeouts} timeouts, ${bans} bans, ${notices} user notices; re-import gives the same ids`, { skip }, async () => {
    const file = path.join(DATA, rel);
    assert.equal(await detectFormat(file), format);
    const a = await run(file);
    assert.deepEqual(a.rejects, []);
    assert.equal(count(a.events, 'message'), messages);
    assert.equal(count(a.events, 'timeout'), timeouts);
    assert.equal(count(a.events, 'ban'), bans);
    assert.equal(count(a.events, 'usernotice'), notices);
    assert.equal(count(a.events, 'roomstate'), roomstates);
    assert.equal(a.events.length, messages + timeouts + bans + notices + roomstates);
    const ids = a.events.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, 'two events share an id');
    for (const e of a.events.slice(0, 200)) {
      const v = validateEvent(e);
      assert.ok(v.ok, v.ok ? '' : v.reason);
      assert.equal(e.source, 'import');
    }
    const b = await run(file);
    assert.deepEqual(b.events.map((e) => e.id), ids, 'a second import produced different ids');
  });
}

test('chatty: channel from the log, UTC+8 local times rolling over midnight, identical lines in one second both kept', { skip }, async () => {
  const { events } = await run(path.join(DATA, 'chatty', 'riotgames', 'riotgames1.log'));
  assert.ok(events.every((e) => e.channel === 'riotgames'));
  // "# Log started: 2016-09-30 09:39:38 +0800", first message at [09:39:38] = 01:39:38 UTC.
  assert.equal(events[0].ts, Date.UTC(2016, 8, 30, 1, 39, 38));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-chatty-'));
  const f = path.join(dir, 'x.log');
  fs.writeFileSync(f, '\ufeff# Log started: 2016-09-30 23:59:58 +0800\r\n[23:59:58] Joining #demo..\r\n[23:59:59] <A> same\r\n[23:59:59] <A> same\r\n[00:00:01] <@B>* waves\r\n[00:00:02] BAN: c (600s), d\r\n');
  const r = await run(f);
  fs.rmSync(dir, { recursive: true });
  assert.deepEqual(r.rejects, []);
  assert.equal(count(r.events, 'message'), 3);
  assert.notEqual(r.events[0].id, r.events[1].id);
  const wave = r.events[2];
  assert.ok(wave.kind === 'message' && wave.action && wave.text === 'waves' && wave.login === 'b');
  assert.equal(wave.ts, Date.UTC(2016, 8, 30, 16, 0, 1), 'midnight roll-over');
  assert.deepEqual(r.events.slice(3).map((e) => e.kind), ['timeout', 'ban']);
});

test('chatty: the k-th event of a second is k ms into it, bans included; the ids hash the second, as before', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-chatty-'));
  const f = path.join(dir, 'x.log');
  fs.writeFileSync(f, '# Log started: 2016-09-30 09:39:38 +0800\r\n[09:39:38] Joining #demo..\r\n[09:39:50] <A> same\r\n[09:39:50] <A> same\r\n' +
    '[09:39:50] BAN: c (600s), d\r\n[09:39:50] <E> after\r\n[09:39:51] <A> next\r\n');
  const r = await run(f);
  fs.rmSync(dir, { recursive: true });
  const s = Date.UTC(2016, 8, 30, 1, 39, 50);
  // reads order by (ts, id): file order within the second, and a ban after the chat logged before it
  assert.deepEqual(r.events.map((e) => e.ts - s), [0, 1, 2, 3, 4, 1000]);
  assert.ok(r.events.every((e) => e.received_at === e.ts));
  // a re-import of a log stored by an earlier version (every event at its whole second) gives the same ids
  assert.equal(r.events[1].id, deterministicId('chatty', 'demo', s, 'a', 'same', 1));
  assert.equal(r.events[3].id, deterministicId('chatty-clearchat', 'demo', 'd', s, null, 0));
});

test('fileOrderClock: the k-th event of a run at one time k ms later, never past its second', () => {
  const clock = fileOrderClock();
  const s = Date.UTC(2016, 8, 30, 1, 39, 50);
  const got = Array.from({ length: 1002 }, () => clock(s) - s);
  assert.deepEqual([got[0], got[1], got[998], got[999], got[1000], got[1001]], [0, 1, 998, 999, 999, 999]);
  assert.equal(clock(s + 1000), s + 1000, 'the next second starts at 0');
  // a time that is not a whole second (a GQL export's estimated VOD start): kept within the second it is in
  const half = s + 500;
  const spread = Array.from({ length: 600 }, () => clock(half) - half);
  assert.deepEqual([spread[0], spread[499], spread[599]], [0, 499, 499]);
});

test('chatty: the marks before a name become badges (moderation risk reads them), the login has none', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-chatty-'));
  const f = path.join(dir, 'x.log');
  fs.writeFileSync(f, '\ufeff# Log started: 2016-09-30 10:00:00 +0800\r\n[10:00:00] Joining #demo..\r\n' +
    '[10:00:01] <@^Moobot> Uptime\r\n[10:00:02] <%+Sub> hi\r\n[10:00:03] <~%Owner> yo\r\n[10:00:04] <&+Admin> x\r\n[10:00:05] <plain> Kappa\r\n');
  const r = await run(f);
  fs.rmSync(dir, { recursive: true });
  assert.deepEqual(r.rejects, []);
  const msgs = r.events.filter((e) => e.kind === 'message');
  assert.deepEqual(msgs.map((e) => e.kind === 'message' && [e.login, e.display_name, e.badges]), [
    ['moobot', 'Moobot', { moderator: '1' }],
    ['sub', 'Sub', { subscriber: '0', turbo: '1' }],
    ['owner', 'Owner', { broadcaster: '1', subscriber: '0' }],
    ['admin', 'Admin', { staff: '1', turbo: '1' }],
    ['plain', 'plain', {}],
  ]);
});

/**
 * Later Chatty versions (lines written the way Chatty's ChatLog.java and default settings write them: the date in
 * each time stamp, ban reasons and account ages, DELETED lines, `!` for VIPs, localized names with the login).
 * Before, every one of these lines was rejected or mis-read (a ban with a reason named a user "a (600s) [spam]").
 */
test('chatty, later versions: dated time stamps, ban reasons, deletions, VIP marks, localized names', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-chatty-'));
  const f = path.join(dir, 'x.log');
  fs.writeFileSync(f, '# Log started: 2024-05-01 23:59:58 +0200\n' +
    '[2024-05-01 23:59:58] Joining #demo..\n' +
    '[2024-05-01 23:59:59] <!%Vippy> hi chat\n' +
    '[2024-05-02 00:00:01] <%日本語 (nihongo)>* waves\n' +
    '[2024-05-02 00:00:02] <spammer> buy followers, cheap (really)\n' +
    '[2024-05-02 00:00:03] DELETED: spammer (buy followers, cheap (really))\n' +
    '[2024-05-02 00:00:04] BAN: spammer (600s) [spam, links] {3d}, Vippy, other (60s) {2y}\n' +
    '[2024-05-02 00:00:05] MOD_ACTION: ModA (timeout spammer 600 spam, links)\n' +
    '[2024-05-02 00:00:06] VIEWERS: 1,234\n' +
    '[2024-05-02 00:00:07] BITS: Vippy (100)\n' +
    '[2024-05-02 00:00:08] <@&Boss> ok\n' +
    '[2024-05-02 00:00:09] DELETED: ghost (never logged)\n');
  const r = await run(f);
  fs.rmSync(dir, { recursive: true });
  assert.deepEqual(r.rejects.map((x) => x.source.split(':').pop()), ['12'], 'only the deletion of a message the log never had');
  assert.match(r.rejects[0].reason, /DELETED names a message of ghost/);
  const msgs = r.events.filter((e) => e.kind === 'message');
  assert.deepEqual(msgs.map((e) => e.kind === 'message' && [e.login, e.display_name, e.badges, e.action, e.text]), [
    ['vippy', 'Vippy', { vip: '1', subscriber: '0' }, false, 'hi chat'],
    ['nihongo', '日本語', { subscriber: '0' }, true, 'waves'],
    ['spammer', 'spammer', {}, false, 'buy followers, cheap (really)'],
    ['boss', 'Boss', { staff: '1', moderator: '1' }, false, 'ok'],
  ]);
  assert.equal(msgs[0].ts, Date.UTC(2024, 4, 1, 21, 59, 59), 'local time at +0200');
  assert.equal(msgs[1].ts, Date.UTC(2024, 4, 1, 22, 0, 1), 'the date comes from the line');
  const del = r.events.find((e) => e.kind === 'delete');
  assert.ok(del && del.kind === 'delete');
  assert.equal(del.target_msg_id, msgs[2].id);
  assert.equal(del.text, 'buy followers, cheap (really)');
  const mod = r.events.filter((e) => e.kind === 'ban' || e.kind === 'timeout');
  assert.deepEqual(mod.map((e) => (e.kind === 'timeout' ? [e.target_login, e.duration_s, e.reason] : e.kind === 'ban' ? [e.target_login, null, e.reason] : null)), [
    ['spammer', 600, 'spam, links'],
    ['vippy', null, null],
    ['other', 60, null],
  ]);
  for (const e of r.events) assert.ok(validateEvent(e).ok, JSON.stringify(e));
});

test('chatty, before 2019: `!` is an admin (no VIPs yet)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-chatty-'));
  const f = path.join(dir, 'x.log');
  fs.writeFileSync(f, '# Log started: 2017-03-01 10:00:00 +0000\n[10:00:00] Joining #demo..\n[10:00:01] <!Someone> hi\n[10:00:02] <*Gm> hey\n');
  const r = await run(f);
  fs.rmSync(dir, { recursive: true });
  assert.deepEqual(r.events.map((e) => e.kind === 'message' && e.badges), [{ admin: '1' }, { global_mod: '1' }]);
});

test('GQL: channel from the <channel>/<vod>/ folders, emotes from fragments in code points', { skip }, async () => {
  const { events } = await run(path.join(DATA, 'vod-json/gql-verbose/arypie/2025-04-03_19-59-39_2423118817/verbose_chat.json.gz'));
  assert.ok(events.every((e) => e.channel === 'arypie' && e.kind === 'message'));
  const withEmote = events.find((e) => e.kind === 'message' && e.emotes.length > 0);
  assert.ok(withEmote && withEmote.kind === 'message');
  const cps = [...withEmote.text];
  const em = withEmote.emotes[0];
  assert.ok(cps.slice(em.start, em.end + 1).join('').length > 0 && em.end < cps.length);
});

test('GQL outside the <channel>/<date>_<vod id>/ folders: the file fails asking for --channel (it was stored as chat of the grandparent folder)', { skip }, async () => {
  const src = path.join(DATA, 'vod-json/gql-verbose/arypie/2025-04-03_19-59-39_2423118817/verbose_chat.json.gz');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-gqldir-'));
  try {
    const loose = path.join(dir, 'exports', 'chat.json.gz');
    fs.mkdirSync(path.dirname(loose), { recursive: true });
    fs.copyFileSync(src, loose);
    await assert.rejects(run(loose), /the export does not name its channel; pass --channel/);
    const named = await run(loose, { channel: 'arypie' });
    assert.equal(named.events.length, 3700);
    // the downloader's layout under any parent: the VOD folder ends with the comments' contentId
    const laidOut = path.join(dir, 'somechannel', '2025-04-03_19-59-39_2423118817', 'verbose_chat.json.gz');
    fs.mkdirSync(path.dirname(laidOut), { recursive: true });
    fs.copyFileSync(src, laidOut);
    assert.ok((await run(laidOut)).events.every((e) => e.channel === 'somechannel'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('GQL export whose createdAt is not when messages were sent (arypie 2021): timed at vod.json\'s start plus the offsets', { skip }, async () => {
  const dir = path.join(DATA, 'vod-json/gql-verbose/arypie/2021-11-10_15-41-56_1201462028');
  const { events, stats, rejects } = await run(path.join(dir, 'verbose_chat.json.gz'));
  assert.deepEqual(rejects, []);
  const start = Date.parse(JSON.parse(fs.readFileSync(path.join(dir, 'vod.json'), 'utf8')).created_at);
  const times = events.map((e) => e.ts);
  // as given, 5,584 messages of a 10-hour stream fell within 11 s
  assert.equal(times[0], start + 21_000);
  // the last comment is the second at its offset: 1 ms into that second, so reads by time keep the file's order
  assert.equal(times.at(-1), start + 35_990_001);
  assert.ok(times.every((t, i) => i === 0 || t > times[i - 1]), 'in file order, none sharing a millisecond');
  assert.equal(events[0].tags[EXPORT_TIME_TAG], '2021-11-10T15:47:11.8164316Z');
  assert.equal(stats.notes.length, 1);
  assert.match(stats.notes[0], /^5584 messages timed at the VOD's start 2021-11-10T15:41:56\.000Z \(vod\.json's created_at\) plus contentOffsetSeconds: their createdAt spans 10\.7 s for 35969 s of VOD,/);
  // a sound export (2025) keeps its createdAt, milliseconds included
  const sound = await run(path.join(DATA, 'vod-json/gql-verbose/arypie/2025-04-03_19-59-39_2423118817/verbose_chat.json.gz'));
  assert.equal(sound.events[0].ts, Date.parse('2025-04-03T20:00:06.315Z'));
  assert.deepEqual(sound.stats.notes, []);
  assert.equal(sound.events[0].tags[EXPORT_TIME_TAG], '2025-04-03T20:00:06.315Z', 'the export time is kept on every GQL message');
});

test('GQL export with a stalled createdAt: start estimated without vod.json, held comments published when the file breaks', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-gqlclock-'));
  try {
    const vod = path.join(dir, 'demo', '2021-01-01_00-00-00_555');
    fs.mkdirSync(vod, { recursive: true });
    // 40 comments a minute apart in the VOD, createdAt 5 ms apart from 00:07:00.5
    const comments = Array.from({ length: 40 }, (_, i) => ({
      id: `c${i}`,
      createdAt: new Date(Date.UTC(2021, 0, 1, 0, 7, 0, 500 + 5 * i)).toISOString(),
      contentId: '555',
      contentOffsetSeconds: 30 + 60 * i,
      commenter: { id: '9', login: 'viewer', displayName: 'Viewer' },
      message: { fragments: [{ text: `hi ${i}` }] },
    }));
    const file = path.join(vod, 'chat.json');
    fs.writeFileSync(file, JSON.stringify(comments));
    const est = await run(file);
    assert.equal(est.events.length, 40);
    assert.equal(est.events[0].ts, Date.UTC(2021, 0, 1, 0, 7, 0, 500), 'the start is the first createdAt minus its offset');
    assert.equal(est.events[39].ts - est.events[0].ts, 39 * 60_000);
    assert.match(est.stats.notes[0], /^40 messages timed .*estimated from the first comment/);
    fs.writeFileSync(path.join(vod, 'vod.json'), JSON.stringify({ vod_id: '555', created_at: '2021-01-01T00:00:00Z' }));
    assert.equal((await run(file)).events[0].ts, Date.UTC(2021, 0, 1, 0, 0, 30));
    // a created_at without a zone is UTC whatever the machine's zone (Date.parse read it in the local one)
    fs.writeFileSync(path.join(vod, 'vod.json'), JSON.stringify({ vod_id: '555', created_at: '2021-01-01T00:00:00' }));
    const tz = process.env.TZ;
    process.env.TZ = 'Asia/Shanghai';
    try {
      assert.equal((await run(file)).events[0].ts, Date.UTC(2021, 0, 1, 0, 0, 30));
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
    fs.writeFileSync(path.join(vod, 'vod.json'), JSON.stringify({ vod_id: '556', created_at: '2021-01-01T00:00:00Z' }));
    assert.equal((await run(file)).events[0].ts, Date.UTC(2021, 0, 1, 0, 7, 0, 500), "another VOD's vod.json is not used");
    // cut inside comment 5: held back while undecided, the first 5 are still published (4 minutes of VOD: retimed)
    const whole = JSON.stringify(comments);
    fs.writeFileSync(file, whole.slice(0, whole.indexOf('{"id":"c5"') + 20));
    const events: ChatEvent[] = [];
    await assert.rejects(importFile(file, (e) => void events.push(e)), /truncated/);
    assert.deepEqual(events.map((e) => e.id), ['c0', 'c1', 'c2', 'c3', 'c4']);
    assert.equal(events[4].ts - events[0].ts, 4 * 60_000);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('TwitchDownloader fixture: 3 messages with ids, badges, emotes (code points), bits; channel from streamer.name', async () => {
  assert.equal(await detectFormat(FIXTURE_TD), 'twitchdownloader');
  const { events, rejects } = await run(FIXTURE_TD);
  assert.deepEqual(rejects, []);
  assert.equal(events.length, 3);
  const [a, b, c] = events;
  assert.ok(a.kind === 'message' && b.kind === 'message' && c.kind === 'message');
  assert.equal(a.id, '1c0f4b0e-0001-4a5e-9b1e-000000000001');
  assert.equal(a.channel, 'twichist_demo');
  assert.equal(a.channel_id, '123456789');
  assert.equal(a.login, 'alice_example');
  assert.deepEqual(a.badges, { subscriber: '12', premium: '1' });
  assert.deepEqual(a.emotes, [{ id: '25', start: 11, end: 15 }]);
  assert.equal(a.ts, Date.parse('2024-05-01T09:00:05.120Z'));
  assert.deepEqual(b.emotes, [{ id: '25', start: 2, end: 6 }], 'emoji counts as one code point');
  assert.equal(b.bits, 100);
  assert.equal(b.display_name, 'ボブ');
  assert.equal(c.text, 'a "quoted" {brace} [bracket] message');
});

test('corrupt lines mid-way: good lines are imported, bad ones reported with line numbers', { skip }, async () => {
  const src = fs.readFileSync(path.join(DATA, 'irc', 'xqc-2023-04-01.raw.irc'), 'utf8').split('\r\n');
  const lines = [...src.slice(0, 100), 'garbage without a command \u0000', '@tmi-sent-ts=notanumber :a!a@a.tmi.twitch.tv PRIVMSG #xqc :x', ...src.slice(100, 200), '@a=b PRIVMSG', ...src.slice(200)];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-bad-'));
  const file = path.join(dir, 'bad.irc.gz');
  fs.writeFileSync(file, zlib.gzipSync(lines.join('\n')));
  try {
    const { events, rejects, stats } = await run(file);
    assert.equal(count(events, 'message'), 4029);
    assert.equal(stats.rejected, 3);
    assert.deepEqual(rejects.map((r) => r.source), [`${file}:101`, `${file}:102`, `${file}:203`]);
    assert.match(rejects[1].reason, /tmi-sent-ts/);
    assert.ok(rejects.every((r) => r.payload.length > 0 && r.reason.length > 0));
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test('raw IRC: untimed lines at the top (a ROOMSTATE after JOIN) take the first time of the file, never 1970', { skip }, async () => {
  // the #xqc capture starts with the connection preamble and a ROOMSTATE without tmi-sent-ts or a time prefix
  const { events } = await run(path.join(DATA, 'irc', 'xqc-2023-04-01.raw.irc'));
  const rs = events.find((e) => e.kind === 'roomstate')!;
  const firstTimed = events.find((e) => e.kind !== 'roomstate')!;
  assert.equal(rs.ts, firstTimed.ts, 'the ROOMSTATE takes the time of the first timed line');
  assert.ok(events.every((e) => e.ts >= Date.UTC(2023, 3, 1)), 'nothing stored at 1970');
  // a file in which no line has a time: its events are rejected with the reason, not stored at 1970
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-notime-'));
  const file = path.join(dir, 'notime.irc');
  fs.writeFileSync(file, ':tmi.twitch.tv 001 justinfan1 :Welcome, GLHF!\r\n@emote-only=0;room-id=1;slow=0 :tmi.twitch.tv ROOMSTATE #demo\r\n');
  try {
    const r = await run(file);
    assert.equal(r.events.length, 0);
    assert.deepEqual(r.rejects.map((x) => [x.source.split(':').pop(), /^no time/.test(x.reason)]), [['2', true]]);
    assert.equal(r.stats.ignored, 1, 'the welcome line is not an event either way');
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test('corrupt JSON records mid-way: good comments imported, bad ones reported by index', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-badjson-'));
  const file = path.join(dir, 'td.json');
  const td = JSON.parse(fs.readFileSync(FIXTURE_TD, 'utf8')) as { comments: unknown[] };
  td.comments.splice(1, 0, { _id: 'no-commenter', created_at: '2024-05-01T09:00:06Z', message: { body: 'x' } }, { _id: 'bad-time', created_at: 'yesterday', commenter: { name: 'z' }, message: { body: 'y' } });
  fs.writeFileSync(file, JSON.stringify(td));
  try {
    const { events, rejects } = await run(file);
    assert.equal(events.length, 3);
    assert.deepEqual(rejects.map((r) => r.source), [`${file}:#1`, `${file}:#2`]);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

// Bad input (fuzz8 audit): every case is either imported, or a rejection with file:line / file:#index and a reason,
// or a failed file with the reason; nothing is dropped without a word.

const tdComment = (id: string, createdAt: unknown, body = 'hi') => ({ _id: id, created_at: createdAt, commenter: { _id: '1', name: 'a', display_name: 'A' }, message: { body } });

test('bad times: 1970, 2100, numbers and "-5" are rejected with file:#index / file:line, not stored as chat of that year', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-badtime-'));
  try {
    const td = path.join(dir, 'td.json');
    const comments = [tdComment('ok', '2024-05-01T09:00:05Z'), tdComment('epoch', '1970-01-01T00:00:00Z'), tdComment('future', '2100-01-01T00:00:00Z'), tdComment('neg', -5), tdComment('num', 12345), tdComment('far', '+275760-09-13T00:00:00Z')];
    fs.writeFileSync(td, JSON.stringify({ streamer: { name: 'demo', id: 1 }, comments }));
    const j = await run(td);
    assert.deepEqual(j.events.map((e) => e.id), ['ok']);
    assert.deepEqual(j.rejects.map((r) => r.source), [1, 2, 3, 4, 5].map((i) => `${td}:#${i}`));
    assert.match(j.rejects[0].reason, /time 1970-01-01T00:00:00.000Z is outside 2007-01-01 \.\. now/);
    assert.match(j.rejects[2].reason, /bad or missing created_at/, '-5 was read by Date.parse as 2001-05-01');
    // Chatty: a header dated 1970 and a message longer than the store takes (enrich dead-lettered it under a bus id)
    const log = path.join(dir, 'chatty.log');
    fs.writeFileSync(log, ['# Log started: 1970-01-01 00:00:00 +0000', '[00:00:01] Joining #demo..', '[00:00:02] <a> old', '# Log started: 2024-05-01 00:00:00 +0000', `[00:00:03] <a> ${'x'.repeat(30_000)}`, '[00:00:04] <a> fine', ''].join('\n'));
    const c = await run(log);
    assert.deepEqual(c.events.map((e) => (e as { text: string }).text), ['fine']);
    assert.deepEqual(c.rejects.map((r) => [r.source, /outside 2007-01-01/.test(r.reason) || /text: Too big/.test(r.reason)]), [[`${log}:3`, true], [`${log}:5`, true]]);
    assert.equal(c.stats.rejected, 2);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test('truncated input fails the file with the reason: JSON cut between elements, a .gz cut short, an object without "comments"', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-trunc-'));
  try {
    const whole = JSON.stringify({ streamer: { name: 'demo', id: 1 }, comments: [1, 2, 3].map((i) => tdComment(`c${i}`, '2024-05-01T09:00:05Z')) });
    const cut = path.join(dir, 'cut.json');
    fs.writeFileSync(cut, whole.slice(0, whole.indexOf('{"_id":"c3"') - 1)); // ends after c2's `}` and its comma
    const got: ChatEvent[] = [];
    await assert.rejects(importFile(cut, (e) => void got.push(e)), /ends before its "comments" array and object are closed, after 2 elements: the file is truncated/);
    assert.equal(got.length, 2, 'the comments before the cut are still read');
    const noArray = path.join(dir, 'noarray.json');
    fs.writeFileSync(noArray, JSON.stringify({ streamer: { name: 'demo' }, comments: { c1: tdComment('c1', '2024-05-01T09:00:05Z') } }));
    await assert.rejects(importFile(noArray, () => {}), /no "comments" array/);
    // a .gz cut inside the first 64 KB was "not a supported chat format" (the peek failed) and skipped
    const gz = path.join(dir, 'cut.json.gz');
    const full = zlib.gzipSync(whole);
    fs.writeFileSync(gz, full.subarray(0, full.length - 20));
    assert.equal(await detectFormat(gz), 'twitchdownloader');
    await assert.rejects(importFile(gz, () => {}), /corrupt gzip data .*the file is truncated/);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test('listing a folder: links followed once (a loop ends), a broken link, a pipe and an unreadable .gz are failures with the reason', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-list-'));
  try {
    const td = JSON.stringify({ streamer: { name: 'demo', id: 1 }, comments: [tdComment('c1', '2024-05-01T09:00:05Z')] });
    fs.mkdirSync(path.join(dir, 'real'));
    fs.writeFileSync(path.join(dir, 'real', 'a.json'), td);
    fs.writeFileSync(path.join(dir, 'outside.json'), td);
    const top = path.join(dir, 'top');
    fs.mkdirSync(top);
    fs.symlinkSync(path.join(dir, 'outside.json'), path.join(top, 'linked.json')); // was neither imported nor reported
    fs.symlinkSync(path.join(dir, 'real'), path.join(top, 'dir1'));
    fs.symlinkSync(path.join(dir, 'real'), path.join(top, 'dir2')); // the same folder again: read once
    fs.symlinkSync(top, path.join(top, 'loop'));
    fs.symlinkSync(path.join(dir, 'missing.json'), path.join(top, 'broken.json'));
    execFileSync('mkfifo', [path.join(top, 'pipe.irc')]);
    fs.writeFileSync(path.join(top, 'bad.gz'), Buffer.from([0x1f, 0x8b, 0x99, 0x00, 0x01, 0x02]));
    fs.writeFileSync(path.join(top, 'notes.txt'), 'not chat');
    const { files, skipped, failed } = await listImportFiles(top);
    assert.deepEqual(files.map((f) => path.relative(top, f.file)), ['dir1/a.json', 'linked.json']);
    assert.deepEqual(skipped.map((f) => path.relative(top, f)), ['notes.txt']);
    assert.deepEqual(failed.map((f) => [path.relative(top, f.file), f.error.split(' (')[0].split(':')[0]]), [['broken.json', 'broken symbolic link'], ['pipe.irc', 'not a regular file'], ['bad.gz', 'cannot read']]);
    // a pipe as the target: a clear error, not a hang on open and not a peek that eats its first chunk
    await assert.rejects(importFile(path.join(top, 'pipe.irc'), () => {}), /not a regular file/);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test('bytes that are not UTF-8 (a Latin-1 log): those lines are rejected with the fix, and the converted file adds exactly them', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-latin1-'));
  try {
    const head = '# Log started: 2024-05-01 00:00:00 +0000\n[00:00:01] Joining #demo..\n';
    const file = path.join(dir, 'latin1.log');
    // é as Latin-1 (one byte 0xE9) was stored as "caf\uFFFD" without a word
    fs.writeFileSync(file, Buffer.concat([Buffer.from(`${head}[00:00:02] <a> caf`), Buffer.from([0xe9]), Buffer.from('\n[00:00:03] <b> ok ☕\n[00:00:04] <c> plain\n')]));
    const r = await run(file);
    assert.deepEqual(r.events.map((e) => (e as { text: string }).text), ['ok ☕', 'plain']);
    assert.deepEqual(r.rejects.map((x) => x.source), [`${file}:3`]);
    assert.match(r.rejects[0].reason, /not UTF-8 .*iconv/);
    const fixed = path.join(dir, 'utf8.log');
    fs.writeFileSync(fixed, `${head}[00:00:02] <a> café\n[00:00:03] <b> ok ☕\n[00:00:04] <c> plain\n`);
    const f = await run(fixed);
    const before = new Set(r.events.map((e) => e.id));
    assert.deepEqual(f.events.filter((e) => !before.has(e.id)).map((e) => (e as { text: string }).text), ['café'], 're-import adds exactly the rejected line');
    // JSON: the element holding the bytes
    const td = path.join(dir, 'td.json');
    const json = JSON.stringify({ streamer: { name: 'demo', id: 1 }, comments: [tdComment('c1', '2024-05-01T09:00:05Z', 'caf#'), tdComment('c2', '2024-05-01T09:00:06Z')] });
    const bytes = Buffer.from(json);
    bytes[bytes.indexOf('caf#') + 3] = 0xe9;
    fs.writeFileSync(td, bytes);
    const j = await run(td);
    assert.deepEqual(j.events.map((e) => e.id), ['c2']);
    assert.deepEqual(j.rejects.map((x) => x.source), [`${td}:#0`]);
    // valid UTF-8 split across read chunks is no rejection: a 3-byte character straddling every 64 KB boundary
    const utf8 = path.join(dir, 'utf8.log.gz');
    const body = Array.from({ length: 4000 }, (_, i) => `[00:00:${String(i % 60).padStart(2, '0')}] <a> ${'☕'.repeat(20 + (i % 7))}`).join('\n');
    fs.writeFileSync(utf8, zlib.gzipSync(`# Log started: 2024-05-01 00:00:00 +0000\n[00:00:00] Joining #demo..\n${body}\n`));
    const u = await run(utf8);
    assert.equal(u.events.length, 4000);
    assert.deepEqual(u.rejects, []);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test('format detection closes what it opened (a folder of thousands of files must not run out of descriptors)', { skip: process.platform !== 'linux' && 'needs /proc/self/fd' }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-fds-'));
  try {
    const plain = path.join(dir, 'big.irc');
    const line = '@id=x;tmi-sent-ts=1700000000000 :a!a@a.tmi.twitch.tv PRIVMSG #c :hello\n';
    fs.writeFileSync(plain, line.repeat(20_000)); // > 64 KB: the peek stops before the end
    const gz = path.join(dir, 'big.irc.gz');
    fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(plain)));
    const open = () => fs.readdirSync('/proc/self/fd').length;
    const before = open();
    for (let i = 0; i < 40; i++) {
      await peekText(plain);
      await peekText(gz);
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(open() - before <= 2, `descriptors left open: ${open() - before}`);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});
