/**
 * The one Twitch IRC parser: a raw IRCv3 line (as received live, stored in a raw log, or replayed by
 * the local test server) becomes one `core/events.ts` event, or a reason why it is not one.
 *
 * Written for throughput (>= 300,000 lines/s on one core, see `bench/ingest.ts`): tags are scanned with
 * `indexOf` instead of a regex per tag, values are unescaped only when they contain a backslash, and
 * emote ranges are validated against code-point length only when the text has surrogate pairs.
 *
 * Tags the event schema models become fields; every other tag stays in `tags` (unescaped), so
 * `ingest/irc-format.ts` can rebuild an equivalent line. When a modelled tag cannot be represented
 * faithfully (a malformed `emotes` or `badges` value), its original value is kept in `tags` as well.
 */
import type { ChatEvent, ChatMessage, EmotePosition, EventSource, Reply, RoomState, UserNotice } from '../core/events.ts';
import { deterministicId } from '../core/ids.ts';

/** A line split into IRCv3 parts. Tag values are unescaped. */
export interface IrcMessage {
  tags: Record<string, string>;
  /** `nick!user@host` or a server name, without the leading `:`; `null` when absent. */
  prefix: string | null;
  command: string;
  /** Middle params then the trailing param (without its `:`). */
  params: string[];
}

export interface ParseContext {
  /** When Twichist saw the line (epoch ms); also the event time when the line has no `tmi-sent-ts`. */
  receivedAt: number;
  source: EventSource;
}

/**
 * `ignored` = a well-formed line that is deliberately not a chat event (NOTICE, PING, JOIN, ...: see
 * ingest/README.md); otherwise the line is malformed and belongs in the dead-letter table.
 */
export type ParseOutcome =
  | { ok: true; event: ChatEvent }
  | { ok: false; ignored: boolean; command: string | null; reason: string };

/** Commands that are valid Twitch IRC but carry no chat event; each is documented in ingest/README.md. */
export const IGNORED_COMMANDS: ReadonlySet<string> = new Set([
  'PING', 'PONG', 'JOIN', 'PART', 'NOTICE', 'USERSTATE', 'GLOBALUSERSTATE', 'WHISPER', 'HOSTTARGET',
  'RECONNECT', 'CAP', 'PASS', 'NICK', 'MODE',
]);

/** Reverses IRCv3 tag escaping (`\s` space, `\:` `;`, `\\`, `\r`, `\n`; a lone trailing `\` is dropped). */
export function unescapeTagValue(v: string): string {
  if (v.indexOf('\\') < 0) return v;
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c !== 92) {
      out += v[i];
      continue;
    }
    i++;
    if (i >= v.length) break;
    const n = v[i];
    if (n === 's') out += ' ';
    else if (n === ':') out += ';';
    else if (n === 'r') out += '\r';
    else if (n === 'n') out += '\n';
    else out += n; // `\\` and unknown escapes drop the backslash, per the IRCv3 spec
  }
  return out;
}

/** Splits a raw line into tags, prefix, command and params; `null` when there is no command. */
export function splitIrcLine(line: string): IrcMessage | null {
  let end = line.length;
  // Tolerate CRLF / LF left on the line by line readers.
  while (end > 0 && (line.charCodeAt(end - 1) === 10 || line.charCodeAt(end - 1) === 13)) end--;
  let i = 0;
  while (i < end && line.charCodeAt(i) === 32) i++;
  const tags: Record<string, string> = {};
  if (line.charCodeAt(i) === 64 /* @ */) {
    let sp = line.indexOf(' ', i);
    if (sp < 0 || sp > end) return null;
    let p = i + 1;
    while (p < sp) {
      let semi = line.indexOf(';', p);
      if (semi < 0 || semi > sp) semi = sp;
      const eq = line.indexOf('=', p);
      if (eq >= 0 && eq < semi) {
        const key = line.slice(p, eq);
        if (key.length > 0) tags[key] = unescapeTagValue(line.slice(eq + 1, semi));
      } else if (semi > p) {
        tags[line.slice(p, semi)] = '';
      }
      p = semi + 1;
    }
    i = sp + 1;
    while (i < end && line.charCodeAt(i) === 32) i++;
  }
  const head = scanHead(line, i, end);
  if (head === null) return null;
  const { prefix, command } = head;
  i = head.next;
  const params: string[] = [];
  while (i < end) {
    if (line.charCodeAt(i) === 32) {
      i++;
      continue;
    }
    if (line.charCodeAt(i) === 58) {
      params.push(line.slice(i + 1, end));
      break;
    }
    let s = line.indexOf(' ', i);
    if (s < 0 || s > end) s = end;
    params.push(line.slice(i, s));
    i = s + 1;
  }
  return { tags, prefix, command, params };
}

