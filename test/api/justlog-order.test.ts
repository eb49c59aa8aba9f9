/**
 * justlog logs of an imported Chatty log (a few lines written here in Chatty's format, no ../shared/data needed):
 * - a timeout logged in the second of the message that drew it comes after that message (Chatty times are
 *   seconds, and the ids alone listed every such timeout first: 1,033 of riotgames1's 1,900 bans and timeouts);
 * - the lines of one second read back in the log's order, bans in place, from /api/v1/messages and the day log
 *   (the importer puts the k-th event of a second k ms into it; reads order by (ts, id), and the ids alone had
 *   reordered 4,695 of riotgames1's 4,877 seconds with more than one message), also riotgames1's 09:39:50 when
 *   ../shared/data is there; the day's ?raw export imported again keeps both identical bans of that second;
 * - the latest-month redirect of a user whose login is a display name in another script is a 302 to the
 *   encoded path (a raw one in Location was a 500);
 * - a log with nothing in it (a day without chat, a channel never logged, a user's silent month) is a 404 as
 *   in justlog ("could not load logs"), not a 200 with an empty body.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { ChatEvent } from '../../core/events.ts';
import { ChattyLineReader } from '../../ingest/importers/chatty.ts';
import { importFile } from '../../ingest/importers/index.ts';
import { SHARED_DATA } from '../support/paths.ts';
import { appOver, importText } from './support/setup.ts';

const CJK = '永和內馬爾';
const LOG = [
  '# Log started: 2016-09-30 09:39:38 +0800',
  '[09:39:38] Joining #modchan..',
  '[10:01:27] <Bystander> before',
  '[10:01:28] <SpamUser> spam spam spam',
  '[10:01:28] BAN: SpamUser (60s)',
  '[10:01:29] <Bystander> after',
  `[10:01:30] <${CJK}> 你好`,
  `[10:01:31] BAN: ${CJK} (600s)`,
  '',
].join('\r\n');

/** One busy second (10:05:00 local, 02:05:00 UTC) in an order no id order gives (checked below). */
const ORDER_LOG = [
  '# Log started: 2016-09-30 09:39:38 +0800',
  '[09:39:38] Joining #orderchan..',
  '[10:04:59] <Zulu> before',
  '[10:05:00] <Alpha> one',
  '[10:05:00] <Bravo> two',
  '[10:05:00] <Charlie> three',
  '[10:05:00] BAN: Charlie (600s)',
  '[10:05:00] <Delta> four',
  '[10:05:00] <Echo> five',
  '[10:05:00] BAN: Charlie (600s)',
  '[10:05:00] <Foxtrot> six',
  '[10:05:01] <Alpha> after',
  '',
].join('\r\n');
const ORDER_SECOND = '[2016-09-30 02:05:00] #orderchan ';
const ORDER_LINES = ['alpha: one', 'bravo: two', 'charlie: three', 'charlie has been timed out for 600 seconds', 'delta: four', 'echo: five', 'charlie has been timed out for 600 seconds', 'foxtrot: six'];

const RIOT_LOG = path.join(SHARED_DATA, 'chatty', 'riotgames', 'riotgames1.log');
/** riotgames1's [09:39:50] (lines 156-170, local UTC+8): only it and the seconds either side are stored. */
const RIOT_SECOND = Date.UTC(2016, 8, 30, 1, 39, 50);
const riotSkip = fs.existsSync(RIOT_LOG) ? false : `skipped: ${RIOT_LOG} is absent (../shared/data is not part of the repo; CI has it): only the synthetic log's order was checked`;

/** The log's lines of one second as the justlog text writes them, in the log's order (read by the importer's reader). */
function secondAsJustlog(file: string, second: number): string[] {
  const reader = new ChattyLineReader();
  const out: string[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    const r = reader.read(line);
    if ((r.type !== 'message' && r.type !== 'bans') || r.ts !== second) continue;
    if (r.type === 'message') out.push(`${r.login}: ${r.text}`);
    else for (const b of r.entries) out.push(b.duration === null ? `${b.login} has been banned` : `${b.login} has been timed out for ${b.duration} seconds`);
  }
  return out;
}

