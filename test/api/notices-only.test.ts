/**
 * A channel whose only stored chat is user notices (subs, raids: an import of such lines, a capture that began
 * with a sub train) and a user whose only lines in a channel are notices: the API knows them and justlog's `/list`
 * lists the logs its day and user logs serve. Before, the known-channel check read chat rollups only (every
 * channel-filtered route answered 404 "nothing stored for it") and `/list` read messages only (`[]`, while
 * `/channel/{c}/{y}/{m}/{d}` served the notices).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { appOver, importText } from './support/setup.ts';

const notice = (id: string, login: string, ts: number, msgId: string) =>
  `@badge-info=;badges=;color=;display-name=${login};emotes=;id=${id};login=${login};mod=0;msg-id=${msgId};room-id=71092938;system-msg=${login}\\sdid\\s${msgId};tmi-sent-ts=${ts};user-id=${id.length}21156 :tmi.twitch.tv USERNOTICE #subsonly`;
const TS = Date.UTC(2020, 6, 12, 9, 12, 35);

let app: FastifyInstance;
let close: (() => Promise<void>) | undefined;

before(async () => {
  const events = await importText([notice('n-1', 'gutrin', TS, 'sub'), notice('n-22', 'raider', TS + 86_400_000 * 40, 'raid')].join('\r\n') + '\r\n');
  assert.deepEqual(events.map((e) => e.kind), ['usernotice', 'usernotice']);
  ({ app, close } = await appOver(events));
});
after(async () => {
  await close?.();
});

describe('a channel with only user notices', () => {
  it('is known: its routes answer, not 404 "nothing stored for it"', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/v1/users/gutrin/messages?channel=subsonly' });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/users/gutrin/messages?channel=nosuchchan' })).statusCode, 404);
  });
  it('justlog /list names the days and months its logs serve', async () => {
    const days = await app.inject({ method: 'GET', url: '/list?channel=subsonly' });
    assert.deepEqual(JSON.parse(days.body), { availableLogs: [{ year: '2020', month: '8', day: '21' }, { year: '2020', month: '7', day: '12' }] });
    const months = await app.inject({ method: 'GET', url: '/list?channel=subsonly&user=gutrin' });
    assert.deepEqual(JSON.parse(months.body), { availableLogs: [{ year: '2020', month: '7' }] });
    const log = await app.inject({ method: 'GET', url: '/channel/subsonly/user/gutrin/2020/7?json' });
    assert.equal(log.statusCode, 200, log.body);
    assert.deepEqual(JSON.parse(log.body).messages.map((m: { type: number }) => m.type), [4]);
  });
});