/**
 * Tags the schema models, across all commands. The scanner stores them in fixed slots instead of
 * building a string-keyed object per line: allocating ~20 key strings per line cost more than half of
 * the parse time (measured: 285k vs 430k lines/s for the tag pass alone).
 */
const K = [
  'id', 'tmi-sent-ts', 'room-id', 'user-id', 'display-name', 'badges', 'badge-info', 'color', 'emotes', 'bits',
  'first-msg', 'returning-chatter', 'reply-parent-msg-id', 'reply-parent-user-id', 'reply-parent-user-login',
  'reply-parent-display-name', 'reply-parent-msg-body', 'reply-thread-parent-msg-id', 'reply-thread-parent-user-login',
  'source-room-id', 'source-id', 'flags', 'target-user-id', 'ban-duration', 'ban-reason', 'login', 'target-msg-id',
  'msg-id', 'system-msg', 'emote-only', 'followers-only', 'r9k', 'slow', 'subs-only',
] as const;
const S_ID = 0, S_TS = 1, S_ROOM = 2, S_USER_ID = 3, S_DISPLAY = 4, S_BADGES = 5, S_BADGE_INFO = 6, S_COLOR = 7, S_EMOTES = 8,
  S_BITS = 9, S_FIRST = 10, S_RETURNING = 11, S_RP_MSG = 12, S_RP_USER_ID = 13, S_RP_LOGIN = 14, S_RP_DISPLAY = 15,
  S_RP_BODY = 16, S_RT_MSG = 17, S_RT_LOGIN = 18, S_SOURCE_ROOM = 19, S_SOURCE_ID = 20, S_FLAGS = 21, S_TARGET_USER = 22,
  S_BAN_DURATION = 23, S_BAN_REASON = 24, S_LOGIN = 25, S_TARGET_MSG = 26, S_MSG_ID = 27, S_SYSTEM_MSG = 28,
  S_EMOTE_ONLY = 29, S_FOLLOWERS = 30, S_R9K = 31, S_SLOW = 32, S_SUBS = 33;
const NSLOTS = K.length;
/**
 * Tag keys by a small hash of (length, first char, last char), verified char by char. Known keys map
 * to their slot; other keys seen before map to their interned string (slot -1), so the common unknown
 * tags (`mod`, `turbo`, `client-nonce`, ...) cost no string allocation or string-table lookup either.
 * Measured: the tag pass went from ~215k to ~400k lines/s compared with slicing every key.
 */
interface KeyEntry {
  key: string;
  slot: number;
  /** The key's char codes: the verification loop then reads one string per step instead of two. */
  codes: Uint16Array;
}
const keyEntry = (key: string, slot: number): KeyEntry => ({ key, slot, codes: Uint16Array.from(key, (c) => c.charCodeAt(0)) });
const keyBucket = (len: number, first: number, last: number) => ((len & 63) << 10) | ((first & 31) << 5) | (last & 31);
const KEYS: Array<KeyEntry | undefined> = new Array(1 << 16).fill(undefined);
let learnedKeys = 0;
for (let i = 0; i < NSLOTS; i++) {
  const b = keyBucket(K[i].length, K[i].charCodeAt(0), K[i].charCodeAt(K[i].length - 1));
  if (KEYS[b] !== undefined) throw new Error(`irc-parser: tag key bucket collision for ${K[i]}`);
  KEYS[b] = keyEntry(K[i], i);
}

