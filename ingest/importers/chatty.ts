/**
 * Chatty client logs (checked against the 2016 logs in shared/data/chatty):
 *
 *   # Log started: 2016-09-30 09:39:38 +0800        date and UTC offset for the lines below
 *   [09:39:38] Joining #riotgames..                  names the channel
 *   [09:39:38] <+Beelzebubster> Kappa bility         message; `@%+~&^$!*` before the name are Chatty's badge marks (chattyBadges)
 *   [08:18:06] <@Khostic>* writes down ...           /me action
 *   [09:52:47] BAN: Kagamann (600s), boom7777 (600s) one line may name several users; no duration = ban
 *   [15:42:23] [Notification] X subscribed for 8 months in a row! [msg]   -> usernotice
 *   MOD:/UNMOD:, ~title (game)~, Viewerstats, [Info], "You have joined", "-", "# Log closed"  -> ignored
 *
 * Times are local to the offset of the last `# Log started` line and roll over midnight (a time that
 * goes back by more than 12 hours starts the next day). Chatty has no message ids: the id hashes the
 * channel, second, user, text and an occurrence counter, so a re-import gives the same ids and two
 * identical messages in one second are both kept. Chatty shows display names; the login is the
 * lowercased display name (for localized names Chatty did not record the login).
 */
import type { ChatEvent } from '../../core/events.ts';
import { deterministicId } from '../../core/ids.ts';
import { readLines, type Readable } from './input.ts';
import type { EventSink, ImportOptions, ImportStats } from './types.ts';
import { NOT_IN_RECORDINGS, truncatePayload } from './types.ts';

const LOG_STARTED = /^# Log started: (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)/;
const TIME = /^\[(\d\d):(\d\d):(\d\d)\] /;
const IGNORED_BODY = /^(MOD: |UNMOD: |~.*~$|Viewerstats |\[Info\] |You have joined |You have left |Joining |Leaving |Disconnected|Reconnecting|Connecting|Trying to connect|Connected|Cleared chat|Clearing chat)/;
const BAN_ENTRY = /^(\S+?)(?: \((\d+)s\))?$/;
const SUB_NEW = /^(\S+) just subscribed(?: with Twitch Prime)?!(?: \[(.*)\])?$/;
const SUB_RE = /^(\S+) subscribed for (\d+) months in a row!(?: \[(.*)\])?$/;

/** Chatty's marks before a name (`<@%Name>`); the eval's reader (enrich/eval/chatty.ts) strips the same set. */
export const CHATTY_MARKS = '@%+~&^$!*';

/**
 * Badges from Chatty's marks before a name (`<@%Name>`): `~` broadcaster, `&` admin, `!` staff, `*` global
 * moderator, `@` moderator, `%` subscriber (months unknown: version `0`), `+` turbo. `^` (Chatty's own
 * mark for known bots) and `$` are not Twitch badges and are dropped. Order follows Twitch's tag order
 * (standing first).
 */
export function chattyBadges(marks: string): Record<string, string> {
  const b: Record<string, string> = {};
  if (marks === '') return b;
  if (marks.includes('~')) b.broadcaster = '1';
  if (marks.includes('&')) b.admin = '1';
  if (marks.includes('!')) b.staff = '1';
  if (marks.includes('*')) b.global_mod = '1';
  if (marks.includes('@')) b.moderator = '1';
  if (marks.includes('%')) b.subscriber = '0';
  if (marks.includes('+')) b.turbo = '1';
  return b;
}

export function isChattyContent(head: string): boolean {
  return /^# Log started: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}/m.test(head) || /^\[\d\d:\d\d:\d\d\] <[^>]+> /m.test(head);
}

