/**
 * The plain-text logs of the Twitch chat archivers justlog and rustlog (the default download of
 * logs.ivr.fi and of most public archives; their `?raw` form is raw IRC and goes through the raw IRC
 * importer). One line per event, times in UTC, CRLF or LF:
 *
 *   [2023-04-01 12:00:00] #xqc someuser: the message                 both: a message (a /me loses its mark)
 *   [2023-04-01 12:00:01] #xqc someuser has been timed out for 600 seconds   justlog: a timeout
 *   [2023-04-01 12:00:01] #xqc someuser has been banned              justlog: a ban
 *   [2023-04-01 12:00:01] #xqc someuser: someuser has been timed out for 600 seconds   rustlog: a timeout
 *   [2023-04-01 12:00:01] #xqc someuser: someuser has been banned    rustlog: a ban
 *   [2023-04-01 12:00:02] #xqc Chat has been cleared                 rustlog: a clear
 *   [2023-04-01 12:00:02] #xqc  has been banned                      justlog: a clear (a ban of nobody)
 *   [2023-04-01 12:00:03] #xqc Name subscribed at Tier 1. ...        justlog: a user notice (system message)
 *   [2023-04-01 12:00:03] #xqc name: Name subscribed at Tier 1. ...  rustlog: a user notice (the same, after the login)
 *   [2023-04-01 12:00:04] #xqc name:                                 rustlog: a deleted message (CLEARMSG): rejected
 *
 * Read from the writers' source: justlog `api/server.go` (`writeText`, `buildClearChatMessageText`; its day is
 * not zero-padded, `2006-01-2`) and rustlog `src/web/responders/logs/text_stream.rs` with
 * `StructuredMessage::user_friendly_text` (a CLEARCHAT is written under the banned user's login). No such log is in
 * `../shared/data`: `test/ingest/justlog-text.test.ts` renders the real #xqc raw IRC recording the way each writer
 * does and checks the import against the raw one.
 *
 * What the text form loses, and so the events lack: message ids (the id hashes channel, second, login, text and an
 * occurrence counter, as for Chatty logs: a re-import gives the same ids), milliseconds (the k-th event of a second
 * is put k ms into it, so reads keep the file's order: types.ts `fileOrderClock`), user ids, display names,
 * badges, emote positions, /me marks and, for notices, where the system message ends and the user's own message
 * begins (the whole line is the `system_msg`). A message whose text reads exactly "<its author> has been timed out
 * for N seconds" or "<its author> has been banned" cannot be told from rustlog's form of a ban and is read as one.
 */
import { deterministicId } from '../../core/ids.ts';
import { readLines, type Readable } from './input.ts';
import type { EventSink, ImportOptions, ImportStats } from './types.ts';
import { NOT_IN_RECORDINGS, NOT_UTF8_REASON, countingSink, inFileOrder, lineRejecter, occurrenceCounter } from './types.ts';

