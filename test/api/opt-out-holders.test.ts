/**
 * Opt-out: whose rows and dead letters it takes (api/privacy.ts `isHolders`, core/privacy.ts
 * `deadLetterAuthor`) and how other users' dead letters are redacted (`redactDeadLetter`). Calls
 * `optOut` with no settle wait: no enrich runs here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { optOut } from '../../api/privacy.ts';
import { rows } from '../../api/db.ts';
import type { UserNotice } from '../../core/events.ts';
import { createLogger } from '../../core/logger.ts';
import { deadLetterAuthor, namesMatcher, redactDeadLetter } from '../../core/privacy.ts';
import { testDatabase } from '../support/clickhouse.ts';
import { storeEvents } from './support/load.ts';
import { chatMessage, T0 } from '../enrich/support/events.ts';

describe('dead letter redaction (pure)', () => {
  const re = namesMatcher(['bob', 'user', '990000010'])!;
  it('a mention followed by an emote is chat text, not an IRC line: the name goes', () => {
    for (const [text, out] of [
      ['@user LUL', '@[opted-out] LUL'],
      ['@User W', '@[opted-out] W'],
      ['@bob KEKW bob', '@[opted-out] KEKW [opted-out]'],
      [':bob W', ':[opted-out] W'],
    ]) {
      assert.equal(redactDeadLetter(text, re), out);
      assert.equal(redactDeadLetter(JSON.stringify({ login: 'carl', text }), re), JSON.stringify({ login: 'carl', text: out }));
    }
  });
  it('an IRC line keeps its separators; one not naming the user is left byte for byte', () => {
    const line = '@display-name=Carl;room-id=990000010;user-id=5  :carl!carl@carl.tmi.twitch.tv  PRIVMSG #bob :hi';
    assert.equal(redactDeadLetter(line, re), line);
    assert.equal(redactDeadLetter(`${line} bob`, re), `${line} [opted-out]`);
  });
  it("a broken JSON event still says whose it is (its top-level fields, not the nested tags')", () => {
    assert.deepEqual(deadLetterAuthor('{"kind":"message","login":"Bob","user_id":"990000010","text":"cut sh'), { login: 'bob', userId: '990000010' });
    assert.deepEqual(deadLetterAuthor('{"tags":{"login":"x"},"login":"carl","user_id":"7",}'), { login: 'carl', userId: '7' });
    assert.deepEqual(deadLetterAuthor('@login=bob;user-id=9 :tmi.twitch.tv USERNOTICE #c :x'), { login: 'bob', userId: '9' });
    assert.deepEqual(deadLetterAuthor('@bob LUL'), { login: null, userId: null });
  });
});

describe('opt-out of a user with an earlier login someone else took', () => {
  it("takes the user's own broken dead letters; the later holder's rows, notices and dead letters stay", async () => {
    const db = await testDatabase();
    const log = createLogger('silent') as never;
    // bob (990000010) chatted as carl, renamed to bob; later 990000030 took "carl".
    await storeEvents(db.config, db.client, [
      chatMessage(1, { id: 'b-old', login: 'carl', user_id: '990000010', display_name: 'Carl' }),
      chatMessage(2, { id: 'b-new', login: 'bob', user_id: '990000010', display_name: 'Bob' }),
      chatMessage(3, { id: 'c-new', login: 'carl', user_id: '990000030', display_name: 'Carl' }),
    ]);
    const gift: UserNotice = {
      v: 1, id: 'gift-to-c', channel: 'testchan', channel_id: '42', ts: T0 + 4000, received_at: T0 + 4000, source: 'replay', tags: {}, kind: 'usernotice',
      notice_type: 'subgift', user_id: '990000040', login: 'dave', display_name: 'dave', text: null, system_msg: 'dave gifted a Tier 1 sub to Carl!',
      params: { 'recipient-id': '990000030', 'recipient-user-name': 'carl', 'recipient-display-name': 'Carl' }, badges: {}, badge_info: {}, color: null, emotes: [], source_room_id: null,
    };
    await storeEvents(db.config, db.client, [gift]);
    const dl = (id: string, payload: string) => ({ id, ts: T0, stage: 'enrich', source: 'bus:test', reason: 'test', payload });
    const cParked = JSON.stringify(chatMessage(9, { id: 'c-parked', login: 'carl', user_id: '990000030', display_name: 'Carl', text: 'hi @bob LUL' }));
    await db.client.insert({
      table: 'dead_letters',
      format: 'JSONEachRow',
      values: [
        dl('own-trunc', '{"kind":"message","id":"x","channel":"testchan","login":"bob","display_name":"Bob","user_id":"990000010","text":"my words and more wor'),
        dl('own-invalid', '{"kind":"message","login":"bob","user_id":"990000010","text":"hi",}'),
        dl('c-parked', cParked),
        // other users' parked events naming bob, more than one page of the write-back's first version
        ...Array.from({ length: 1200 }, (_, i) => dl(`many-${i}`, JSON.stringify(chatMessage(100 + i, { id: `many-${i}`, text: `@bob LUL ${'x'.repeat(300)}` })))),
      ],
    });

    // per-user rows (no id): the later holder's under carl stay
    await db.client.insert({ table: 'chatter_features', format: 'JSONEachRow', values: [{ channel: 'testchan', login: 'carl' }, { channel: 'testchan', login: 'bob' }] });

    const r = await optOut(db.client, 'bob', log, { settleMs: 0 });
    assert.deepEqual(r.user_ids, ['990000010']);
    assert.deepEqual((await rows<{ id: string }>(db.client, 'SELECT id FROM messages ORDER BY id')).map((x) => x.id), ['c-new']);
    const left = new Map((await rows<{ id: string; payload: string }>(db.client, 'SELECT id, payload FROM dead_letters')).map((x) => [x.id, x.payload]));
    assert.deepEqual([...left.keys()].filter((id) => !id.startsWith('many-')), ['c-parked'], "the user's own broken dead letters are gone");
    assert.equal([...left.values()].filter((p) => p.includes('@[opted-out] LUL')).length, 1201);
    const [mut] = await rows<{ n: number }>(db.client, "SELECT count() AS n FROM system.mutations WHERE database = currentDatabase() AND table = 'dead_letters'");
    assert.equal(mut.n, 2, 'one delete and one update of dead_letters, not one per page');
    assert.equal(left.get('c-parked'), cParked.replace('@bob', '@[opted-out]'), 'the later holder of carl keeps their login');
    const [n] = await rows<{ params: Record<string, string>; system_msg: string | null }>(db.client, "SELECT params, system_msg FROM user_notices WHERE id = 'gift-to-c'");
    assert.deepEqual(n, { params: gift.params, system_msg: gift.system_msg }, 'a gift to the later holder of carl keeps its recipient');
    assert.deepEqual((await rows<{ login: string }>(db.client, 'SELECT login FROM chatter_features')).map((x) => x.login), ['carl']);
  });
});