export async function importChatty(text: Readable, file: string, sink: EventSink, opts: ImportOptions, stats: ImportStats): Promise<void> {
  const source = opts.source ?? 'import';
  let channel: string | null = opts.channel ?? null;
  /** UTC midnight of the current local day, in ms, minus the offset: local seconds-of-day are added to it. */
  let dayBase: number | null = null;
  let offsetMs = 0;
  let lastSecOfDay = -1;
  // Occurrence counter of identical (kind, second, user, text) within the same second.
  let counterSecond = -1;
  const seen = new Map<string, number>();

  const reject = (lineNo: number, reason: string, line: string) => {
    stats.rejected++;
    opts.onReject?.({ source: `${file}:${lineNo}`, reason, payload: truncatePayload(line) });
  };
  const occurrence = (ts: number, key: string): number => {
    if (ts !== counterSecond) {
      counterSecond = ts;
      seen.clear();
    }
    const n = seen.get(key) ?? 0;
    seen.set(key, n + 1);
    return n;
  };
  const emit = async (e: ChatEvent) => {
    stats.events[e.kind] = (stats.events[e.kind] ?? 0) + 1;
    const w = sink(e);
    if (w) await w;
  };

  for await (const { line, lineNo } of readLines(text)) {
    stats.units++;
    if (line === '' || line === '-') {
      stats.ignored++;
      continue;
    }
    if (line.startsWith('#')) {
      const m = LOG_STARTED.exec(line);
      if (m) {
        const sign = m[7] === '-' ? -1 : 1;
        offsetMs = sign * (Number(m[8]) * 3600 + Number(m[9]) * 60) * 1000;
        dayBase = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) - offsetMs;
        lastSecOfDay = Number(m[4]) * 3600 + Number(m[5]) * 60 + Number(m[6]);
      }
      stats.ignored++;
      continue;
    }
    const t = TIME.exec(line);
    if (t === null) {
      reject(lineNo, 'not a Chatty log line (no [HH:MM:SS] time)', line);
      continue;
    }
    if (dayBase === null) {
      reject(lineNo, 'line before any "# Log started:" header: the date is unknown', line);
      continue;
    }
    const sec = Number(t[1]) * 3600 + Number(t[2]) * 60 + Number(t[3]);
    if (sec < lastSecOfDay - 12 * 3600) dayBase += 86_400_000;
    lastSecOfDay = sec;
    const ts = dayBase + sec * 1000;
    const body = line.slice(t[0].length);

    if (body.startsWith('Joining #') || body.startsWith('You have joined #')) {
      const m = /#([A-Za-z0-9_]+)/.exec(body);
      if (m && !opts.channel) channel = m[1].toLowerCase();
      stats.ignored++;
      continue;
    }
    if (IGNORED_BODY.test(body)) {
      stats.ignored++;
      continue;
    }
    if (channel === null) {
      reject(lineNo, 'no channel: the log has no "Joining #channel" line before this one; pass --channel', line);
      continue;
    }
    const base = { v: 1 as const, channel, channel_id: null, ts, received_at: ts, source, tags: {} };

    if (body.charCodeAt(0) === 60 /* < */) {
      // `<user> text`, or `<user>* text` for /me actions.
      const end = body.indexOf('>');
      const after = body.slice(end + 1, end + 3);
      const action = after === '* ' || (after === '*' && end + 2 === body.length);
      if (end <= 1 || !(action || after.charCodeAt(0) === 32 || end + 1 === body.length)) {
        reject(lineNo, 'message line without "<user> "', line);
        continue;
      }
      let k = 1;
      while (k < end && CHATTY_MARKS.includes(body[k])) k++;
      const marks = body.slice(1, k);
      const shown = body.slice(k, end);
      if (shown === '' || shown.length > 64) {
        reject(lineNo, 'message line with an empty or overlong user name', line);
        continue;
      }
      const text = body.slice(Math.min(body.length, end + (action ? 3 : 2)));
      const login = shown.toLowerCase();
      const n = occurrence(ts, `m\u0001${login}\u0001${text}`);
      await emit({
        ...base,
        id: deterministicId('chatty', channel, ts, login, text, n),
        kind: 'message',
        user_id: null,
        login,
        display_name: shown,
        text,
        action,
        badges: chattyBadges(marks),
        badge_info: {},
        color: null,
        emotes: [],
        bits: null,
        ...NOT_IN_RECORDINGS,
      });
      continue;
    }
    if (body.startsWith('BAN: ')) {
      const entries = body.slice(5).split(', ');
      const parsed = entries.map((s) => BAN_ENTRY.exec(s.trim()));
      if (parsed.some((m) => m === null)) {
        reject(lineNo, 'BAN line with an entry that is not "user" or "user (Ns)"', line);
        continue;
      }
      for (const m of parsed as RegExpExecArray[]) {
        const target = m[1].toLowerCase();
        const duration = m[2] === undefined ? null : Number(m[2]);
        const n = occurrence(ts, `b\u0001${target}\u0001${duration}`);
        const id = deterministicId('chatty-clearchat', channel, target, ts, duration, n);
        if (duration === null) await emit({ ...base, id, kind: 'ban', target_user_id: null, target_login: target, reason: null });
        else await emit({ ...base, id, kind: 'timeout', target_user_id: null, target_login: target, duration_s: duration, reason: null });
      }
      continue;
    }
    if (body.startsWith('[Notification] ')) {
      const note = body.slice(15);
      const fresh = SUB_NEW.exec(note);
      const re = fresh ? null : SUB_RE.exec(note);
      if (fresh === null && re === null) {
        stats.ignored++; // other notifications (hosts, raids in later Chatty versions) carry no modelled event
        continue;
      }
      const m = (fresh ?? re) as RegExpExecArray;
      const shown = m[1];
      const login = shown.toLowerCase();
      const userText = (fresh ? m[2] : m[3]) ?? null;
      const n = occurrence(ts, `s\u0001${login}\u0001${note}`);
      await emit({
        ...base,
        id: deterministicId('chatty-usernotice', channel, ts, login, note, n),
        kind: 'usernotice',
        notice_type: fresh ? 'sub' : 'resub',
        user_id: null,
        login,
        display_name: shown,
        text: userText,
        system_msg: userText === null ? note : note.slice(0, note.length - userText.length - 3),
        params: fresh ? {} : { 'cumulative-months': (re as RegExpExecArray)[2] },
        badges: {},
        badge_info: {},
        color: null,
        emotes: [],
        source_room_id: null,
      });
      continue;
    }
    reject(lineNo, 'unrecognised Chatty line', line);
  }
}