/** Slots each command models; every other slot that is present goes back into `tags`. */
const MODELLED: Record<string, ReadonlySet<number>> = {
  PRIVMSG: new Set([S_ID, S_TS, S_ROOM, S_USER_ID, S_DISPLAY, S_BADGES, S_BADGE_INFO, S_COLOR, S_EMOTES, S_BITS, S_FIRST,
    S_RETURNING, S_RP_MSG, S_RP_USER_ID, S_RP_LOGIN, S_RP_DISPLAY, S_RP_BODY, S_RT_MSG, S_RT_LOGIN, S_SOURCE_ROOM, S_SOURCE_ID, S_FLAGS]),
  CLEARCHAT: new Set([S_TS, S_ROOM, S_TARGET_USER, S_BAN_DURATION, S_BAN_REASON]),
  CLEARMSG: new Set([S_TS, S_ROOM, S_LOGIN, S_TARGET_MSG]),
  USERNOTICE: new Set([S_ID, S_TS, S_ROOM, S_MSG_ID, S_USER_ID, S_LOGIN, S_DISPLAY, S_SYSTEM_MSG, S_BADGES, S_BADGE_INFO, S_COLOR, S_EMOTES, S_SOURCE_ROOM]),
  ROOMSTATE: new Set([S_TS, S_ROOM, S_EMOTE_ONLY, S_FOLLOWERS, S_R9K, S_SLOW, S_SUBS]),
};
const UNMODELLED: Record<string, number[]> = {};
for (const cmd in MODELLED) UNMODELLED[cmd] = [...Array(NSLOTS).keys()].filter((i) => !MODELLED[cmd].has(i));

/** Reused across calls: the parser is synchronous, so one scratch array is safe and saves an allocation per line. */
const vals: Array<string | undefined> = new Array(NSLOTS).fill(undefined);

/** `:prefix COMMAND ` at `i`: the prefix (null when absent), the command, and where the params start. */
function scanHead(line: string, i: number, end: number): { prefix: string | null; command: string; next: number } | null {
  let prefix: string | null = null;
  if (line.charCodeAt(i) === 58 /* : */) {
    let sp = line.indexOf(' ', i);
    if (sp < 0 || sp > end) sp = end;
    prefix = line.slice(i + 1, sp);
    i = sp + 1;
    while (i < end && line.charCodeAt(i) === 32) i++;
  }
  if (i >= end) return null;
  let sp = line.indexOf(' ', i);
  if (sp < 0 || sp > end) sp = end;
  return { prefix, command: line.slice(i, sp), next: sp + 1 };
}