let app: FastifyInstance;
let close: (() => Promise<void>) | undefined;

before(async () => {
  const events = await importText(LOG);
  assert.equal(events.length, 6);
  // the same log as versions before the second order stored it (every event at its whole second): exact ties
  events.push(...events.map((e) => ({ ...e, channel: 'tiechan', id: `tiechan:${e.id}`, ts: Math.floor(e.ts / 1000) * 1000, received_at: Math.floor(e.ts / 1000) * 1000 }) as ChatEvent));
  events.push(...(await importText(ORDER_LOG)));
  if (!riotSkip) {
    await importFile(RIOT_LOG, (e) => {
      if (Math.abs(Math.floor(e.ts / 1000) * 1000 - RIOT_SECOND) <= 1000) events.push(e);
    });
  }
  ({ app, close } = await appOver(events));
});
after(async () => {
  await close?.();
});

describe('justlog logs of second-precision imports', () => {
  it('list a timeout after the message of its second, in day and user logs, and first with ?reverse', async () => {
    const day = await app.inject({ method: 'GET', url: '/channel/modchan/2016/9/30' });
    assert.equal(day.statusCode, 200, day.body);
    assert.deepEqual(day.body.trimEnd().split('\n'), [
      '[2016-09-30 02:01:27] #modchan bystander: before',
      '[2016-09-30 02:01:28] #modchan spamuser: spam spam spam',
      '[2016-09-30 02:01:28] #modchan spamuser has been timed out for 60 seconds',
      '[2016-09-30 02:01:29] #modchan bystander: after',
      `[2016-09-30 02:01:30] #modchan ${CJK}: 你好`,
      `[2016-09-30 02:01:31] #modchan ${CJK} has been timed out for 600 seconds`,
    ]);
    const user = await app.inject({ method: 'GET', url: '/channel/modchan/user/spamuser/2016/9?json' });
    assert.deepEqual(JSON.parse(user.body).messages.map((m: { type: number }) => m.type), [1, 2]);
    const reversed = await app.inject({ method: 'GET', url: '/channel/modchan/user/spamuser/2016/9?json&reverse' });
    assert.deepEqual(JSON.parse(reversed.body).messages.map((m: { type: number }) => m.type), [2, 1]);
  });

  it('at an exact tie (rows stored at whole seconds by earlier versions) list chat before bans, whatever the ids', async () => {
    const day = await app.inject({ method: 'GET', url: '/channel/tiechan/2016/9/30' });
    assert.equal(day.statusCode, 200, day.body);
    const lines = day.body.trimEnd().split('\n');
    // by id alone ('tiechan:chatty-clearchat:...' < 'tiechan:chatty:...') the timeout would come first
    assert.deepEqual(lines.slice(1, 3), ['[2016-09-30 02:01:28] #tiechan spamuser: spam spam spam', '[2016-09-30 02:01:28] #tiechan spamuser has been timed out for 60 seconds']);
  });

  it("list one second's lines in the log's order, bans in place: the day log and /api/v1/messages, page by page", async () => {
    const day = await app.inject({ method: 'GET', url: '/channel/orderchan/2016/9/30' });
    assert.equal(day.statusCode, 200, day.body);
    const lines = day.body.trimEnd().split('\n');
    assert.deepEqual(lines.filter((l) => l.startsWith(ORDER_SECOND)).map((l) => l.slice(ORDER_SECOND.length)), ORDER_LINES);
    assert.equal(lines.length, 10);
    const page = await app.inject({ method: 'GET', url: '/api/v1/messages?channel=orderchan&from=2016-09-30T02:05:00Z&to=2016-09-30T02:05:01Z&limit=100' });
    assert.equal(page.statusCode, 200, page.body);
    const items = (JSON.parse(page.body) as { items: Array<{ id: string; login: string; ts: string }> }).items;
    const logins = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];
    assert.deepEqual(items.map((m) => m.login).reverse(), logins, 'newest first: the log order reversed');
    // what the order was before: the ids (hashes) alone decided it within the second
    assert.notDeepEqual([...items].sort((a, b) => (a.id < b.id ? -1 : 1)).map((m) => m.login), logins, 'the ids alone would give the log order: pick other names');
    // the keyset pages through the second in the same order
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const r = await app.inject({ method: 'GET', url: `/api/v1/messages?channel=orderchan&from=2016-09-30T02:05:00Z&to=2016-09-30T02:05:01Z&limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}` });
      const b = JSON.parse(r.body) as { items: Array<{ login: string }>; next_cursor: string | null };
      paged.push(...b.items.map((m) => m.login));
      cursor = b.next_cursor;
    } while (cursor !== null);
    assert.deepEqual(paged.reverse(), logins);
  });

  it("list riotgames1's 09:39:50 in the log's order: the day log with its bans, and /api/v1/messages", { skip: riotSkip }, async () => {
    const riotDay = await app.inject({ method: 'GET', url: '/channel/riotgames/2016/9/30' });
    assert.equal(riotDay.statusCode, 200, riotDay.body);
    const prefix = '[2016-09-30 01:39:50] #riotgames ';
    const expected = secondAsJustlog(RIOT_LOG, RIOT_SECOND);
    // 13 messages and a timeout logged twice, the first after the second's third message (the log's text stays in ../shared)
    assert.equal(expected.length, 15);
    assert.deepEqual(expected.flatMap((l, i) => (l.endsWith(' has been timed out for 600 seconds') ? [i] : [])), [3, 14]);
    assert.deepEqual(riotDay.body.trimEnd().split('\n').filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length)), expected);
    const riot = await app.inject({ method: 'GET', url: '/api/v1/messages?channel=riotgames&from=2016-09-30T01:39:50Z&to=2016-09-30T01:39:51Z&limit=100' });
    const riotLogins = (JSON.parse(riot.body) as { items: Array<{ login: string }> }).items.map((m) => m.login).reverse();
    assert.deepEqual(riotLogins, expected.filter((l) => !l.includes(' has been ')).map((l) => l.slice(0, l.indexOf(':'))));
  });

  it("keeps a second's identical bans through the day's ?raw export imported again (rebuilt lines carry their milliseconds)", async () => {
    const raw = await app.inject({ method: 'GET', url: '/channel/orderchan/2016/9/30?raw' });
    assert.equal(raw.statusCode, 200, raw.body);
    const back = await importText(raw.body);
    const bans = back.filter((e) => e.kind === 'timeout');
    assert.equal(bans.length, 2);
    assert.equal(new Set(bans.map((e) => e.id)).size, 2, 'two ids: the second ban is not dropped as the first one again');
    assert.deepEqual(back.filter((e) => e.kind === 'message').map((e) => e.kind === 'message' && e.login), ['zulu', 'alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'alpha']);
  });

  it("redirects a user's latest month to the encoded path when the login is not ASCII", async () => {
    const red = await app.inject({ method: 'GET', url: `/channel/modchan/user/${encodeURIComponent(CJK)}?json` });
    assert.equal(red.statusCode, 302, red.body);
    assert.equal(red.headers.location, `/channel/modchan/user/${encodeURIComponent(CJK)}/2016/9?json`);
    const log = await app.inject({ method: 'GET', url: String(red.headers.location) });
    assert.equal(log.statusCode, 200, log.body);
    assert.deepEqual(JSON.parse(log.body).messages.map((m: { text: string }) => m.text), ['你好', `${CJK} has been timed out for 600 seconds`]);
  });

  it('answers a log with nothing in it as justlog does: 404 "could not load logs", whatever the format', async () => {
    const empty = {
      '/channel/modchan/2016/9/29': '#modchan on 2016-9-29',
      '/channel/modchan/2016/9/29?json': '#modchan on 2016-9-29',
      '/channel/nosuch/2016/9/30?raw': '#nosuch on 2016-9-30',
      '/channel/modchan/user/bystander/2016/8?json': 'bystander in #modchan in 2016-8',
    };
    for (const [url, what] of Object.entries(empty)) {
      const r = await app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 404, `${url}: ${r.body}`);
      assert.deepEqual(JSON.parse(r.body), { error: 'not_found', message: `could not load logs: nothing is stored for ${what}`, details: null }, url);
    }
  });
});
