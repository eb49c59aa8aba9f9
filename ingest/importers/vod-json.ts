/**
 * VOD chat exports, read as a stream of JSON elements:
 * - Twitch GQL `VideoComment` arrays (`id`, `createdAt`, `commenter{id,login,displayName}`,
 *   `message{fragments[{text, emote{emoteID}}], userBadges[{setID|_id, version}], userColor, bitsSpent}`);
 * - legacy v5 rechat arrays (element 0 = video metadata with `channel.name`; then `_id`, `created_at`,
 *   `commenter{_id,name,display_name}`, `message{body, fragments, user_badges, emoticons, is_action}`);
 * - TwitchDownloader `{"streamer":{name,id},"video":{...},"comments":[...]}` with v5-shaped comments.
 * Ids are Twitch's comment ids, so a re-import stores nothing twice. Emote offsets are code points.
 */
import type { ChatMessage, EmotePosition, EventSource } from '../../core/events.ts';
import { codePointLength } from '../irc-parser.ts';
import { streamJsonArray } from './json-stream.ts';
import { mayHoldNotUtf8, type Readable } from './input.ts';
import type { EventSink, ImportFormat, ImportOptions, ImportStats } from './types.ts';
import { NOT_IN_RECORDINGS, NOT_UTF8_REASON, countingSink, lineRejecter } from './types.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null);

export function detectVodJson(head: string): ImportFormat | null {
  const t = head.trimStart();
  if (t.startsWith('{') && /"comments"\s*:/.test(t)) return 'twitchdownloader';
  if (!t.startsWith('[')) return null;
  if (/"contentOffsetSeconds"\s*:/.test(t) || /"displayName"\s*:/.test(t)) return 'gql';
  if (/"content_offset_seconds"\s*:/.test(t) || /"broadcast_type"\s*:/.test(t)) return 'v5';
  return null;
}

/** Badges from `[{setID|_id, version}]`. */
function badges(list: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(list)) return out;
  for (const b of list) {
    if (!isObj(b)) continue;
    const id = str(b.setID) ?? str(b._id) ?? str(b.id);
    const v = str(b.version);
    if (id !== null && v !== null) out[id] = v;
  }
  return out;
}

/** Emote positions from fragments: each fragment's code-point span, where it is an emote. */
function emotesFromFragments(frags: unknown, idOf: (f: Obj) => string | null): { text: string; emotes: EmotePosition[] } | null {
  if (!Array.isArray(frags) || frags.length === 0) return null;
  let text = '';
  let pos = 0;
  const emotes: EmotePosition[] = [];
  for (const f of frags) {
    if (!isObj(f) || typeof f.text !== 'string') return null;
    const len = codePointLength(f.text);
    const id = idOf(f);
    if (id !== null && len > 0) emotes.push({ id, start: pos, end: pos + len - 1 });
    text += f.text;
    pos += len;
  }
  return { text, emotes };
}

