/**
 * The IRC parser against real Twitch lines: every line of shared/data/irc/fixture_lines.tsv becomes a
 * valid event or a documented rejection (ingest/README.md), the tmi-rs snapshots' fields match field
 * for field, and event -> line -> event round-trips. Both sets are MIT (Chatterino, tmi-rs), read from
 * ../shared/data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateEvent, type ChatEvent } from '../../core/events.ts';
import { IGNORED_COMMANDS, parseIrcLine, unescapeTagValue } from '../../ingest/irc-parser.ts';
import { formatIrcLine } from '../../ingest/irc-format.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const IRC = path.resolve(repoRoot, '..', 'shared', 'data', 'irc');
const TSV = path.join(IRC, 'fixture_lines.tsv');
const SNAPS = path.join(IRC, 'tmi-rs-snapshots');
const skip = fs.existsSync(TSV) ? false : `skipped: ${IRC} not found (../shared/data is absent)`;
const ctx = { receivedAt: 1_700_000_000_000, source: 'live' as const };

/** Deliberate rejections of fixture lines, as documented in ingest/README.md. */
const EXPECTED_REJECTIONS: Record<string, string> = {
  'emoteonly-on.json': 'not a chat event: NOTICE',
  'no-nick.json': 'PRIVMSG without a sender nick',
  'tmi__msg__global_user_state__tests__parse_globaluserstate.snap': 'not a chat event: GLOBALUSERSTATE',
  'tmi__msg__join__tests__parse_join.snap': 'not a chat event: JOIN',
  'tmi__msg__notice__tests__parse_notice_basic.snap': 'not a chat event: NOTICE',
  'tmi__msg__notice__tests__parse_notice_before_login.snap': 'not a chat event: NOTICE',
  'tmi__msg__part__tests__parse_join.snap': 'not a chat event: PART',
  'tmi__msg__ping__tests__parse_ping.snap': 'not a chat event: PING',
  'tmi__msg__ping__tests__parse_ping_nonce.snap': 'not a chat event: PING',
  'tmi__msg__pong__tests__parse_ping.snap': 'not a chat event: PONG',
  'tmi__msg__pong__tests__parse_ping_nonce.snap': 'not a chat event: PONG',
  'tmi__msg__user_state__tests__parse_userstate.snap': 'not a chat event: USERSTATE',
  'tmi__msg__user_state__tests__parse_userstate_uuid_emote_set_id.snap': 'not a chat event: USERSTATE',
  'tmi__msg__whisper__tests__parse_whisper.snap': 'not a chat event: WHISPER',
};

function fixtureLines(): Array<{ name: string; line: string }> {
  return fs
    .readFileSync(TSV, 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.length > 0)
    .map((row) => {
      const tab = row.indexOf('\t');
      return { name: path.basename(row.slice(0, tab)), line: row.slice(tab + 1) };
    });
}

test('every fixture line becomes a valid event or a documented rejection', { skip }, () => {
  const rows = fixtureLines();
  assert.equal(rows.length, 158);
  let events = 0;
  for (const { name, line } of rows) {
    const r = parseIrcLine(line, ctx);
    if (r.ok) {
      const v = validateEvent(r.event);
      assert.ok(v.ok, `${name}: ${v.ok ? '' : v.reason}`);
      assert.equal(EXPECTED_REJECTIONS[name], undefined, `${name} was expected to be rejected`);
      events++;
    } else {
      assert.equal(r.reason, EXPECTED_REJECTIONS[name], `${name}: unexpected rejection`);
      if (r.command !== null && r.command !== 'PRIVMSG') assert.ok(IGNORED_COMMANDS.has(r.command), `${name}: ${r.command} not in IGNORED_COMMANDS`);
    }
  }
  assert.equal(events, 158 - Object.keys(EXPECTED_REJECTIONS).length);
});