/** Parses one raw line into an event. Never throws. */
export function parseIrcLine(line: string, ctx: ParseContext): ParseOutcome {
  let end = line.length;
  while (end > 0 && (line.charCodeAt(end - 1) === 10 || line.charCodeAt(end - 1) === 13)) end--;
  let i = 0;
  while (i < end && line.charCodeAt(i) === 32) i++;
  for (let s = 0; s < NSLOTS; s++) vals[s] = undefined;
  let rest: Record<string, string> = {};
  if (line.charCodeAt(i) === 64 /* @ */) {
    const sp = line.indexOf(' ', i);
    if (sp < 0 || sp >= end) return { ok: false, ignored: false, command: null, reason: 'not an IRC line (tags only)' };
    // Next backslash in the tag section: values are unescaped only when one falls inside them.
    let esc = line.indexOf('\\', i);
    if (esc > sp) esc = -1;
    let p = i + 1;
    while (p < sp) {
      let semi = line.indexOf(';', p);
      if (semi < 0 || semi > sp) semi = sp;
      let eq = line.indexOf('=', p);
      if (eq < 0 || eq > semi) eq = semi;
      const klen = eq - p;
      if (klen > 0) {
        let value = eq < semi ? line.slice(eq + 1, semi) : '';
        if (esc >= 0 && esc < semi) {
          value = unescapeTagValue(value);
          esc = line.indexOf('\\', semi);
          if (esc > sp) esc = -1;
        }
        const b = keyBucket(klen, line.charCodeAt(p), line.charCodeAt(eq - 1));
        const entry = KEYS[b];
        let hit = entry !== undefined && entry.key.length === klen;
        if (hit) {
          const k = (entry as KeyEntry).codes;
          for (let q = 1; q < klen - 1; q++) {
            if (k[q] !== line.charCodeAt(p + q)) {
              hit = false;
              break;
            }
          }
        }
        if (hit) {
          const e = entry as KeyEntry;
          if (e.slot >= 0) vals[e.slot] = value;
          else rest[e.key] = value;
        } else {
          const key = line.slice(p, eq);
          rest[key] = value;
          // Bounded: a flood of random tag keys cannot grow this beyond 4,096 entries.
          if (entry === undefined && learnedKeys < 4096) {
            KEYS[b] = keyEntry(key, -1);
            learnedKeys++;
          }
        }
      }
      p = semi + 1;
    }
    i = sp + 1;
    while (i < end && line.charCodeAt(i) === 32) i++;
  }
  const head = scanHead(line, i, end);
  if (head === null) return { ok: false, ignored: false, command: null, reason: 'not an IRC line (no command)' };
  const { prefix, command } = head;
  const unmodelled = UNMODELLED[command];
  if (unmodelled === undefined) {
    if (IGNORED_COMMANDS.has(command) || (command.length === 3 && toInt(command) >= 0)) {
      return { ok: false, ignored: true, command, reason: `not a chat event: ${command}` };
    }
    return { ok: false, ignored: false, command, reason: `unknown command ${JSON.stringify(command.slice(0, 40))}` };
  }
  // Params: Twitch chat commands have `#channel` and at most one trailing param.
  i = head.next;
  while (i < end && line.charCodeAt(i) === 32) i++;
  if (line.charCodeAt(i) !== 35 /* # */) return { ok: false, ignored: false, command, reason: `${command} without a #channel` };
  let cs = line.indexOf(' ', i);
  if (cs < 0 || cs > end) cs = end;
  if (cs - i < 2) return { ok: false, ignored: false, command, reason: `${command} without a #channel` };
  const channel = line.slice(i + 1, cs).toLowerCase();
  let trailing: string | null = null;
  i = cs + 1;
  while (i < end && line.charCodeAt(i) === 32) i++;
  if (i < end) trailing = line.charCodeAt(i) === 58 ? line.slice(i + 1, end) : line.slice(i, end);
  for (let u = 0; u < unmodelled.length; u++) {
    const s = unmodelled[u];
    if (vals[s] !== undefined) rest[K[s]] = vals[s] as string;
  }
  let ts = ctx.receivedAt;
  const sent = vals[S_TS];
  if (sent !== undefined) {
    ts = toInt(sent);
    if (ts < 0) return { ok: false, ignored: false, command, reason: `bad tmi-sent-ts ${JSON.stringify(sent.slice(0, 40))}` };
  }
  const h: Head = { channel, channelId: nonEmpty(vals[S_ROOM]), ts, ctx, prefix, trailing, rest };
  switch (command) {
    case 'PRIVMSG':
      return privmsg(h);
    case 'CLEARCHAT':
      return clearchat(h);
    case 'CLEARMSG':
      return clearmsg(h);
    case 'USERNOTICE':
      return usernotice(h);
    default:
      return roomstate(h);
  }
}

interface Head {
  channel: string;
  channelId: string | null;
  ts: number;
  ctx: ParseContext;
  prefix: string | null;
  trailing: string | null;
  /** Unmodelled tags; the builders add modelled tags they could not represent. */
  rest: Record<string, string>;
}

const REPLY_SLOTS = [S_RP_USER_ID, S_RP_LOGIN, S_RP_DISPLAY, S_RP_BODY, S_RT_MSG, S_RT_LOGIN];

