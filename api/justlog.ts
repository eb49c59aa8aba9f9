/**
 * Stored rows -> justlog's chat log shapes (gempir/justlog, as rustlog serves them too), so existing
 * log viewers read Twichist. Raw lines are rebuilt from the stored event with `ingest/irc-format.ts`.
 */
import type { ChatEvent, ChatMessage, EmotePosition, UserNotice } from '../core/events.ts';
import { formatIrcLine } from '../ingest/irc-format.ts';
import { splitIrcLine } from '../ingest/irc-parser.ts';

/** go-twitch-irc message types, as justlog writes them in `type`. */
export const JUSTLOG_TYPE = { PRIVMSG: 1, CLEARCHAT: 2, USERNOTICE: 4 } as const;

export interface JustlogMessage {
  text: string;
  username: string;
  displayName: string;
  channel: string;
  /** RFC 3339, second precision, UTC (Go's `time.RFC3339`). */
  timestamp: string;
  id: string;
  type: number;
  raw: string;
  tags: Record<string, string>;
}

export const EVENT_MESSAGE_COLUMNS = `id, channel, channel_id, toUnixTimestamp64Milli(ts) AS ts_ms, toUnixTimestamp64Milli(received_at) AS recv_ms, source, user_id, login,
  display_name, text, action, badges, badge_info, color, emotes, bits, first_msg, returning_chatter, reply_parent_msg_id, reply_parent_user_id,
  reply_parent_login, reply_parent_display_name, reply_parent_text, reply_thread_parent_msg_id, reply_thread_parent_login, source_room_id, source_id, flags, tags`;
export const EVENT_MOD_COLUMNS = `id, channel, channel_id, toUnixTimestamp64Milli(ts) AS ts_ms, toUnixTimestamp64Milli(received_at) AS recv_ms, source, toString(action) AS action,
  target_user_id, target_login, duration_s, reason, tags`;
export const EVENT_NOTICE_COLUMNS = `id, channel, channel_id, toUnixTimestamp64Milli(ts) AS ts_ms, toUnixTimestamp64Milli(received_at) AS recv_ms, source, notice_type, user_id,
  login, display_name, text, system_msg, params, badges, badge_info, color, emotes, source_room_id, tags`;

type Row = Record<string, unknown>;
const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
const base = (r: Row) => ({
  v: 1 as const,
  id: String(r.id),
  channel: String(r.channel),
  channel_id: str(r.channel_id),
  ts: Number(r.ts_ms),
  received_at: Number(r.recv_ms),
  source: (['live', 'import', 'replay'].includes(String(r.source)) ? r.source : 'import') as ChatMessage['source'],
  tags: (r.tags ?? {}) as Record<string, string>,
});

function emotes(v: unknown): EmotePosition[] {
  if (!Array.isArray(v)) return [];
  return v.map((e) => (Array.isArray(e) ? { id: String(e[0]), start: Number(e[1]), end: Number(e[2]) } : { id: String((e as Row).id), start: Number((e as Row).start), end: Number((e as Row).end) }));
}

/** Author fields messages and user notices share. */
const author = (r: Row) => ({
  user_id: str(r.user_id),
  display_name: str(r.display_name),
  badges: (r.badges ?? {}) as Record<string, string>,
  badge_info: (r.badge_info ?? {}) as Record<string, string>,
  color: str(r.color),
  emotes: emotes(r.emotes),
  source_room_id: str(r.source_room_id),
});

export function messageEvent(r: Row): ChatMessage {
  return {
    ...base(r),
    ...author(r),
    kind: 'message',
    login: String(r.login),
    text: String(r.text),
    action: Boolean(r.action),
    bits: r.bits === null || r.bits === undefined ? null : Number(r.bits),
    first_msg: Boolean(r.first_msg),
    returning_chatter: Boolean(r.returning_chatter),
    reply:
      r.reply_parent_msg_id === null || r.reply_parent_msg_id === undefined
        ? null
        : {
            parent_msg_id: String(r.reply_parent_msg_id),
            parent_user_id: str(r.reply_parent_user_id),
            parent_login: str(r.reply_parent_login),
            parent_display_name: str(r.reply_parent_display_name),
            parent_text: str(r.reply_parent_text),
            thread_parent_msg_id: str(r.reply_thread_parent_msg_id),
            thread_parent_login: str(r.reply_thread_parent_login),
          },
    source_id: str(r.source_id),
    flags: str(r.flags),
  };
}

export function modEvent(r: Row): ChatEvent {
  const b = base(r);
  if (r.action === 'timeout') return { ...b, kind: 'timeout', target_user_id: str(r.target_user_id), target_login: String(r.target_login), duration_s: Number(r.duration_s ?? 0), reason: str(r.reason) };
  return { ...b, kind: 'ban', target_user_id: str(r.target_user_id), target_login: String(r.target_login), reason: str(r.reason) };
}

export function noticeEvent(r: Row): UserNotice {
  return {
    ...base(r),
    ...author(r),
    kind: 'usernotice',
    notice_type: String(r.notice_type),
    login: str(r.login),
    text: str(r.text),
    system_msg: str(r.system_msg),
    params: (r.params ?? {}) as Record<string, string>,
  };
}

const rfc3339 = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** The justlog JSON message for a stored event; `null` for kinds justlog does not log. */
export function toJustlog(e: ChatEvent): JustlogMessage | null {
  const raw = formatIrcLine(e) ?? '';
  const tags = splitIrcLine(raw)?.tags ?? {};
  const common = { channel: e.channel, timestamp: rfc3339(e.ts), raw, tags };
  switch (e.kind) {
    case 'message':
      return { ...common, text: e.text, username: e.login, displayName: e.display_name ?? e.login, id: e.id, type: JUSTLOG_TYPE.PRIVMSG };
    case 'ban':
      return { ...common, text: `${e.target_login} has been banned`, username: e.target_login, displayName: e.target_login, id: '', type: JUSTLOG_TYPE.CLEARCHAT };
    case 'timeout':
      return { ...common, text: `${e.target_login} has been timed out for ${e.duration_s} seconds`, username: e.target_login, displayName: e.target_login, id: '', type: JUSTLOG_TYPE.CLEARCHAT };
    case 'usernotice': {
      const text = [e.system_msg, e.text].filter((t) => t !== null && t !== '').join(' ');
      return { ...common, text, username: e.login ?? '', displayName: e.display_name ?? e.login ?? '', id: e.id, type: JUSTLOG_TYPE.USERNOTICE };
    }
    default:
      return null;
  }
}

/** Go's `2006-01-2 15:04:05` (justlog's text layout: the day is not zero-padded). */
function textTime(iso: string): string {
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${d.getUTCDate()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

/** One line of justlog's plain-text log. */
export function justlogText(m: JustlogMessage): string {
  if (m.type === JUSTLOG_TYPE.PRIVMSG) return `[${textTime(m.timestamp)}] #${m.channel} ${m.username}: ${m.text}`;
  return `[${textTime(m.timestamp)}] #${m.channel} ${m.text}`;
}
