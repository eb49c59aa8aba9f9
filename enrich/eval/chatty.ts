/**
 * Chatty logs for the moderation eval and training: their chat messages and BAN (timeout/ban) lines, read by the
 * importer's own line reader (ingest/importers/chatty.ts: every Chatty version's time stamps, marks, ban reasons),
 * so the eval scores exactly the messages `twichist import` stores. Other lines are left out.
 */
import { readFileSync } from 'node:fs';
import { ChattyLineReader } from '../../ingest/importers/chatty.ts';

export interface ChattyMessage {
  kind: 'msg'; ts: number; user: string; text: string;
  /** From the name's marks, as the importer stores them (`{}` when there are none). */
  badges: Record<string, string>;
  /** A /me message. */
  action: boolean;
}
export interface ChattyBan { kind: 'ban'; ts: number; users: string[] }
export type ChattyEvent = ChattyMessage | ChattyBan;

/** Parses a whole Chatty log (UTC ms timestamps, as the importer stores them). */
export function parseChatty(content: string): ChattyEvent[] {
  const reader = new ChattyLineReader();
  const out: ChattyEvent[] = [];
  for (const line of content.split(/\r?\n/)) {
    const r = reader.read(line);
    if (r.type === 'message') out.push({ kind: 'msg', ts: r.ts, user: r.login, text: r.text, badges: r.badges, action: r.action });
    else if (r.type === 'bans') out.push({ kind: 'ban', ts: r.ts, users: r.entries.map((e) => e.login) });
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