test('event -> raw line -> event round-trips for every fixture event', { skip }, () => {
  for (const { name, line } of fixtureLines()) {
    const r = parseIrcLine(line, ctx);
    if (!r.ok) continue;
    const rebuilt = formatIrcLine(r.event);
    assert.ok(rebuilt !== null, name);
    const again = parseIrcLine(rebuilt, ctx);
    assert.ok(again.ok, `${name}: rebuilt line rejected: ${rebuilt}`);
    assert.deepEqual(again.event, r.event, `${name}: round trip differs\n${line}\n${rebuilt}`);
  }
});

test('unmodelled tags are kept unescaped; bad emote ranges are dropped and kept raw', () => {
  const r = parseIrcLine('@badge-info=;badges=;color=;display-name=A;emotes=25:0-4,99-120;id=x1;mod=0;client-nonce=a\\sb;tmi-sent-ts=5 :a!a@a.tmi.twitch.tv PRIVMSG #c :Kappa hi', ctx);
  assert.ok(r.ok && r.event.kind === 'message');
  assert.deepEqual(r.event.tags, { mod: '0', 'client-nonce': 'a b', emotes: '25:0-4,99-120' });
  assert.deepEqual(r.event.emotes, [{ id: '25', start: 0, end: 4 }]);
  // Code points, not UTF-16 units: the emote after an emoji starts at 2.
  const e = parseIrcLine('@emotes=25:2-6;tmi-sent-ts=5 :a!a@a.tmi.twitch.tv PRIVMSG #c :😂 Kappa', ctx);
  assert.ok(e.ok && e.event.kind === 'message');
  assert.deepEqual(e.event.emotes, [{ id: '25', start: 2, end: 6 }]);
  assert.equal(unescapeTagValue('a\\:b\\\\c\\sd'), 'a;b\\c d');
});

// ---- tmi-rs snapshots ----------------------------------------------------------------------------

/** Decodes the `expression: "f(\"...\")"` header into the raw line (YAML string, then Rust string escapes). */
function snapLine(text: string): string {
  const m = /^expression: (".*")$/m.exec(text);
  if (!m) throw new Error('no expression');
  const expr = JSON.parse(m[1]) as string; // the YAML double-quoted form is JSON-compatible here
  const inner = expr.slice(expr.indexOf('("') + 2, expr.lastIndexOf('")'));
  return inner.replace(/\\u\{([0-9a-fA-F]+)\}|\\(.)/g, (_, hex: string | undefined, c: string | undefined) => (hex ? String.fromCodePoint(parseInt(hex, 16)) : c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : (c as string)));
}

/** `field: "value"` / `field: Some(\n "value"` / `field: None` at the snapshot's nesting level. */
function field(body: string, name: string, top = false): string | null | undefined {
  const re = new RegExp(`${top ? '^ {4}' : '\\b'}${name}: (?:Some\\(\\s*)?(None|"((?:[^"\\\\]|\\\\.)*)"|-?\\d+)`, 'm');
  const m = re.exec(body);
  if (!m) return undefined;
  if (m[1] === 'None') return null;
  if (m[2] !== undefined) return JSON.parse(`"${m[2]}"`) as string;
  return m[1];
}

/** tmi-rs keeps tag escapes (`\s`) in some values; the contract stores them unescaped. */
const tagText = (v: string | null | undefined) => (typeof v === 'string' ? unescapeTagValue(v) : v);

function expectedEmotes(raw: string): Array<{ id: string; start: number; end: number }> {
  if (raw === '') return [];
  const out = raw.split('/').flatMap((part) => {
    const [id, ranges] = part.split(':');
    return ranges.split(',').map((r) => ({ id, start: Number(r.split('-')[0]), end: Number(r.split('-')[1]) }));
  });
  return out.sort((a, b) => a.start - b.start);
}