function privmsg(h: Head): ParseOutcome {
  const login = nickOf(h.prefix);
  if (login === null) return { ok: false, ignored: false, command: 'PRIVMSG', reason: 'PRIVMSG without a sender nick' };
  let text = h.trailing ?? '';
  let action = false;
  // CTCP ACTION (`/me`): "\x01ACTION text\x01"; the closing \x01 is sometimes missing.
  if (text.charCodeAt(0) === 1 && text.startsWith('\u0001ACTION ')) {
    action = true;
    text = text.slice(8, text.charCodeAt(text.length - 1) === 1 ? text.length - 1 : text.length);
  }
  if (text.length > 20_000) return { ok: false, ignored: false, command: 'PRIVMSG', reason: `text longer than 20000 characters (${text.length})` };
  const rest = h.rest;
  const badges = parseBadges(vals[S_BADGES]);
  if (badges === null) rest.badges = vals[S_BADGES] as string;
  const badgeInfo = parseBadges(vals[S_BADGE_INFO]);
  if (badgeInfo === null) rest['badge-info'] = vals[S_BADGE_INFO] as string;
  const emotes = parseEmotes(vals[S_EMOTES], text);
  if (emotes.bad) rest.emotes = vals[S_EMOTES] as string;
  const bitsRaw = vals[S_BITS];
  let bits: number | null = null;
  if (bitsRaw !== undefined && bitsRaw !== '') {
    bits = toInt(bitsRaw);
    if (bits < 0) {
      bits = null;
      rest.bits = bitsRaw;
    }
  }
  let reply: Reply | null = null;
  const parent = nonEmpty(vals[S_RP_MSG]);
  if (parent !== null) {
    reply = {
      parent_msg_id: parent,
      parent_user_id: nonEmpty(vals[S_RP_USER_ID]),
      parent_login: nonEmpty(vals[S_RP_LOGIN]),
      parent_display_name: nonEmpty(vals[S_RP_DISPLAY]),
      parent_text: vals[S_RP_BODY] ?? null,
      thread_parent_msg_id: nonEmpty(vals[S_RT_MSG]),
      thread_parent_login: nonEmpty(vals[S_RT_LOGIN]),
    };
  } else {
    // Reply tags without a parent id cannot be modelled; keep them verbatim.
    for (const s of REPLY_SLOTS) if (vals[s] !== undefined) rest[K[s]] = vals[s] as string;
    if (vals[S_RP_MSG] !== undefined) rest[K[S_RP_MSG]] = vals[S_RP_MSG] as string;
  }
  const event: ChatMessage = {
    v: 1,
    id: nonEmpty(vals[S_ID]) ?? deterministicId('msg', h.channel, login, h.ts, text),
    channel: h.channel,
    channel_id: h.channelId,
    ts: h.ts,
    received_at: h.ctx.receivedAt,
    source: h.ctx.source,
    tags: rest,
    kind: 'message',
    user_id: nonEmpty(vals[S_USER_ID]),
    login,
    display_name: nonEmpty(vals[S_DISPLAY]),
    text,
    action,
    badges: badges ?? {},
    badge_info: badgeInfo ?? {},
    color: nonEmpty(vals[S_COLOR]),
    emotes: emotes.list,
    bits,
    first_msg: vals[S_FIRST] === '1',
    returning_chatter: vals[S_RETURNING] === '1',
    reply,
    source_room_id: nonEmpty(vals[S_SOURCE_ROOM]),
    source_id: nonEmpty(vals[S_SOURCE_ID]),
    flags: nonEmpty(vals[S_FLAGS]),
  };
  return { ok: true, event };
}

function baseOf(h: Head, id: string) {
  return { v: 1 as const, id, channel: h.channel, channel_id: h.channelId, ts: h.ts, received_at: h.ctx.receivedAt, source: h.ctx.source, tags: h.rest };
}

