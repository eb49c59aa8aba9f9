/**
 * Minimal Chatty log reader producing core `ChatEvent`s, for the enrich tests until (and
 * independently of) the ingest engineer's importer. Lines: `[HH:MM:SS] <user> text` (or `<user>* text`, /me) -> message,
 * `[HH:MM:SS] BAN: a (600s), b` -> one timeout per name with a duration, one ban per name without.
 * Times are the header's zone (+0800) converted to UTC; ids are deterministic per line and position,
 * so identical lines in the same second stay distinct events.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChatEvent } from '../../../core/events.ts';
import { deterministicId } from '../../../core/ids.ts';
import { SHARED_DATA } from '../../support/paths.ts';

export const RIOT_LOG = path.join(SHARED_DATA, 'chatty', 'riotgames', 'riotgames1.log');
export const RIOT_MESSAGES = 43_301;
export const RIOT_MOD_ACTIONS = 1_900;

const BADGES = '~&@%+$!^*';
const cleanLogin = (u: string) => {
  let i = 0;
  while (i < u.length - 1 && BADGES.includes(u[i])) i++;
  return u.slice(i).toLowerCase();
};

/**
 * @param channel channel to file the events under (rename to overlay several copies of one log).
 * @param shiftMs added to every timestamp (overlay copies in other windows).
 */
export function readChatty(file: string, channel = path.basename(path.dirname(file)), shiftMs = 0, receivedAt: number | null = null): ChatEvent[] {
  const lines = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '').split(/\r?\n/);
  const head = /^# Log started: (\d{4})-(\d\d)-(\d\d) \S+ ([+-])(\d\d)(\d\d)/.exec(lines[0] ?? '');
  if (!head) throw new Error(`${file}: not a Chatty log`);
  const offsetMs = (head[4] === '-' ? -1 : 1) * (+head[5] * 60 + +head[6]) * 60_000;
  let dayMs = Date.UTC(+head[1], +head[2] - 1, +head[3]) - offsetMs + shiftMs;
  let lastSec = -1;
  const out: ChatEvent[] = [];
  const base = (id: string, ts: number) => ({ v: 1 as const, id, channel, channel_id: null, ts, received_at: receivedAt ?? ts, source: 'import' as const, tags: {} });
  lines.forEach((line, lineNo) => {
    const m = /^\[(\d\d):(\d\d):(\d\d)\] (.*)$/.exec(line);
    if (!m) return;
    const sec = +m[1] * 3600 + +m[2] * 60 + +m[3];
    if (lastSec >= 0 && sec < lastSec - 3600) dayMs += 86_400_000;
    lastSec = sec;
    const ts = dayMs + sec * 1000;
    // `<user>* text` is a /me action.
    const msg = /^<([^>]+)>(\*?) (.*)$/.exec(m[4]);
    if (msg) {
      out.push({
        ...base(deterministicId('chatty', channel, shiftMs, lineNo), ts),
        kind: 'message', user_id: null, login: cleanLogin(msg[1]), display_name: msg[1].replace(/^[~&@%+$!^*]+/, ''), text: msg[3], action: msg[2] === '*',
        badges: {}, badge_info: {}, color: null, emotes: [], bits: null, first_msg: false, returning_chatter: false, reply: null,
        source_room_id: null, source_id: null, flags: null,
      });
    } else if (m[4].startsWith('BAN: ')) {
      m[4].slice(5).split(', ').forEach((part, i) => {
        const b = /^(\S+)(?: \((\d+)s\))?/.exec(part.trim());
        if (!b) return;
        const id = deterministicId('chatty-ban', channel, shiftMs, lineNo, i);
        const target = cleanLogin(b[1]);
        if (b[2]) out.push({ ...base(id, ts), kind: 'timeout', target_user_id: null, target_login: target, duration_s: Number(b[2]), reason: null });
        else out.push({ ...base(id, ts), kind: 'ban', target_user_id: null, target_login: target, reason: null });
      });
    }
  });
  return out;
}
