/**
 * Chatty client logs. Checked against the 2016 logs in shared/data/chatty; the later forms follow Chatty's
 * source (ChatLog.java, its default settings and User.getModeSymbol):
 *
 *   # Log started: 2016-09-30 09:39:38 +0800        date and UTC offset for the lines below
 *   [09:39:38] Joining #riotgames..                  names the channel
 *   [09:39:38] <+Beelzebubster> Kappa bility         message; `@%+~&^$!*` before the name are Chatty's badge marks (chattyBadges)
 *   [08:18:06] <@Khostic>* writes down ...           /me action
 *   [09:52:47] BAN: Kagamann (600s), boom7777 (600s) one line may name several users; no duration = ban
 *   [15:42:23] [Notification] X subscribed for 8 months in a row! [msg]   -> usernotice
 *   MOD:/UNMOD:, ~title (game)~, Viewerstats, [Info], "You have joined", "-", "# Log closed"  -> ignored
 *   later versions:
 *   [2024-05-01 20:00:01] <!%Name> hi                  the default time stamp carries the date; `!` = VIP from 2019
 *   [2024-05-01 20:00:02] <%日本語 (login)> hi        localized names carry the login
 *   [2024-05-01 20:00:03] BAN: a (600s) [spam, links] {2y}, b   reasons and account ages
 *   [2024-05-01 20:00:04] DELETED: a (the text)      -> delete, of the latest message of a with that text
 *   MOD_ACTION:, BITS: (the message is logged too), VIEWERS:, JOIN:/PART:  -> ignored
 *
 * Times are local to the offset of the last `# Log started` line and roll over midnight (a time that
 * goes back by more than 12 hours starts the next day). The importer puts the k-th event of a second k ms into it,
 * so reads ordered by time keep the log's order (types.ts `fileOrderClock`); `ChattyLineReader` gives the whole
 * second (the eval and training read it: their figures stay as they were). Chatty has no message ids: the id
 * hashes the channel, second, user, text and an occurrence counter, so a re-import gives the same ids and two
 * identical messages in one second are both kept. Chatty shows display names; the login is the
 * lowercased display name, or the login it shows after a localized name.
 */
import { deterministicId } from '../../core/ids.ts';
import { readLines, type Readable } from './input.ts';
import type { EventSink, ImportOptions, ImportStats } from './types.ts';
import { NOT_IN_RECORDINGS, NOT_UTF8_REASON, countingSink, inFileOrder, lineRejecter, occurrenceCounter } from './types.ts';

const LOG_STARTED = /^# Log started: (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)/;
/** `[HH:MM:SS] ` (Chatty until ~2019) or `[yyyy-MM-dd HH:MM:SS] ` (the later default `logTimestamp`). */
const TIME = /^\[(?:(\d{4})-(\d\d)-(\d\d) )?(\d\d):(\d\d):(\d\d)\] /;
const IGNORED_BODY = /^(MOD: |UNMOD: |JOIN: |PART: |MOD_ACTION: |BITS: |VIEWERS: |~.*~$|Viewerstats |\[Info\] |You have joined |You have left |Joining |Leaving |Disconnected|Reconnecting|Connecting|Trying to connect|Connected|Cleared chat|Clearing chat)/;
/**
 * One entry of a BAN line: `user`, `user (600s)`, and since ~2018 `user (600s) [reason] {account age}`. A reason may
 * hold ", ", so an entry ends only where the next one can start (or at the end of the line).
 */