function clearchat(h: Head): ParseOutcome {
  const target = nonEmpty(h.trailing ?? undefined)?.toLowerCase() ?? null;
  const durRaw = vals[S_BAN_DURATION];
  let duration: number | null = null;
  if (durRaw !== undefined && durRaw !== '') {
    duration = toInt(durRaw);
    if (duration < 0) return { ok: false, ignored: false, command: 'CLEARCHAT', reason: `bad ban-duration ${JSON.stringify(durRaw.slice(0, 40))}` };
  }
  const id = deterministicId('clearchat', h.channel, target, h.ts, duration);
  if (target === null) {
    for (const s of [S_TARGET_USER, S_BAN_DURATION, S_BAN_REASON]) if (vals[s] !== undefined) h.rest[K[s]] = vals[s] as string;
    return { ok: true, event: { ...baseOf(h, id), kind: 'clear' } };
  }
  if (durRaw === '') h.rest['ban-duration'] = '';
  const common = { ...baseOf(h, id), target_user_id: nonEmpty(vals[S_TARGET_USER]), target_login: target, reason: nonEmpty(vals[S_BAN_REASON]) };
  if (duration === null) return { ok: true, event: { ...common, kind: 'ban' } };
  return { ok: true, event: { ...common, kind: 'timeout', duration_s: duration } };
}

function clearmsg(h: Head): ParseOutcome {
  const target = nonEmpty(vals[S_TARGET_MSG]);
  const login = nonEmpty(vals[S_LOGIN])?.toLowerCase() ?? null;
  if (target === null) return { ok: false, ignored: false, command: 'CLEARMSG', reason: 'CLEARMSG without target-msg-id' };
  if (login === null) return { ok: false, ignored: false, command: 'CLEARMSG', reason: 'CLEARMSG without login' };
  // Twitch gives CLEARMSG no id of its own; a message can only be deleted once.
  return { ok: true, event: { ...baseOf(h, deterministicId('clearmsg', h.channel, target)), kind: 'delete', target_msg_id: target, target_login: login, text: h.trailing ?? '' } };
}

function usernotice(h: Head): ParseOutcome {
  const type = nonEmpty(vals[S_MSG_ID]);
  if (type === null) return { ok: false, ignored: false, command: 'USERNOTICE', reason: 'USERNOTICE without msg-id' };
  const text = h.trailing;
  const all = h.rest;
  const rest: Record<string, string> = {};
  const params: Record<string, string> = {};
  for (const k in all) {
    if (k.startsWith('msg-param-')) params[k.slice(10)] = all[k];
    else rest[k] = all[k];
  }
  const badges = parseBadges(vals[S_BADGES]);
  if (badges === null) rest.badges = vals[S_BADGES] as string;
  const badgeInfo = parseBadges(vals[S_BADGE_INFO]);
  if (badgeInfo === null) rest['badge-info'] = vals[S_BADGE_INFO] as string;
  const emotes = parseEmotes(vals[S_EMOTES], text ?? '');
  if (emotes.bad) rest.emotes = vals[S_EMOTES] as string;
  const login = nonEmpty(vals[S_LOGIN])?.toLowerCase() ?? null;
  const event: UserNotice = {
    ...baseOf({ ...h, rest }, nonEmpty(vals[S_ID]) ?? deterministicId('usernotice', h.channel, type, login, h.ts, text)),
    kind: 'usernotice',
    notice_type: type,
    user_id: nonEmpty(vals[S_USER_ID]),
    login,
    display_name: nonEmpty(vals[S_DISPLAY]),
    text,
    system_msg: nonEmpty(vals[S_SYSTEM_MSG]),
    params,
    badges: badges ?? {},
    badge_info: badgeInfo ?? {},
    color: nonEmpty(vals[S_COLOR]),
    emotes: emotes.list,
    source_room_id: nonEmpty(vals[S_SOURCE_ROOM]),
  };
  return { ok: true, event };
}

