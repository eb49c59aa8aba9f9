/**
 * Event -> raw Twitch IRC line, the inverse of `ingest/irc-parser.ts`: parsing the output gives back
 * an equal event (same id, fields and tags; tag order may differ from the original line). Used to
 * replay imported (non-IRC) chat through the local IRC server and to test the parser both ways.
 */
import type { ChatEvent, EmotePosition } from '../core/events.ts';

/** IRCv3 tag-value escaping. */
export function escapeTagValue(v: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    let rep: string | null = null;
    if (c === 92) rep = '\\\\';
    else if (c === 59) rep = '\\:';
    else if (c === 32) rep = '\\s';
    else if (c === 13) rep = '\\r';
    else if (c === 10) rep = '\\n';
    if (rep !== null) {
      out += v.slice(from, i) + rep;
      from = i + 1;
    }
  }
  return from === 0 ? v : out + v.slice(from);
}

function badgesTag(b: Record<string, string>): string {
  let out = '';
  for (const k in b) out += (out ? ',' : '') + k + '/' + b[k];
  return out;
}

/** Groups positions by emote id in first-appearance order, as Twitch writes the tag. */
export function emotesTag(list: EmotePosition[]): string {
  const byId = new Map<string, string[]>();
  for (const e of list) {
    const ranges = byId.get(e.id);
    if (ranges) ranges.push(`${e.start}-${e.end}`);
    else byId.set(e.id, [`${e.start}-${e.end}`]);
  }
  return [...byId].map(([id, r]) => `${id}:${r.join(',')}`).join('/');
}

const bool = (b: boolean) => (b ? '1' : '0');

/** Builds `@k=v;...` from modelled fields, then the kept tags (which win, as they hold originals). */
function tagString(modelled: Array<[string, string | null]>, kept: Record<string, string>): string {
  const all: Record<string, string> = {};
  for (const [k, v] of modelled) if (v !== null) all[k] = v;
  for (const k in kept) all[k] = kept[k];
  const parts: string[] = [];
  for (const k in all) parts.push(all[k] === '' ? `${k}=` : `${k}=${escapeTagValue(all[k])}`);
  return parts.length ? '@' + parts.join(';') + ' ' : '';
}

/** The raw line for an event; `null` for lifecycle events, which have no IRC form. */
export function formatIrcLine(e: ChatEvent): string | null {
  const room: [string, string | null] = ['room-id', e.channel_id];
  const ts: [string, string | null] = ['tmi-sent-ts', String(e.ts)];
  const chan = '#' + e.channel;
  switch (e.kind) {
    case 'message': {
      const r = e.reply;
      const tags = tagString(
        [
          ['badge-info', badgesTag(e.badge_info)],
          ['badges', badgesTag(e.badges)],
          ['bits', e.bits === null ? null : String(e.bits)],
          ['color', e.color ?? ''],
          ['display-name', e.display_name ?? ''],
          ['emotes', emotesTag(e.emotes)],
          ['first-msg', bool(e.first_msg)],
          ['flags', e.flags ?? ''],
          ['id', e.id],
          ['reply-parent-msg-id', r?.parent_msg_id ?? null],
          ['reply-parent-user-id', r?.parent_user_id ?? null],
          ['reply-parent-user-login', r?.parent_login ?? null],
          ['reply-parent-display-name', r?.parent_display_name ?? null],
          ['reply-parent-msg-body', r?.parent_text ?? null],
          ['reply-thread-parent-msg-id', r?.thread_parent_msg_id ?? null],
          ['reply-thread-parent-user-login', r?.thread_parent_login ?? null],
          ['returning-chatter', bool(e.returning_chatter)],
          room,
          ['source-room-id', e.source_room_id],
          ['source-id', e.source_id],
          ts,
          ['user-id', e.user_id ?? ''],
        ],
        e.tags,
      );
      const text = e.action ? `\u0001ACTION ${e.text}\u0001` : e.text;
      return `${tags}:${e.login}!${e.login}@${e.login}.tmi.twitch.tv PRIVMSG ${chan} :${text}`;
    }
    case 'ban':
    case 'timeout': {
      const tags = tagString(
        [
          ['ban-duration', e.kind === 'timeout' ? String(e.duration_s) : null],
          ['ban-reason', e.reason],
          room,
          ['target-user-id', e.target_user_id],
          ts,
        ],
        e.tags,
      );
      return `${tags}:tmi.twitch.tv CLEARCHAT ${chan} :${e.target_login}`;
    }
    case 'clear':
      return `${tagString([room, ts], e.tags)}:tmi.twitch.tv CLEARCHAT ${chan}`;
    case 'delete':
      return `${tagString([['login', e.target_login], room, ['target-msg-id', e.target_msg_id], ts], e.tags)}:tmi.twitch.tv CLEARMSG ${chan} :${e.text}`;
    case 'usernotice': {
      const params: Array<[string, string]> = Object.entries(e.params).map(([k, v]) => [`msg-param-${k}`, v]);
      const tags = tagString(
        [
          ['badge-info', badgesTag(e.badge_info)],
          ['badges', badgesTag(e.badges)],
          ['color', e.color ?? ''],
          ['display-name', e.display_name],
          ['emotes', emotesTag(e.emotes)],
          ['id', e.id],
          ['login', e.login],
          ['msg-id', e.notice_type],
          ...params,
          room,
          ['source-room-id', e.source_room_id],
          ['system-msg', e.system_msg ?? ''],
          ts,
          ['user-id', e.user_id],
        ],
        e.tags,
      );
      return `${tags}:tmi.twitch.tv USERNOTICE ${chan}${e.text === null ? '' : ' :' + e.text}`;
    }
    case 'roomstate': {
      const f = (b: boolean | null) => (b === null ? null : bool(b));
      const n = (x: number | null) => (x === null ? null : String(x));
      const tags = tagString(
        [
          ['emote-only', f(e.emote_only)],
          ['followers-only', n(e.followers_only)],
          ['r9k', f(e.r9k)],
          room,
          ['slow', n(e.slow)],
          ['subs-only', f(e.subs_only)],
          ts,
        ],
        e.tags,
      );
      return `${tags}:tmi.twitch.tv ROOMSTATE ${chan}`;
    }
    case 'lifecycle':
      return null;
  }
}
