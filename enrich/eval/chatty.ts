/**
 * Minimal reader for Chatty client logs, enough for the moderation eval and training. The real importer
 * lives in ingest/; this one only extracts chat messages and BAN (timeout/ban) lines.
 *
 * Format: `# Log started: 2016-09-30 09:39:38 +0800` (UTF-8 BOM, CRLF), then `[HH:MM:SS] <user> text`,
 * `[HH:MM:SS] BAN: a (600s), b (60s)` (several users per line; a permanent ban has no duration),
 * `MOD:`/`UNMOD:`, `~title (game)~`, `Viewerstats ...`, `[Info] ...`. User names carry badge prefixes
 * (`@` mod, `%` sub, `+` turbo, `~` broadcaster, `&` admin, `$`, `!`), possibly several (`&+Name`).
 */
import { readFileSync } from 'node:fs';
import { CHATTY_MARKS, chattyBadges } from '../../ingest/importers/chatty.ts';

export interface ChattyMessage {
  kind: 'msg'; ts: number; user: string; text: string;
  /** From the name's marks, as the importer stores them (`{}` when there are none). */
  badges: Record<string, string>;
}
export interface ChattyBan { kind: 'ban'; ts: number; users: string[] }
export type ChattyEvent = ChattyMessage | ChattyBan;

/** Marks before the name; the last character always stays (a name made of marks is kept as written). */
function marksLength(u: string): number {
  let i = 0;
  while (i < u.length - 1 && CHATTY_MARKS.includes(u[i])) i++;
  return i;
}

/** Lowercased user name without badge prefixes. */
export function cleanUser(u: string): string {
  return u.slice(marksLength(u)).toLowerCase();
}

/**
 * Parses a whole Chatty log. Timestamps are ms since the Unix epoch of the header date (the +0800
 * offset is kept as written; only differences matter), with a day added whenever the clock wraps.
 */
export function parseChatty(content: string): ChattyEvent[] {
  const lines = content.replace(/^\uFEFF/, '').split(/\r?\n/);
  const head = /^# Log started: (\d{4})-(\d\d)-(\d\d)/.exec(lines[0] ?? '');
  let day = head ? Date.UTC(+head[1], +head[2] - 1, +head[3]) : 0;
  let lastSec = -1;
  const out: ChattyEvent[] = [];
  for (const line of lines) {
    if (line.length < 12 || line[0] !== '[' || line[3] !== ':' || line[9] !== ']') continue;
    const sec = +line.slice(1, 3) * 3600 + +line.slice(4, 6) * 60 + +line.slice(7, 9);
    if (Number.isNaN(sec)) continue;
    if (lastSec >= 0 && sec < lastSec - 3600) day += 86_400_000;
    lastSec = sec;
    const ts = day + sec * 1000;
    const rest = line.slice(11);
    if (rest[0] === '<') {
      const end = rest.indexOf('> ');
      if (end < 0) continue;
      const name = rest.slice(1, end), k = marksLength(name);
      out.push({ kind: 'msg', ts, user: name.slice(k).toLowerCase(), text: rest.slice(end + 2), badges: chattyBadges(name.slice(0, k)) });
    } else if (rest.startsWith('BAN: ')) {
      const users = rest.slice(5).split(', ').map((p) => cleanUser(p.replace(/ \(\d+s\)$/, '').trim())).filter(Boolean);
      out.push({ kind: 'ban', ts, users });
    }
  }
  return out;
}

export function readChatty(path: string): ChattyEvent[] {
  return parseChatty(readFileSync(path, 'utf8'));
}

/**
 * Label per message: 1 when a BAN line naming the same user comes after it in the log and at most
 * `windowMs` later (inclusive), else 0. "After" is log order, not the timestamp: Chatty writes lines in
 * the order they arrived with 1 s timestamps, so a ban in the same second that precedes the message
 * happened before it (it cannot be this message's consequence, and a live system has already seen it).
 * Scan from the end with each user's next ban: O(messages + bans).
 */
export function banLabels(events: readonly ChattyEvent[], windowMs = 60_000): { messages: ChattyMessage[]; labels: Uint8Array } {
  const messages: ChattyMessage[] = [];
  for (const e of events) if (e.kind === 'msg') messages.push(e);
  const labels = new Uint8Array(messages.length);
  // earliest ban of each user among the events after the current one
  const nextBan = new Map<string, number>();
  let i = messages.length;
  for (let k = events.length - 1; k >= 0; k--) {
    const e = events[k];
    if (e.kind === 'ban') { for (const u of e.users) nextBan.set(u, e.ts); continue; }
    i--;
    const t = nextBan.get(e.user);
    if (t !== undefined && t - e.ts <= windowMs) labels[i] = 1;
  }
  return { messages, labels };
}