function badgeNames(body: string): string[] {
  const start = body.indexOf('\n    badges: [');
  if (start < 0) return [];
  const end = body.indexOf('\n    ],', start);
  const block = body.slice(start, end < 0 ? undefined : end);
  const names: string[] = [];
  for (const m of block.matchAll(/^ {8}(\w+)(?:\(|,)/gm)) {
    if (m[1] === 'Other') continue;
    names.push({ Moderator: 'moderator', Broadcaster: 'broadcaster', Subscriber: 'subscriber', Vip: 'vip', Staff: 'staff', Turbo: 'turbo', Premium: 'premium' }[m[1]] ?? m[1].toLowerCase());
  }
  for (const m of block.matchAll(/name: "([^"]+)"/g)) names.push(m[1]);
  return names.sort();
}

const snaps = fs.existsSync(SNAPS) ? fs.readdirSync(SNAPS).filter((f) => f.endsWith('.snap')) : [];

test('tmi-rs snapshots: the parsed fields match field for field', { skip }, () => {
  assert.equal(snaps.length, 48);
  let compared = 0;
  for (const f of snaps) {
    const text = fs.readFileSync(path.join(SNAPS, f), 'utf8');
    const line = snapLine(text);
    const body = text.slice(text.indexOf('\n---', 4) + 4);
    const r = parseIrcLine(line, ctx);
    const typeName = /^(\w+) \{/m.exec(body)?.[1];
    const ev: ChatEvent | null = r.ok ? r.event : null;
    const at = (ts: string) => Date.parse(ts);
    switch (typeName) {
      case 'Privmsg': {
        assert.ok(ev && ev.kind === 'message', f);
        assert.equal('#' + ev.channel, field(body, 'channel', true), f);
        assert.equal(ev.channel_id, field(body, 'channel_id', true) || null, f);
        assert.equal(ev.id, field(body, 'id', true), f);
        const sender = body.slice(body.indexOf('sender: User'));
        assert.equal(ev.user_id, field(sender, 'id'), f);
        assert.equal(ev.login, field(sender, 'login'), f);
        assert.equal(ev.display_name, tagText(field(sender, 'name')), f);
        assert.equal(ev.text, field(body, 'text', true), f);
        assert.equal(ev.action, /is_action: true/.test(body), f);
        assert.equal(ev.color, field(body, 'color', true), f);
        const bits = /bits: Some\(\s*(\d+)/.exec(body);
        assert.equal(ev.bits, bits ? Number(bits[1]) : null, f);
        assert.deepEqual(ev.emotes, expectedEmotes(field(body, 'emotes', true) ?? ''), f);
        assert.deepEqual(Object.keys(ev.badges).sort(), badgeNames(body), f);
        assert.equal(ev.ts, at(/timestamp: (\S+),/.exec(body)![1]), f);
        if (/reply_to: Some/.test(body)) {
          const rep = body.slice(body.indexOf('reply_to: Some'));
          assert.ok(ev.reply, f);
          assert.equal(ev.reply.parent_msg_id, field(rep, 'message_id'), f);
          assert.equal(ev.reply.thread_parent_msg_id, field(rep, 'thread_parent_message_id'), f);
          assert.equal(ev.reply.thread_parent_login, field(rep, 'thread_parent_user_login'), f);
          assert.equal(ev.reply.parent_user_id, field(rep.slice(rep.indexOf('sender')), 'id'), f);
          assert.equal(ev.reply.parent_login, field(rep, 'login'), f);
          assert.equal(ev.reply.parent_display_name, tagText(field(rep, 'name')), f);
          assert.equal(ev.reply.parent_text, tagText(field(rep, 'text')), f);
        } else assert.equal(ev.reply, null, f);
        compared++;
        break;
      }
      case 'ClearChat': {
        assert.ok(ev, f);
        assert.equal('#' + ev.channel, field(body, 'channel', true), f);
        assert.equal(ev.ts, at(/timestamp: (\S+),/.exec(body)![1]), f);
        if (/action: Clear/.test(body)) assert.equal(ev.kind, 'clear', f);
        else {
          assert.ok(ev.kind === 'ban' || ev.kind === 'timeout', f);
          assert.equal(ev.target_login, field(body, 'user'), f);
          assert.equal(ev.target_user_id, field(body, 'id'), f);
          if (/TimeOut/.test(body)) {
            assert.equal(ev.kind, 'timeout', f);
            assert.equal(ev.kind === 'timeout' && ev.duration_s, Number(/duration: (\d+)s/.exec(body)![1]), f);
          } else assert.equal(ev.kind, 'ban', f);
        }
        compared++;
        break;
      }
      case 'ClearMsg': {
        assert.ok(ev && ev.kind === 'delete', f);
        assert.equal(ev.target_login, field(body, 'sender'), f);
        assert.equal(ev.target_msg_id, field(body, 'target_message_id'), f);
        // The contract keeps the text as Twitch repeats it; tmi-rs unwraps /me.
        const expected = field(body, 'text', true) as string;
        assert.equal(ev.text, /is_action: true/.test(body) ? `\u0001ACTION ${expected}\u0001` : expected, f);
        assert.equal(ev.channel_id, field(body, 'channel_id', true) || null, f);
        assert.equal(ev.ts, at(/timestamp: (\S+),/.exec(body)![1]), f);
        compared++;
        break;
      }
      case 'UserNotice': {
        assert.ok(ev && ev.kind === 'usernotice', f);
        assert.equal('#' + ev.channel, field(body, 'channel', true), f);
        assert.equal(ev.id, field(body, 'message_id'), f);
        assert.equal(ev.notice_type, field(body, 'event_id'), f);
        assert.equal(ev.text, field(body, 'text', true) ?? null, f);
        assert.equal(ev.system_msg, tagText(field(body, 'system_message')), f);
        assert.deepEqual(ev.emotes, expectedEmotes(field(body, 'emotes', true) ?? ''), f);
        assert.equal(ev.color, field(body, 'color', true), f);
        assert.deepEqual(Object.keys(ev.badges).sort(), badgeNames(body), f);
        if (/sender: Some/.test(body)) {
          const s = body.slice(body.indexOf('sender: Some'));
          assert.equal(ev.user_id, field(s, 'id'), f);
          assert.equal(ev.login, field(s, 'login'), f);
          assert.equal(ev.display_name, tagText(field(s, 'name')), f);
        }
        const months = /cumulative_months: (\d+)/.exec(body);
        if (months) assert.equal(ev.params['cumulative-months'] ?? ev.params.months, months[1], f);
        assert.equal(ev.ts, at(/timestamp: (\S+),/.exec(body)![1]), f);
        compared++;
        break;
      }
      case 'RoomState': {
        assert.ok(ev && ev.kind === 'roomstate', f);
        const flag = (n: string) => (new RegExp(`${n}: Some\\(\\s*true`).test(body) ? true : new RegExp(`${n}: Some\\(\\s*false`).test(body) ? false : null);
        assert.equal(ev.emote_only, flag('emote_only'), f);
        assert.equal(ev.r9k, flag('r9k'), f);
        assert.equal(ev.subs_only, flag('subs_only'), f);
        const slow = /slow: Some\(\s*(\d+)(n?s)/.exec(body);
        assert.equal(ev.slow, slow ? (slow[2] === "ns" ? Number(slow[1]) / 1e9 : Number(slow[1])) : null, f);
        const fo = /followers_only: Some\(\s*(\w+)(?:\(\s*(?:Some\(\s*)?(\d+)s)?/.exec(body);
        const expectedFo = fo === null ? null : fo[1] === 'Disabled' ? -1 : fo[2] !== undefined ? Number(fo[2]) / 60 : 0;
        assert.equal(ev.followers_only, expectedFo, f);
        compared++;
        break;
      }
      default:
        // NOTICE, JOIN, PART, PING, PONG, USERSTATE, GLOBALUSERSTATE, WHISPER: documented non-events.
        assert.ok(!r.ok && r.ignored, `${f}: ${typeName} should be a documented rejection`);
        compared++;
    }
  }
  assert.equal(compared, 48);
});
