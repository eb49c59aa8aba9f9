/**
 * justlog logs of an imported Chatty log (a few lines written here in Chatty's format, no ../shared/data needed):
 * - a timeout logged in the second of the message that drew it comes after that message (Chatty times are
 *   seconds, and the ids alone listed every such timeout first: 1,033 of riotgames1's 1,900 bans and timeouts);
 * - the latest-month redirect of a user whose login is a display name in another script is a 302 to the
 *   encoded path (a raw one in Location was a 500);
 * - a log with nothing in it (a day without chat, a channel never logged, a user's silent month) is a 404 as
 *   in justlog ("could not load logs"), not a 200 with an empty body.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app.ts';
import type { ChatEvent } from '../../core/events.ts';
import { createLogger } from '../../core/logger.ts';
import { importFile } from '../../ingest/importers/index.ts';
import { testDatabase, type TestDatabase } from '../support/clickhouse.ts';
import { storeEvents } from './support/load.ts';

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

let db: TestDatabase;
let app: FastifyInstance;
let tmp: string;

before(async () => {
  db = await testDatabase();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-justlog-order-'));
  const file = path.join(tmp, 'modchan.log');
  fs.writeFileSync(file, LOG);
  const events: ChatEvent[] = [];
  await importFile(file, (e) => {
    events.push(e);
  });
  assert.equal(events.length, 6);
  await storeEvents(db.config, db.client, events);
  app = await buildApp({ config: db.config, logger: createLogger('silent'), client: db.client, rateLimit: false });
  await app.ready();
});
after(async () => {
  await app?.close();
  await db?.client.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
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