const BAN_ENTRY = /(\S+?)(?: \((\d+)s\))?(?: \[(.*?)\])?(?: \{[^}]*\})?(?=, \S|$)/y;
/** One entry of a DELETED line: `user (the deleted text)`; the text may hold ", " and parentheses. */
const DELETED_ENTRY = /(\S+) \((.*?)\)(?=, \S+ \(|$)/y;
const SUB_NEW = /^(\S+) just subscribed(?: with Twitch Prime)?!(?: \[(.*)\])?$/;
const SUB_RE = /^(\S+) subscribed for (\d+) months in a row!(?: \[(.*)\])?$/;
/** A name Chatty shows with the login after it: `日本語名 (login)` (localized or spaced display names). */
const SPECIAL_NICK = /^(.+) \(([A-Za-z0-9_]{1,25})\)$/;
/** Twitch added VIPs in December 2018; Chatty then gave `!` (an admin's mark before) to them. */
const VIP_MARK_FROM = Date.UTC(2019, 0, 1);

/** Chatty's marks before a name (`<@%Name>`), in every version. */
export const CHATTY_MARKS = '@%+~&^$!*';

/**
 * Badges from Chatty's marks before a name (`<@%Name>`). Chatty puts one standing mark first (`~` broadcaster, `&`
 * staff or admin, `@` moderator; before 2019 also `!` admin and `*` global moderator) and then `!` VIP (2019 on),
 * `%` subscriber (months unknown: version `0`), `$` bits, `+` turbo, `^` a bot Chatty knows. `$` and `^` are not
 * standings and are dropped. `vipMark` says whether `!` means VIP (logs from 2019 on) or admin (older logs): the
 * moderation risk treats the two very differently (a VIP can be timed out, an admin cannot).
 */
export function chattyBadges(marks: string, vipMark = false): Record<string, string> {
  const b: Record<string, string> = {};
  if (marks === '') return b;
  if (marks.includes('~')) b.broadcaster = '1';
  if (marks.includes('!') && !vipMark) b.admin = '1';
  if (marks.includes('&')) b.staff = '1';
  if (marks.includes('*')) b.global_mod = '1';
  if (marks.includes('@')) b.moderator = '1';
  if (marks.includes('!') && vipMark) b.vip = '1';
  if (marks.includes('%')) b.subscriber = '0';
  if (marks.includes('+')) b.turbo = '1';
  return b;
}

export function isChattyContent(head: string): boolean {
  return /^# Log started: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}/m.test(head) || /^\[(?:\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d\] <[^>]+> /m.test(head);
}

export interface ChattyBanEntry {
  login: string;
  /** Seconds; `null` for a permanent ban. */
  duration: number | null;
  /** Moderator's reason, in Chatty versions that log it; `null` when absent. */
  reason: string | null;
}

/** What one line of a Chatty log says; `ts` is UTC ms. */
export type ChattyLine =
  | { type: 'message'; ts: number; login: string; shown: string; badges: Record<string, string>; text: string; action: boolean }
  | { type: 'bans'; ts: number; entries: ChattyBanEntry[] }
  | { type: 'deleted'; ts: number; entries: { login: string; text: string }[] }
  | { type: 'notification'; ts: number; note: string }
  /** `Joining #x` / `You have joined #x`: the channel the lines below belong to. */
  | { type: 'channel'; ts: number; channel: string }
  | { type: 'ignored' }
  | { type: 'rejected'; reason: string };

/**
 * Reads a Chatty log line by line: the one parser of the format, used by the importer and by the readers of the
 * eval, training and analytics scripts, so they all see the same messages, bans and times. Stateful: the last
 * `# Log started` header gives the date and UTC offset, and a clock that goes back by more than 12 hours starts
 * the next day.
 */
export class ChattyLineReader {
  /** UTC ms of the current local day's midnight, minus the offset: local seconds-of-day are added to it. */
  private dayBase: number | null = null;
  private offsetMs = 0;
  private lastSecOfDay = -1;
  private vipMark = false;

  read(line: string): ChattyLine {
    if (line === '' || line === '-') return { type: 'ignored' };
    if (line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.startsWith('#')) {
      const m = LOG_STARTED.exec(line);
      if (m) {
        const sign = m[7] === '-' ? -1 : 1;
        this.offsetMs = sign * (Number(m[8]) * 3600 + Number(m[9]) * 60) * 1000;
        this.dayBase = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) - this.offsetMs;
        this.lastSecOfDay = Number(m[4]) * 3600 + Number(m[5]) * 60 + Number(m[6]);
        this.vipMark = this.dayBase + this.offsetMs >= VIP_MARK_FROM;
      }
      return { type: 'ignored' };
    }
    const t = TIME.exec(line);
    if (t === null) return { type: 'rejected', reason: 'not a Chatty log line (no [HH:MM:SS] or [yyyy-MM-dd HH:MM:SS] time)' };
    if (this.dayBase === null) return { type: 'rejected', reason: 'line before any "# Log started:" header: the date and UTC offset are unknown' };
    const sec = Number(t[4]) * 3600 + Number(t[5]) * 60 + Number(t[6]);
    if (t[1] !== undefined) {
      this.dayBase = Date.UTC(Number(t[1]), Number(t[2]) - 1, Number(t[3])) - this.offsetMs;
    } else if (sec < this.lastSecOfDay - 12 * 3600) this.dayBase += 86_400_000;
    this.lastSecOfDay = sec;
    const ts = this.dayBase + sec * 1000;
    const body = line.slice(t[0].length);

    if (body.charCodeAt(0) === 60 /* < */) return this.message(ts, body);
    if (body.startsWith('BAN: ')) return this.bans(ts, body.slice(5));
    if (body.startsWith('DELETED: ')) return this.deleted(ts, body.slice(9));
    if (body.startsWith('[Notification] ')) return { type: 'notification', ts, note: body.slice(15) };
    if (body.startsWith('Joining #') || body.startsWith('You have joined #')) {
      const m = /#([A-Za-z0-9_]+)/.exec(body);
      return m ? { type: 'channel', ts, channel: m[1].toLowerCase() } : { type: 'ignored' };
    }
    if (IGNORED_BODY.test(body)) return { type: 'ignored' };
    return { type: 'rejected', reason: 'unrecognised Chatty line' };
  }

  /** `<user> text`, or `<user>* text` for /me actions; marks before the name are badges. */
  private message(ts: number, body: string): ChattyLine {
    const end = body.indexOf('>');
    const after = body.slice(end + 1, end + 3);
    const action = after === '* ' || (after === '*' && end + 2 === body.length);
    if (end <= 1 || !(action || after.charCodeAt(0) === 32 || end + 1 === body.length)) return { type: 'rejected', reason: 'message line without "<user> "' };
    let k = 1;
    while (k < end - 1 && CHATTY_MARKS.includes(body[k])) k++;
    let shown = body.slice(k, end);
    let login = shown.toLowerCase();
    const special = SPECIAL_NICK.exec(shown);
    if (special) {
      shown = special[1];
      login = special[2].toLowerCase();
    }
    if (shown === '' || shown.length > 64) return { type: 'rejected', reason: 'message line with an empty or overlong user name' };
    const text = body.slice(Math.min(body.length, end + (action ? 3 : 2)));
    return { type: 'message', ts, login, shown, badges: chattyBadges(body.slice(1, k), this.vipMark), text, action };
  }

  private bans(ts: number, list: string): ChattyLine {
    const entries = entriesOf(BAN_ENTRY, list.trimEnd());
    if (entries === null) return { type: 'rejected', reason: 'BAN line with an entry that is not "user", "user (Ns)" or "user (Ns) [reason]"' };
    return { type: 'bans', ts, entries: entries.map((m) => ({ login: m[1].toLowerCase(), duration: m[2] === undefined ? null : Number(m[2]), reason: m[3] ?? null })) };
  }

  private deleted(ts: number, list: string): ChattyLine {
    const entries = entriesOf(DELETED_ENTRY, list);
    if (entries === null) return { type: 'rejected', reason: 'DELETED line with an entry that is not "user (text)"' };
    return { type: 'deleted', ts, entries: entries.map((m) => ({ login: m[1].toLowerCase(), text: m[2] })) };
  }
}

