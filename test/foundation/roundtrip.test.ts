/**
 * One event of each kind through the real path (bus -> enrich -> ClickHouse) and back, field for
 * field, with non-ASCII text, emoji and an emote after an emoji (code-point offsets).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InProcessBus } from '../../core/bus.ts';
import type { ChatEvent } from '../../core/events.ts';
import { createLogger } from '../../core/logger.ts';
import { startEnrich } from '../../enrich/index.ts';
import { testDatabase } from '../support/clickhouse.ts';
import { sampleMessage } from '../support/events.ts';

const T = 1680350000123;
const base = { v: 1 as const, channel: 'ümlaut_chan', channel_id: '99', ts: T, received_at: T + 7, source: 'live' as const };

const events: ChatEvent[] = [
  {
    ...sampleMessage,
    ...base,
    id: 'm-1',
    // An emoji (two UTF-16 units, one code point) before the emote: offsets 2..6 are code points.
    text: '🎉 Kappa 日本語 ✓',
    emotes: [{ id: '25', start: 2, end: 6 }],
    bits: 100,
    first_msg: true,
    returning_chatter: true,
    action: true,
    reply: { parent_msg_id: 'p-1', parent_user_id: '5', parent_login: 'zoë', parent_display_name: 'Zoë', parent_text: 'héllo wörld', thread_parent_msg_id: 'p-0', thread_parent_login: 'first' },
    source_room_id: '12',
    source_id: 'src-1',
    flags: '0-4:A.3',
    tags: { 'client-nonce': 'abc', 'custom-reward-id': 'r-1' },
  },
  { ...base, kind: 'ban', id: 'b-1', target_user_id: '7', target_login: 'spammer', reason: null, tags: {} },
  { ...base, kind: 'timeout', id: 't-1', target_user_id: '8', target_login: 'loud', duration_s: 600, reason: 'caps 📢', tags: { 'ban-duration': '600' } },
  { ...base, kind: 'delete', id: 'd-1', target_msg_id: 'm-0', target_login: 'oops', text: 'gelöschte Nachricht 🙈', tags: {} },
  { ...base, kind: 'clear', id: 'c-1', tags: {} },
  {
    ...base,
    kind: 'usernotice',
    id: 'u-1',
    notice_type: 'resub',
    user_id: '42',
    login: 'subber',
    display_name: '서브',
    text: 'thanks 💜 Kappa',
    system_msg: 'subber subscribed at Tier 1. They\'ve subscribed for 12 months!',
    params: { 'cumulative-months': '12', 'sub-plan': '1000' },
    badges: { subscriber: '12' },
    badge_info: { subscriber: '12' },
    color: null,
    emotes: [{ id: '25', start: 10, end: 14 }],
    source_room_id: null,
    tags: { 'msg-param-should-share-streak': '0' },
  },
  { ...base, kind: 'roomstate', id: 'r-1', emote_only: false, followers_only: -1, r9k: null, slow: 30, subs_only: true, tags: {} },
  { ...base, kind: 'lifecycle', id: 'l-1', event: 'gap', ingestor: 'host:1', detail: 'reconnected after ECONNRESET', gap_start: T - 5000, gap_end: T, tags: {} },
  { ...base, kind: 'lifecycle', id: 'l-2', event: 'alive', ingestor: 'host:1', detail: null, gap_start: null, gap_end: null, tags: {} },
];

test('one event of each kind is stored and reads back field for field', async () => {
  const { config, client } = await testDatabase();
  const bus = new InProcessBus();
  const stage = startEnrich({ config, logger: createLogger('silent'), client, consumer: bus.consumer(), journalDir: null });
  await bus.publisher().publish(base.channel, events);
  await bus.idle();
  await stage.stored();
  await stage.stop();

  const one = async (query: string, id: string) => {
    const rs = await client.query({ query: `${query} WHERE id = {id:String}`, query_params: { id }, format: 'JSONEachRow' });
    const rows = await rs.json<Record<string, unknown>>();
    assert.equal(rows.length, 1, `exactly one row for ${id}`);
    return rows[0];
  };
  const common = 'id, channel, channel_id, toUnixTimestamp64Milli(ts) AS ts, toUnixTimestamp64Milli(received_at) AS received_at, source, tags';

  const m = events[0] as Extract<ChatEvent, { kind: 'message' }>;
  const mr = await one(
    `SELECT ${common}, user_id, login, display_name, text, action, badges, badge_info, color, emotes, bits, first_msg, returning_chatter,
            reply_parent_msg_id, reply_parent_user_id, reply_parent_login, reply_parent_display_name, reply_parent_text, reply_thread_parent_msg_id,
            reply_thread_parent_login, source_room_id, source_id, flags, emote_names, emote_ids, emote_providers FROM messages`,
    'm-1',
  );
  assert.deepEqual(
    { ...mr, emotes: (mr.emotes as Array<[string, number, number]> | Array<{ id: string; start: number; end: number }>).map((e) => (Array.isArray(e) ? { id: e[0], start: e[1], end: e[2] } : e)) },
    {
      id: m.id, channel: m.channel, channel_id: m.channel_id, ts: m.ts, received_at: m.received_at, source: m.source, tags: m.tags,
      user_id: m.user_id, login: m.login, display_name: m.display_name, text: m.text, action: true, badges: m.badges, badge_info: m.badge_info,
      color: m.color, emotes: m.emotes, bits: 100, first_msg: true, returning_chatter: true,
      reply_parent_msg_id: 'p-1', reply_parent_user_id: '5', reply_parent_login: 'zoë', reply_parent_display_name: 'Zoë', reply_parent_text: 'héllo wörld',
      reply_thread_parent_msg_id: 'p-0', reply_thread_parent_login: 'first', source_room_id: '12', source_id: 'src-1', flags: '0-4:A.3',
      emote_names: ['Kappa'], emote_ids: ['25'], emote_providers: ['twitch'],
    },
  );

  const mod = `SELECT ${common}, action, target_user_id, target_login, duration_s, reason, target_msg_id, text FROM mod_actions`;
  assert.deepEqual(await one(mod, 'b-1'), { ...pick(events[1]), action: 'ban', target_user_id: '7', target_login: 'spammer', duration_s: null, reason: null, target_msg_id: null, text: null });
  assert.deepEqual(await one(mod, 't-1'), { ...pick(events[2]), action: 'timeout', target_user_id: '8', target_login: 'loud', duration_s: 600, reason: 'caps 📢', target_msg_id: null, text: null });
  assert.deepEqual(await one(mod, 'd-1'), { ...pick(events[3]), action: 'delete', target_user_id: null, target_login: 'oops', duration_s: null, reason: null, target_msg_id: 'm-0', text: 'gelöschte Nachricht 🙈' });
  assert.deepEqual(await one(mod, 'c-1'), { ...pick(events[4]), action: 'clear', target_user_id: null, target_login: '', duration_s: null, reason: null, target_msg_id: null, text: null });

  const u = events[5] as Extract<ChatEvent, { kind: 'usernotice' }>;
  const ur = await one(`SELECT ${common}, notice_type, user_id, login, display_name, text, system_msg, params, badges, badge_info, color, emotes, source_room_id FROM user_notices`, 'u-1');
  assert.deepEqual(
    { ...ur, emotes: (ur.emotes as unknown[]).map((e) => (Array.isArray(e) ? { id: e[0], start: e[1], end: e[2] } : e)) },
    { ...pick(u), notice_type: 'resub', user_id: '42', login: 'subber', display_name: '서브', text: u.text, system_msg: u.system_msg, params: u.params, badges: u.badges, badge_info: u.badge_info, color: null, emotes: u.emotes, source_room_id: null },
  );

  assert.deepEqual(await one(`SELECT ${common}, emote_only, followers_only, r9k, slow, subs_only FROM room_states`, 'r-1'), { ...pick(events[6]), emote_only: false, followers_only: -1, r9k: null, slow: 30, subs_only: true });

  assert.deepEqual(
    await one(`SELECT ${common}, event, ingestor, detail, toUnixTimestamp64Milli(gap_start) AS gap_start, toUnixTimestamp64Milli(gap_end) AS gap_end FROM ingest_events`, 'l-1'),
    { ...pick(events[7]), event: 'gap', ingestor: 'host:1', detail: 'reconnected after ECONNRESET', gap_start: T - 5000, gap_end: T },
  );
  // The ingestor's heartbeat (migration 0046 added it to the column's Enum8; before, ClickHouse refused the row).
  assert.deepEqual(
    await one(`SELECT ${common}, event, ingestor, detail, gap_start, gap_end FROM ingest_events`, 'l-2'),
    { ...pick(events[8]), event: 'alive', ingestor: 'host:1', detail: null, gap_start: null, gap_end: null },
  );
});

function pick(e: ChatEvent) {
  return { id: e.id, channel: e.channel, channel_id: e.channel_id, ts: e.ts, received_at: e.received_at, source: e.source, tags: e.tags };
}