const LINE = /^\[(\d{4})-(\d\d)-(\d{1,2}) (\d\d):(\d\d):(\d\d)\] #([a-z0-9_]{1,25})(?: (.*))?$/;
const SPOKEN = /^([a-z0-9_]{1,25}): ?(.*)$/;
const CLEARCHAT = /^([a-z0-9_]{1,25}) has been (?:timed out for (\d+) seconds|banned)$/;
/** Twitch's system messages of the notices a text log keeps, by `msg-id`; the first group is the display name. */
const NOTICES: ReadonlyArray<[string, RegExp]> = [
  ['resub', /^(\S+) subscribed (?:at Tier \d|with (?:Twitch )?Prime)\. They've subscribed for \d+ months/],
  ['sub', /^(\S+) subscribed (?:at Tier \d|with (?:Twitch )?Prime)\./],
  ['subgift', /^(\S+) gifted (?:a|\d+ months? of) Tier \d sub to /],
  ['submysterygift', /^(\S+) is gifting \d+ Tier \d Subs? to /],
  ['giftpaidupgrade', /^(\S+) is continuing the Gift Sub /],
  ['primepaidupgrade', /^(\S+) converted from a Prime sub /],
  ['communitypayforward', /^(\S+) is paying forward the Gift /],
  ['raid', /^\d+ raiders? from (\S+) (?:have|has) joined/],
];

export function isJustlogContent(head: string): boolean {
  return /^\[\d{4}-\d\d-\d{1,2} \d\d:\d\d:\d\d\] #[a-z0-9_]{1,25} \S/m.test(head);
}

function noticeOf(text: string): { type: string; name: string } | null {
  for (const [type, re] of NOTICES) {
    const m = re.exec(text);
    if (m !== null) return { type, name: m[1] };
  }
  return null;
}

export async function importJustlogText(text: Readable, file: string, sink: EventSink, opts: ImportOptions, stats: ImportStats): Promise<void> {
  const source = opts.source ?? 'import';
  const occurrence = occurrenceCounter();
  const reject = lineRejecter(file, opts, stats);
  let at = { lineNo: 0, line: '' };
  const emit = inFileOrder(countingSink(sink, stats, (reason) => reject(at.lineNo, reason, at.line)));

  for await (const { line, lineNo, notUtf8 } of readLines(text)) {
    stats.units++;
    if (notUtf8) {
      reject(lineNo, NOT_UTF8_REASON, line);
      continue;
    }
    at = { lineNo, line };
    if (line.trim() === '') {
      stats.ignored++;
      continue;
    }
    const m = LINE.exec(line);
    if (m === null) {
      reject(lineNo, 'not a justlog/rustlog text line: expected "[yyyy-mm-dd hh:mm:ss] #channel ..."', line);
      continue;
    }
    const ts = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
    const channel = opts.channel || m[7];
    const body = m[8] ?? '';
    // rustlog writes a line for every stored IRC command; ROOMSTATE, NOTICE and the like have no text
    if (body === '') {
      stats.ignored++;
      continue;
    }
    const base = { v: 1 as const, channel, channel_id: null, ts, received_at: ts, source, tags: {} };
    const spoken = SPOKEN.exec(body);
    // justlog writes CLEARCHAT and USERNOTICE without a login; rustlog writes them after one (the banned user's,
    // the notice's author), so the rest of its line is read the same way.
    const login = spoken?.[1] ?? null;
    const rest = spoken === null ? body : spoken[2];

    const cleared = CLEARCHAT.exec(rest);
    if (cleared !== null && (login === null || cleared[1] === login)) {
      const target = cleared[1];
      const duration = cleared[2] === undefined ? null : Number(cleared[2]);
      const id = deterministicId('justlog-clearchat', channel, target, ts, duration, occurrence(ts, `b\u0001${target}\u0001${duration}`));
      if (duration === null) await emit({ ...base, id, kind: 'ban', target_user_id: null, target_login: target, reason: null });
      else await emit({ ...base, id, kind: 'timeout', target_user_id: null, target_login: target, duration_s: duration, reason: null });
      continue;
    }
    // rustlog's clear; justlog builds a clear's line as a ban of nobody (an empty target name)
    if (login === null && (rest === 'Chat has been cleared' || rest === ' has been banned')) {
      await emit({ ...base, id: deterministicId('justlog-clear', channel, ts, occurrence(ts, 'c')), kind: 'clear' });
      continue;
    }
    const notice = noticeOf(rest);
    if (notice !== null && (login === null || notice.type === 'raid' || notice.name.toLowerCase() === login)) {
      const author = login ?? (/^[A-Za-z0-9_]{1,25}$/.test(notice.name) ? notice.name.toLowerCase() : null);
      await emit({
        ...base,
        id: deterministicId('justlog-usernotice', channel, ts, author, rest, occurrence(ts, `s\u0001${author}\u0001${rest}`)),
        kind: 'usernotice',
        notice_type: notice.type,
        user_id: null,
        login: author,
        display_name: author !== null && notice.name.toLowerCase() === author ? notice.name : null,
        text: null,
        system_msg: rest,
        params: {},
        badges: {},
        badge_info: {},
        color: null,
        emotes: [],
        source_room_id: null,
      });
      continue;
    }
    if (login === null) {
      reject(lineNo, 'neither a message ("login: text") nor a ban, timeout, clear or known notice', line);
      continue;
    }
    if (rest === '') {
      reject(lineNo, 'a deleted message (CLEARMSG) in rustlog\'s text form: it names neither the message nor its text, so it cannot be matched', line);
      continue;
    }
    await emit({
      ...base,
      id: deterministicId('justlog', channel, ts, login, rest, occurrence(ts, `m\u0001${login}\u0001${rest}`)),
      kind: 'message',
      user_id: null,
      login,
      display_name: null,
      text: rest,
      action: false,
      badges: {},
      badge_info: {},
      color: null,
      emotes: [],
      bits: null,
      ...NOT_IN_RECORDINGS,
    });
  }
}
