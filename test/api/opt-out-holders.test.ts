/**
 * Opt-out: whose rows and dead letters it takes (api/privacy.ts `isHolders`, core/privacy.ts
 * `deadLetterAuthor`) and how other users' dead letters are redacted (`redactDeadLetter`). Calls
 * `optOut` with no settle wait: no enrich runs here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClickHouseClient } from '../../core/clickhouse.ts';
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
    assert.deepEqual(deadLetterAuthor('{"kind":"message","login":"Bob","user_id":"990000010","text":"cut sh'), { login: 'bob', userId: '990000010', displayName: null });
    assert.deepEqual(deadLetterAuthor('{"tags":{"login":"x"},"login":"carl","user_id":"7","display_name":"Carl",}'), { login: 'carl', userId: '7', displayName: 'Carl' });
    assert.deepEqual(deadLetterAuthor('@login=bob;user-id=9 :tmi.twitch.tv USERNOTICE #c :x'), { login: 'bob', userId: '9', displayName: null });
    assert.deepEqual(deadLetterAuthor('@bob LUL'), { login: null, userId: null, displayName: null });
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

describe('dead letter redaction keeps the structure (logins spelt like enum values)', () => {
  const re = namesMatcher(['live', 'raid', 'premium', 'notice'])!;
  it('JSON: enums, badges and ids stay; text, sentences and parties go', () => {
    const e = {
      v: 1, id: 'x', channel: 'chan', channel_id: '1', source: 'live', kind: 'usernotice', notice_type: 'raid', login: 'carl', display_name: 'Carl', user_id: '5',
      text: 'live raid', system_msg: 'raid from notice', params: { 'msg-id': 'raid', 'sub-plan': 'Prime', 'recipient-user-name': 'premium' },
      badges: { premium: '1' }, badge_info: {}, flags: ['premium'], tags: { 'msg-id': 'raid', 'user-type': 'premium', 'reply-parent-user-login': 'live' },
    };
    const out = JSON.parse(redactDeadLetter(JSON.stringify(e), re));
    assert.deepEqual(out, {
      ...e, text: '[opted-out] [opted-out]', system_msg: '[opted-out] from [opted-out]', params: { ...e.params, 'recipient-user-name': '[opted-out]' },
      tags: { ...e.tags, 'reply-parent-user-login': '[opted-out]' },
    });
  });
  it('IRC: the command, channel, badges and msg-id stay; free-text tags and the trailing text go', () => {
    const tags = '@badge-info=;badges=premium/1;display-name=Carl;msg-id=raid;room-id=1;user-id=5';
    assert.equal(
      redactDeadLetter(`${tags};msg-param-login=live;system-msg=raid\\sby\\slive :tmi.twitch.tv USERNOTICE #chan :live raid`, re),
      `${tags};msg-param-login=[opted-out];system-msg=[opted-out]\\sby\\s[opted-out] :tmi.twitch.tv USERNOTICE #chan :[opted-out] [opted-out]`,
    );
    const notice = '@msg-id=raid :tmi.twitch.tv NOTICE #chan';
    assert.equal(redactDeadLetter(notice, re), notice);
  });
});

/** The client, recording the size of every call's query parameters. */
function recording(client: ClickHouseClient, sizes: number[], fault?: (a: { query: string; query_params?: Record<string, unknown> }) => Promise<void> | undefined): ClickHouseClient {
  return new Proxy(client, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (prop === 'query' || prop === 'command') {
        return async (a: { query: string; query_params?: Record<string, unknown> }) => {
          sizes.push(JSON.stringify(a.query_params ?? {}).length);
          const f = fault?.(a);
          if (f !== undefined) return f;
          return (v as (x: unknown) => unknown).call(target, a);
        };
      }
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('opt-out dead letters: other holders, large channels, failures', () => {
  it("keeps the later holder's id-less parked event and their own name in their notice; no parameter grows with the rows", async () => {
    const db = await testDatabase();
    const log = createLogger('silent') as never;
    await storeEvents(db.config, db.client, [
      chatMessage(1, { id: 'b-old', login: 'carl', user_id: '990000010', display_name: 'Carl' }),
      chatMessage(2, { id: 'b-new', login: 'bob', user_id: '990000010', display_name: 'Bob' }),
      chatMessage(3, { id: 'c-new', login: 'carl', user_id: '990000030', display_name: 'Carl' }),
    ]);
    // a gift to carl with no recipient id (an imported line): carl is C's login now, so it is C's
    const idlessGift: UserNotice = {
      v: 1, id: 'gift-idless', channel: 'testchan', channel_id: '42', ts: T0 + 4000, received_at: T0 + 4000, source: 'replay', tags: {}, kind: 'usernotice',
      notice_type: 'subgift', user_id: '990000040', login: 'dave', display_name: 'dave', text: null, system_msg: 'dave gifted a Tier 1 sub to Carl!',
      params: { 'recipient-user-name': 'carl', 'recipient-display-name': 'Carl' }, badges: {}, badge_info: {}, color: null, emotes: [], source_room_id: null,
    };
    await storeEvents(db.config, db.client, [idlessGift]);
    const base = { v: 1, channel: 'testchan', channel_id: '42', ts: T0, received_at: T0, source: 'replay', tags: {} };
    const payloads: Record<string, string> = {
      cIdless: JSON.stringify(chatMessage(9, { id: 'c-idless', login: 'carl', user_id: null, display_name: 'Carl', text: 'hello' })),
      cNotice: JSON.stringify({ ...base, id: 'c-sub', kind: 'usernotice', notice_type: 'sub', user_id: '990000030', login: 'carl', display_name: 'Carl', text: null, system_msg: 'Carl subscribed at Tier 1.', params: {}, badges: {}, badge_info: {}, color: null, emotes: [], source_room_id: null }),
    };
    const dl = (id: string, payload: string) => ({ id, ts: T0, stage: 'enrich', source: 'bus:test', reason: 'test', payload });
    // a streamer-sized set of other users' parked events naming bob, with long ids (150 KB of ids)
    const many = Array.from({ length: 3600 }, (_, i) => dl(`${'m'.repeat(36)}-${String(i).padStart(5, '0')}`, JSON.stringify({ login: 'dave', text: `@bob ${i}` })));
    await db.client.insert({ table: 'dead_letters', format: 'JSONEachRow', values: [...Object.entries(payloads).map(([id, p]) => dl(id, p)), ...many] });
    const sizes: number[] = [];
    const r = await optOut(recording(db.client, sizes), 'bob', log, { settleMs: 0 });
    assert.equal(r.dead_letters_incomplete, false);
    const left = new Map((await rows<{ id: string; payload: string }>(db.client, 'SELECT id, payload FROM dead_letters')).map((x) => [x.id, x.payload]));
    assert.equal(left.get('cIdless'), payloads.cIdless, "C's id-less event under carl, which C holds now, stays as it was");
    assert.equal(left.get('cNotice'), payloads.cNotice, "C's own name in C's notice stays");
    const [g] = await rows<{ params: Record<string, string>; system_msg: string | null }>(db.client, "SELECT params, system_msg FROM user_notices WHERE id = 'gift-idless'");
    assert.deepEqual(g, { params: idlessGift.params, system_msg: idlessGift.system_msg }, 'an id-less gift to carl, which C holds now, keeps its recipient');
    assert.equal([...left.values()].filter((p) => p.includes('@[opted-out]')).length, 3600);
    assert.ok(Math.max(...sizes) < 100_000, `query parameters up to ${Math.max(...sizes)} bytes (HTTP URL limits)`);
  });

  it('an ALTER that fails before its mutation ran leaves no stuck mutation, and the rest of the opt-out runs', async () => {
    const db = await testDatabase();
    const log = createLogger('silent') as never;
    await storeEvents(db.config, db.client, [chatMessage(1, { id: 'b', login: 'bob', user_id: '990000010', display_name: 'Bob' })]);
    await db.client.insert({ table: 'dead_letters', format: 'JSONEachRow', values: [{ id: 'd1', ts: T0, stage: 'enrich', source: 'bus:test', reason: 'test', payload: JSON.stringify({ login: 'dave', text: 'hi @bob' }) }] });
    await db.client.insert({ table: 'chatter_features', format: 'JSONEachRow', values: [{ channel: 'testchan', login: 'bob' }] });
    // the UPDATE "times out": its mutation is queued (merges stopped, so it has not run) and the call fails
    const fault = (a: { query: string; query_params?: Record<string, unknown> }) =>
      a.query.startsWith('ALTER TABLE dead_letters UPDATE')
        ? (async () => {
            await db.client.command({ query: 'SYSTEM STOP MERGES dead_letters' });
            await db.client.command({ query: a.query, query_params: a.query_params, clickhouse_settings: { mutations_sync: '0', allow_nondeterministic_mutations: 1 } }).catch(() => {});
            throw new Error('simulated: request timeout');
          })()
        : undefined;
    const r = await optOut(recording(db.client, [], fault), 'bob', log, { settleMs: 0 });
    await db.client.command({ query: 'SYSTEM START MERGES dead_letters' });
    assert.equal(r.dead_letters_incomplete, true);
    assert.deepEqual(r.per_user_tables, ['chatter_features', 'stream_chatters'], 'the opt-out went on after the dead letters failed');
    await db.client.command({ query: "ALTER TABLE dead_letters DELETE WHERE id = 'none'", clickhouse_settings: { mutations_sync: '2' } });
    const [m] = await rows<{ n: number }>(db.client, "SELECT count() AS n FROM system.mutations WHERE database = currentDatabase() AND table = 'dead_letters' AND NOT is_done");
    assert.equal(m.n, 0);
  });
});

describe('opt-out dead letters: write-back budget', () => {
  it("counts deletions against the write-back budget (the user's own dead letters alone are split too)", async () => {
    const db = await testDatabase();
    const log = createLogger('silent') as never;
    await storeEvents(db.config, db.client, [chatMessage(1, { id: 'b', login: 'bob', user_id: '990000010', display_name: 'Bob' })]);
    // 3 own dead letters of 2 MB: one page each (~4 MB a page)
    const big = 'x'.repeat(2 << 20);
    await db.client.insert({
      table: 'dead_letters',
      format: 'JSONEachRow',
      values: [1, 2, 3].map((i) => ({ id: `own-${i}`, ts: T0, stage: 'enrich', source: 'bus:test', reason: 'test', payload: JSON.stringify({ login: 'bob', user_id: '990000010', text: big }) })),
    });
    const r = await optOut(db.client, 'bob', log, { settleMs: 0, deadLetterWriteBytes: 1 });
    assert.equal(r.dead_letters_incomplete, false);
    const [left] = await rows<{ n: number }>(db.client, 'SELECT count() AS n FROM dead_letters');
    assert.equal(left.n, 0);
    const [m] = await rows<{ n: number }>(db.client, "SELECT count() AS n FROM system.mutations WHERE database = currentDatabase() AND table = 'dead_letters' AND command LIKE '%DELETE%'");
    assert.equal(m.n, 3, 'one DELETE per page once a page exceeds the budget');
  });
});

describe('opt-out rollups: many channel days', () => {
  it('rebuilds the days in batches of bounded parameters; every day still verified', async () => {
    const db = await testDatabase();
    const log = createLogger('silent') as never;
    const day = 86_400_000;
    await storeEvents(db.config, db.client, [0, 1, 2].flatMap((d) => [
      chatMessage(1, { id: `b-${d}`, ts: T0 + d * day, received_at: T0 + d * day, login: 'bob', user_id: '990000010' }),
      chatMessage(2, { id: `c-${d}`, ts: T0 + d * day, received_at: T0 + d * day, login: 'carl', user_id: '990000030' }),
    ]));
    let maxPairs = 0;
    const client = new Proxy(db.client, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (prop === 'query' || prop === 'command') {
          return (a: { query_params?: { pc?: unknown[] } }) => {
            maxPairs = Math.max(maxPairs, a.query_params?.pc?.length ?? 0);
            return (v as (x: unknown) => unknown).call(target, a);
          };
        }
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const r = await optOut(client, 'bob', log, { settleMs: 0, dayParamBytes: 1 });
    assert.equal(r.rebuilt_days, 3);
    assert.deepEqual(r.rollup_mismatches, []);
    assert.equal(maxPairs, 1, 'one (channel, day) per query at this budget');
    const [s] = await rows<{ n: number }>(db.client, 'SELECT toUInt64(sum(messages)) AS n FROM chat_1d');
    assert.equal(Number(s.n), 3, "carl's 3 messages left in the daily rollup");
  });
});