function roomstate(h: Head): ParseOutcome {
  const rest = h.rest;
  const flag = (s: number): boolean | null => {
    const v = vals[s];
    if (v === undefined) return null;
    if (v === '1') return true;
    if (v === '0') return false;
    rest[K[s]] = v;
    return null;
  };
  const num = (s: number, min: number): number | null => {
    const v = vals[s];
    if (v === undefined) return null;
    // Only "-1" is a valid negative (followers-only off).
    const n = v === '-1' ? -1 : toInt(v);
    if (n < min) {
      rest[K[s]] = v;
      return null;
    }
    return n;
  };
  const fields = { emote_only: flag(S_EMOTE_ONLY), followers_only: num(S_FOLLOWERS, -1), r9k: flag(S_R9K), slow: num(S_SLOW, 0), subs_only: flag(S_SUBS) };
  const b = (x: boolean | null) => (x === null ? null : x ? 1 : 0);
  const id = deterministicId('roomstate', h.channel, h.channelId, h.ts, b(fields.emote_only), fields.followers_only, b(fields.r9k), fields.slow, b(fields.subs_only));
  const event: RoomState = { ...baseOf(h, id), kind: 'roomstate', ...fields };
  return { ok: true, event };
}

/** `nick!user@host` -> nick (lowercase); `null` for server prefixes and absent prefixes. */
function nickOf(prefix: string | null): string | null {
  if (prefix === null || prefix.length === 0) return null;
  const bang = prefix.indexOf('!');
  const nick = bang >= 0 ? prefix.slice(0, bang) : prefix.indexOf('.') >= 0 ? null : prefix;
  return nick === null || nick.length === 0 || nick.length > 64 ? null : nick.toLowerCase();
}

function nonEmpty(v: string | undefined): string | null {
  return v === undefined || v === '' ? null : v;
}

/** Non-negative decimal integer, or -1 when `s` is not one. Cheaper than Number() + checks. */
function toInt(s: string): number {
  if (s.length === 0 || s.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * `subscriber/12,premium/1` -> ordered record; `null` when an entry has no `/` (the raw value is then
 * kept in `tags` so the line can be rebuilt). Values are already unescaped (`\s` in badge-info).
 */
export function parseBadges(raw: string | undefined): Record<string, string> | null {
  const out: Record<string, string> = {};
  if (raw === undefined || raw === '') return out;
  let p = 0;
  let ok = true;
  while (p <= raw.length) {
    let comma = raw.indexOf(',', p);
    if (comma < 0) comma = raw.length;
    const slash = raw.indexOf('/', p);
    if (slash >= 0 && slash < comma && slash > p) out[raw.slice(p, slash)] = raw.slice(slash + 1, comma);
    else ok = false;
    p = comma + 1;
  }
  return ok ? out : null;
}

/**
 * `25:0-4,12-16/1902:6-10` -> positions sorted by start. Ranges that are malformed, reversed or beyond
 * the text (in code points) are dropped and flagged `bad`, so the raw tag is kept for rebuilding.
 */
export function parseEmotes(raw: string | undefined, text: string): { list: EmotePosition[]; bad: boolean } {
  const list: EmotePosition[] = [];
  if (raw === undefined || raw === '') return { list, bad: false };
  let bad = false;
  let cpLen = -1;
  let p = 0;
  while (p < raw.length) {
    let slash = raw.indexOf('/', p);
    if (slash < 0) slash = raw.length;
    const colon = raw.indexOf(':', p);
    if (colon < 0 || colon > slash || colon === p) {
      bad = true;
      p = slash + 1;
      continue;
    }
    const id = raw.slice(p, colon);
    let q = colon + 1;
    while (q < slash) {
      let comma = raw.indexOf(',', q);
      if (comma < 0 || comma > slash) comma = slash;
      const dash = raw.indexOf('-', q);
      let start = -1;
      let end = -1;
      if (dash > q && dash < comma) {
        start = toInt(raw.slice(q, dash));
        end = toInt(raw.slice(dash + 1, comma));
      }
      if (start < 0 || end < start || end >= text.length) bad = true;
      else {
        if (cpLen < 0 && end >= codePointFloor(text)) cpLen = codePointLength(text);
        if (cpLen >= 0 && end >= cpLen) bad = true;
        else list.push({ id, start, end });
      }
      q = comma + 1;
    }
    p = slash + 1;
  }
  if (list.length > 1) list.sort((a, b) => a.start - b.start);
  return { list, bad };
}

/** A lower bound of the code-point length that is exact for texts without surrogates (the common case). */
function codePointFloor(text: string): number {
  return text.length >> 1;
}

export function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}