/** Splits a compact line (`a, b (x), c`) with a sticky entry pattern; `null` when some part does not match. */
function entriesOf(re: RegExp, list: string): RegExpExecArray[] | null {
  const out: RegExpExecArray[] = [];
  let pos = 0;
  while (pos < list.length) {
    re.lastIndex = pos;
    const m = re.exec(list);
    if (m === null || m[0] === '') return null;
    out.push(m);
    pos = re.lastIndex;
    if (list.startsWith(', ', pos)) pos += 2;
    else if (pos !== list.length) return null;
  }
  return out.length > 0 ? out : null;
}

/** Deleted messages are found by (login, text) among the last this many messages of the import. */
const DELETABLE = 10_000;

export async function importChatty(text: Readable, file: string, sink: EventSink, opts: ImportOptions, stats: ImportStats): Promise<void> {
  const source = opts.source ?? 'import';
  const reader = new ChattyLineReader();
  let channel: string | null = opts.channel ?? null;
  // Ids of recent messages by (login, text), newest last: a DELETED line names the message by these alone.
  const recent = new Map<string, string>();

  const reject = lineRejecter(file, opts, stats);
  const occurrence = occurrenceCounter();
  let at = { lineNo: 0, line: '' };
  const emit = inFileOrder(countingSink(sink, stats, (reason) => reject(at.lineNo, reason, at.line)));

  for await (const { line, lineNo, notUtf8 } of readLines(text)) {
    stats.units++;
    if (notUtf8) {
      reject(lineNo, NOT_UTF8_REASON, line);
      continue;
    }
    at = { lineNo, line };
    const r = reader.read(line);
    if (r.type === 'ignored') {
      stats.ignored++;
      continue;
    }
    if (r.type === 'rejected') {
      reject(lineNo, r.reason, line);
      continue;
    }
    if (r.type === 'channel') {
      if (!opts.channel) channel = r.channel;
      stats.ignored++;
      continue;
    }
    if (channel === null) {
      reject(lineNo, 'no channel: the log has no "Joining #channel" line before this one; pass --channel', line);
      continue;
    }
    const ts = r.ts;
    const base = { v: 1 as const, channel, channel_id: null, ts, received_at: ts, source, tags: {} };

    if (r.type === 'message') {
      const { login, text } = r;
      const key = `${login}\u0001${text}`;
      const id = deterministicId('chatty', channel, ts, login, text, occurrence(ts, `m\u0001${key}`));
      recent.delete(key);
      recent.set(key, id);
      if (recent.size > DELETABLE) recent.delete(recent.keys().next().value as string);
      await emit({
        ...base,
        id,
        kind: 'message',
        user_id: null,
        login,
        display_name: r.shown,
        text,
        action: r.action,
        badges: r.badges,
        badge_info: {},
        color: null,
        emotes: [],
        bits: null,
        ...NOT_IN_RECORDINGS,
      });
      continue;
    }
    if (r.type === 'bans') {
      for (const { login: target, duration, reason } of r.entries) {
        const n = occurrence(ts, `b\u0001${target}\u0001${duration}`);
        const id = deterministicId('chatty-clearchat', channel, target, ts, duration, n);
        if (duration === null) await emit({ ...base, id, kind: 'ban', target_user_id: null, target_login: target, reason });
        else await emit({ ...base, id, kind: 'timeout', target_user_id: null, target_login: target, duration_s: duration, reason });
      }
      continue;
    }
    if (r.type === 'deleted') {
      for (const { login: target, text } of r.entries) {
        const targetId = recent.get(`${target}\u0001${text}`);
        if (targetId === undefined) {
          reject(lineNo, `DELETED names a message of ${target} that is not among the log's last ${DELETABLE} messages: its id is unknown`, line);
          continue;
        }
        const n = occurrence(ts, `d\u0001${targetId}`);
        await emit({ ...base, id: deterministicId('chatty-clearmsg', channel, targetId, ts, n), kind: 'delete', target_msg_id: targetId, target_login: target, text });
      }
      continue;
    }
    // [Notification]
    const note = r.note;
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
  }
}