function toMessage(c: Obj, format: ImportFormat, channel: string, channelId: string | null, source: EventSource): ChatMessage | string {
  const gql = format === 'gql';
  const id = str(gql ? c.id : c._id);
  if (id === null) return 'comment without an id';
  // Only an ISO date-time: Date.parse also reads a number or "-5" (as 2001-05-01), and str() made numbers strings.
  const createdRaw = gql ? c.createdAt : c.created_at;
  const created = typeof createdRaw === 'string' && /^[+-]?\d{4,6}-\d\d-\d\dT\d\d:\d\d/.test(createdRaw) ? createdRaw : null;
  const ts = created === null ? NaN : Date.parse(created);
  if (!Number.isFinite(ts) || ts < 0) return `bad or missing ${gql ? 'createdAt' : 'created_at'}`;
  const who = c.commenter;
  if (!isObj(who)) return 'comment without a commenter (deleted user?)';
  const login = (str(gql ? who.login : who.name) ?? '').toLowerCase();
  if (login === '' || login.length > 64) return 'commenter without a login';
  const m = c.message;
  if (!isObj(m)) return 'comment without a message';
  let text: string;
  let emotes: EmotePosition[] = [];
  if (gql) {
    const r = emotesFromFragments(m.fragments, (f) => (isObj(f.emote) ? str(f.emote.emoteID) ?? str(f.emote.emoticon_id) ?? str(f.emote.id) : null));
    if (r === null) {
      if (typeof m.body !== 'string') return 'message without fragments or body';
      text = m.body;
    } else ({ text, emotes } = r);
  } else {
    if (typeof m.body !== 'string') return 'message without a body';
    text = m.body;
    if (Array.isArray(m.emoticons) && m.emoticons.length > 0) {
      for (const e of m.emoticons) {
        if (!isObj(e)) continue;
        const eid = str(e._id) ?? str(e.id);
        if (eid !== null && typeof e.begin === 'number' && typeof e.end === 'number' && e.end >= e.begin && e.begin >= 0) emotes.push({ id: eid, start: e.begin, end: e.end });
      }
    } else {
      const r = emotesFromFragments(m.fragments, (f) => (isObj(f.emoticon) ? str(f.emoticon.emoticon_id) ?? str(f.emoticon.id) : null));
      if (r !== null && r.text === text) emotes = r.emotes;
    }
    emotes.sort((a, b) => a.start - b.start);
  }
  if (text.length > 20_000) return 'message longer than 20000 characters';
  const bitsRaw = gql ? m.bitsSpent : m.bits_spent;
  const bits = typeof bitsRaw === 'number' && bitsRaw > 0 ? Math.trunc(bitsRaw) : null;
  return {
    v: 1,
    id,
    channel,
    channel_id: str(gql ? c.channelId : c.channel_id) ?? channelId,
    ts,
    received_at: ts,
    source,
    tags: {},
    kind: 'message',
    user_id: str(gql ? who.id : who._id),
    login,
    display_name: str(gql ? who.displayName : who.display_name),
    text,
    action: m.is_action === true,
    badges: badges(gql ? m.userBadges : m.user_badges),
    badge_info: {},
    color: str(gql ? m.userColor : m.user_color),
    emotes,
    bits,
    ...NOT_IN_RECORDINGS,
  };
}

export async function importVodJson(text: Readable, file: string, format: ImportFormat, sink: EventSink, opts: ImportOptions, stats: ImportStats, fallbackChannel: (contentId: string | null) => string | null): Promise<void> {
  const source = opts.source ?? 'import';
  let channel: string | null = opts.channel ?? null;
  let channelId: string | null = null;
  const onMember = (key: string, value: unknown) => {
    if (key === 'streamer' && isObj(value)) {
      if (channel === null) channel = str(value.name)?.toLowerCase() ?? null;
      channelId = str(value.id);
    }
  };
  const reject = lineRejecter(file, opts, stats);
  let at = { element: '', raw: '' };
  const emit = countingSink(sink, stats, (reason) => reject(at.element, reason, at.raw));
  for await (const el of streamJsonArray(text, { arrayKey: 'comments', onMember })) {
    stats.units++;
    const element = `#${el.index}`;
    if (el.error !== null) {
      reject(element, `invalid JSON: ${el.error}`, el.raw);
      continue;
    }
    if (mayHoldNotUtf8(text, el.raw)) {
      reject(element, NOT_UTF8_REASON, el.raw);
      continue;
    }
    const c = el.value;
    if (!isObj(c)) {
      reject(element, 'element is not an object', el.raw);
      continue;
    }
    // v5: element 0 is the video's metadata, naming the channel.
    if (format === 'v5' && el.index === 0 && !('commenter' in c)) {
      if (channel === null && isObj(c.channel)) channel = str(c.channel.name)?.toLowerCase() ?? null;
      stats.ignored++;
      continue;
    }
    channel ??= fallbackChannel(str(c.contentId));
    // Nothing later in the file can name it: fail the file once instead of rejecting every comment.
    if (channel === null) throw new Error(`the export does not name its channel; pass --channel${format === 'gql' ? ' (or keep the downloader\'s <channel>/<date>_<vod id>/ folders)' : ''}`);
    const m = toMessage(c, format, channel, channelId, source);
    if (typeof m === 'string') {
      reject(element, m, el.raw);
      continue;
    }
    at = { element, raw: el.raw };
    await emit(m);
  }
}
