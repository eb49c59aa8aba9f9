/**
 * core/events.ts validates chat messages without zod when it can. The contract that makes that safe:
 * whatever the fast check accepts, zod accepts too and returns an equal value (so skipping zod changes
 * no stored row), and `validateEvent`'s verdict is zod's for every input. Checked over every field of a
 * message (and of its reply, emotes and records) replaced by values at and beyond each limit, both as
 * objects and after a JSON round trip (what arrives over JetStream).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chatEventSchema, isPlainValidMessage, validateEvent, type ChatMessage } from '../../core/events.ts';
import { chatMessage } from '../enrich/support/events.ts';

const full: ChatMessage = chatMessage(1, {
  display_name: 'User1',
  color: '#FF0000',
  badges: { subscriber: '12', '1979': 'x' },
  badge_info: { subscriber: '14' },
  tags: { 'client-nonce': 'abc', 'tmi-sent-ts': '1' },
  emotes: [{ id: '25', start: 0, end: 4 }, { id: 'emotesv2_x', start: 6, end: 9 }],
  bits: 100,
  reply: { parent_msg_id: 'p1', parent_user_id: '9', parent_login: 'other', parent_display_name: 'Other', parent_text: 'hi', thread_parent_msg_id: 'p0', thread_parent_login: null },
  text: 'Kappa 🙂 hello',
  flags: '0-4:P.6',
});
const bases: ChatMessage[] = [chatMessage(0), chatMessage(3), full, { ...full, reply: null, emotes: [], bits: 0, text: '' }];

const astral = (n: number) => '😀'.repeat(n); // two UTF-16 units each
const values: unknown[] = [
  undefined, null, '', 'x', 'message', 'live', 'import', 'nope', 'a'.repeat(64), 'a'.repeat(65), 'a'.repeat(128), 'a'.repeat(129),
  astral(32), astral(33), astral(64), astral(65), 'a'.repeat(20_000), 'a'.repeat(20_001), astral(10_000), astral(10_001),
  0, 1, -1, 1.5, 2, NaN, Infinity, -Infinity, 2 ** 53 - 1, 2 ** 53, 8_000_000_000_000, 8_000_000_000_001, -0,
  true, false, [], {}, [1], { a: 'b' }, { a: 1 }, JSON.parse('{"__proto__":"x"}'), Object.create(null), new Date(0), new Map(),
];

/** Every value at every path of `base` (and a removed and an added key per object), as new objects. */
function* mutations(base: ChatMessage): Generator<unknown> {
  const clone = () => structuredClone(base) as Record<string, unknown>;
  for (const key of [...Object.keys(base), 'extra']) {
    for (const v of values) {
      const m = clone();
      if (v === undefined) delete m[key];
      else m[key] = v;
      yield m;
    }
  }
  for (const nested of ['reply', 'tags', 'badges', 'badge_info'] as const) {
    const keys = base[nested] ? [...Object.keys(base[nested] as object), 'extra'] : [];
    for (const key of keys) {
      for (const v of values) {
        const m = clone();
        const o = m[nested] as Record<string, unknown>;
        if (v === undefined) delete o[key];
        else o[key] = v;
        yield m;
      }
    }
  }
  for (let i = 0; i < base.emotes.length; i++) {
    for (const key of ['id', 'start', 'end', 'extra']) {
      for (const v of values) {
        const m = clone();
        const e = (m.emotes as Array<Record<string, unknown>>)[i];
        if (v === undefined) delete e[key];
        else e[key] = v;
        yield m;
      }
    }
    for (const v of values) {
      const m = clone();
      (m.emotes as unknown[])[i] = v;
      yield m;
    }
  }
  // A `__proto__` record key as JSON.parse makes it (an own property), and a reordered emote.
  yield { ...clone(), tags: JSON.parse('{"a":"1","__proto__":"x"}') };
  if (base.emotes.length > 0) yield { ...clone(), emotes: [{ end: 4, start: 0, id: '25' }] };
}

function check(input: unknown, counts: { fast: number; total: number }) {
  counts.total++;
  const z = chatEventSchema.safeParse(input);
  if (isPlainValidMessage(input)) {
    counts.fast++;
    assert.ok(z.success, `fast path accepted what zod rejects: ${JSON.stringify(input)?.slice(0, 300)}`);
    assert.deepStrictEqual(z.data, input, 'fast path accepted a value zod would change');
  }
  assert.equal(validateEvent(input).ok, z.success, `verdict differs from zod for ${JSON.stringify(input)?.slice(0, 300)}`);
}

test('the fast message check accepts only what zod accepts unchanged, and validateEvent agrees with zod', () => {
  const counts = { fast: 0, total: 0 };
  for (const base of bases) {
    assert.equal(isPlainValidMessage(base), true, 'ordinary messages take the fast path');
    for (const m of mutations(base)) {
      check(m, counts);
      let json: unknown;
      try {
        json = JSON.parse(JSON.stringify(m));
      } catch {
        continue; // not representable as JSON (e.g. a Map): only the object form applies
      }
      check(json, counts);
    }
  }
  // The mutations include valid ones (e.g. another string for a nullable field): the fast path is used, not just refused.
  assert.ok(counts.fast > 100, `fast path taken ${counts.fast} times of ${counts.total}`);
});

test('events the fast check passes are returned as they are; others are zod copies with reasons', () => {
  const m = chatMessage(2);
  const r = validateEvent(m);
  assert.ok(r.ok && r.event === m);
  const withExtra = { ...m, unknown_field: 1 };
  const r2 = validateEvent(withExtra);
  assert.ok(r2.ok && r2.event !== withExtra && !('unknown_field' in r2.event), 'zod strips unknown keys');
  const bad = validateEvent({ ...m, login: '' });
  assert.ok(!bad.ok && /^message\.login: /.test(bad.reason));
});
