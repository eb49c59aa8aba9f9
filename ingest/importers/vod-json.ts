/**
 * VOD chat exports, read as a stream of JSON elements:
 * - Twitch GQL `VideoComment` arrays (`id`, `createdAt`, `commenter{id,login,displayName}`,
 *   `message{fragments[{text, emote{emoteID}}], userBadges[{setID|_id, version}], userColor, bitsSpent}`);
 * - legacy v5 rechat arrays (element 0 = video metadata with `channel.name`; then `_id`, `created_at`,
 *   `commenter{_id,name,display_name}`, `message{body, fragments, user_badges, emoticons, is_action}`);
 * - TwitchDownloader `{"streamer":{name,id},"video":{...},"comments":[...]}` with v5-shaped comments.
 * Ids are Twitch's comment ids, so a re-import stores nothing twice. Emote offsets are code points.
 *
 * Times: a comment's `createdAt`, except in GQL exports whose `createdAt` is not when the message was sent (see
 * {@link GqlClock}): there the VOD's start plus `contentOffsetSeconds`, plus k ms for the k-th comment of an offset.
 */
import { EXPORT_TIME_TAG, type ChatMessage, type EmotePosition, type EventSource } from '../../core/events.ts';
import { codePointLength } from '../irc-parser.ts';
import { streamJsonArray } from './json-stream.ts';
import { mayHoldNotUtf8, type Readable } from './input.ts';
import type { EventSink, ImportFormat, ImportOptions, ImportStats } from './types.ts';
import { NOT_IN_RECORDINGS, NOT_UTF8_REASON, countingSink, fileOrderClock, lineRejecter } from './types.ts';

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
  if (created === null || !Number.isFinite(ts) || ts < 0) return `bad or missing ${gql ? 'createdAt' : 'created_at'}`;
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
    // Every GQL message, retimed or not: the store looks for its copies within days of this time, so a copy stored
    // retimed by another import of the VOD (or at this time by one that could not retime: a file under a minute
    // of VOD) is found whichever came first.
    tags: gql ? { [EXPORT_TIME_TAG]: created } : {},
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

/** VOD time read before deciding whether a GQL export's `createdAt` can be trusted (and at most this many comments held). */
const DECIDE_AFTER_S = 600;
const DECIDE_AFTER_COMMENTS = 20_000;

/**
 * Decides, once per GQL export, whether its `createdAt` says when messages were sent. Twitch's GQL answered old VODs
 * with times that are not: 4 of the 5 real exports in ../shared/data (arypie 2021-2024) put 3,900-5,600 comments of
 * 5-10 hours within 6-11 s, starting 5-10 minutes after the stream did, while `contentOffsetSeconds` runs over the
 * whole VOD; stored as given, a 10-hour stream was one burst of 5,584 messages in 11 s. Sound exports (2025, and
 * every v5 one) keep `createdAt - contentOffsetSeconds` within a second or two. So: over the first 10 minutes of VOD
 * (at most 20,000 comments, held back meanwhile), `createdAt` must advance at least half as fast as the offsets;
 * otherwise every comment of the file is timed at the VOD's start plus its offset (whole seconds: what GQL gives;
 * the k-th comment of one offset k ms later, so reads keep the file's order, see types.ts `fileOrderClock`).
 * The start is `vod.json`'s `created_at` where the downloader left one beside the file, else the first comment's
 * `createdAt` minus its offset (5-10 minutes late on those exports: nothing in the file knows better).
 */
class GqlClock {
  private first: { ts: number; offset: number } | null = null;
  private last: { ts: number; offset: number } | null = null;
  /** null while undecided; then the start (epoch ms) to time comments from, or false when `createdAt` holds. */
  private start: number | false | null = null;
  retimed = 0;
  private readonly order = fileOrderClock();
  private startFrom = '';
  /** Over the retimed comments: the spans the note gives (the decision's window is only the first 10 minutes). */
  private given = { min: Infinity, max: -Infinity };
  private offsets = { min: Infinity, max: -Infinity };

  private readonly vodStart: (contentId: string | null) => number | null;

  constructor(vodStart: (contentId: string | null) => number | null) {
    this.vodStart = vodStart;
  }

  get decided(): boolean {
    return this.start !== null;
  }

  /** Feeds an undecided clock; true once it has seen enough to decide. */
  observe(m: ChatMessage, offset: number | null, held: number): boolean {
    if (offset !== null) {
      if (this.first === null) this.first = { ts: m.ts, offset };
      this.last = { ts: m.ts, offset };
    }
    return held >= DECIDE_AFTER_COMMENTS || (this.first !== null && this.last!.offset - this.first.offset >= DECIDE_AFTER_S);
  }

  /** Decides from what it observed. */
  decide(contentId: string | null): void {
    const f = this.first;
    const l = this.last;
    const offsetSpan = f === null ? 0 : l!.offset - f.offset;
    // Under a minute of VOD the two clocks cannot be told apart, and either is then at most a minute off.
    if (f === null || offsetSpan < 60 || l!.ts - f.ts >= (offsetSpan * 1000) / 2) {
      this.start = false;
      return;
    }
    const fromVod = this.vodStart(contentId);
    this.start = fromVod ?? f.ts - f.offset * 1000;
    this.startFrom = fromVod !== null ? "vod.json's created_at" : 'estimated from the first comment, minutes late: keep vod.json beside the file for the exact start';
  }

  /** For the import summary, once the file is read; null when `createdAt` held. */
  note(): string | null {
    if (typeof this.start !== 'number') return null;
    const given = this.retimed === 0 ? 0 : (this.given.max - this.given.min) / 1000;
    const vod = this.retimed === 0 ? 0 : this.offsets.max - this.offsets.min;
    return `${this.retimed} messages timed at the VOD's start ${new Date(this.start).toISOString()} (${this.startFrom}) plus contentOffsetSeconds: their createdAt spans ${given.toFixed(1)} s for ${Math.round(vod)} s of VOD, so it is not when they were sent; each keeps it in tag ${EXPORT_TIME_TAG}`;
  }

  /** The message timed by the decided clock, or a reason to reject it. */
  apply(m: ChatMessage, offset: number | null): ChatMessage | string {
    if (this.start === false || this.start === null) return m;
    if (offset === null) return "no contentOffsetSeconds, and this export's createdAt is not when messages were sent";
    // offsets are whole seconds: the comments of one are kept in file order within it (types.ts fileOrderClock)
    const ts = this.order(this.start + Math.round(offset * 1000));
    this.retimed++;
    this.given.min = Math.min(this.given.min, m.ts);
    this.given.max = Math.max(this.given.max, m.ts);
    this.offsets.min = Math.min(this.offsets.min, offset);
    this.offsets.max = Math.max(this.offsets.max, offset);
    return { ...m, ts, received_at: ts };
  }
}

/** A GQL comment's `contentOffsetSeconds`, or null when absent or not a time into a VOD. */
function offsetOf(c: Obj): number | null {
  const o = c.contentOffsetSeconds;
  return typeof o === 'number' && Number.isFinite(o) && o >= 0 && o < 1e7 ? o : null;
}

export async function importVodJson(
  text: Readable,
  file: string,
  format: ImportFormat,
  sink: EventSink,
  opts: ImportOptions,
  stats: ImportStats,
  fallbackChannel: (contentId: string | null) => string | null,
  vodStart: (contentId: string | null) => number | null = () => null,
): Promise<void> {
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
  const clock = format === 'gql' ? new GqlClock(vodStart) : null;
  // Only what timing needs, not the parsed comment: 20,000 held comments cost ~73 MB of heap with it.
  type Read = { m: ChatMessage; offset: number | null; contentId: string | null; element: string; raw: string };
  let held: Read[] = [];
  const release = async () => {
    clock!.decide(held.find((h) => h.contentId !== null)?.contentId ?? null);
    const list = held;
    held = [];
    for (const h of list) await timed(h);
  };
  const timed = async ({ m: read, offset, element, raw }: Read) => {
    const m = clock === null ? read : clock.apply(read, offset);
    if (typeof m === 'string') {
      reject(element, m, raw);
      return;
    }
    at = { element, raw };
    try {
      await emit(m);
    } catch (err) {
      sinkFailed = true;
      throw err;
    }
  };
  let sinkFailed = false;
  const finish = async () => {
    if (clock === null) return;
    if (!clock.decided) await release();
    const note = clock.note();
    if (note !== null) stats.notes.push(note);
  };
  try {
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
      const read: Read = { m, offset: clock === null ? null : offsetOf(c), contentId: str(c.contentId), element, raw: el.raw };
      if (clock !== null && !clock.decided) {
        held.push(read);
        if (clock.observe(m, read.offset, held.length)) await release();
        continue;
      }
      await timed(read);
    }
  } catch (err) {
    // A file that breaks mid-way (truncated gzip or JSON) still publishes what was read before the break, held
    // comments too; not when publishing is what failed.
    if (!sinkFailed) await finish();
    throw err;
  }
  await finish();
}
