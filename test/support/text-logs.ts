/**
 * Renders stored events as the chat archivers' plain-text logs, for the text importer's tests and its bench (no
 * such log is in ../shared/data, so they render real recordings):
 * - justlog: Twichist's own writer (`api/justlog.ts`, what the justlog-compatible API serves), which follows
 *   justlog's `writeText` (Go layout `2006-01-2 15:04:05`, CLEARCHAT and USERNOTICE lines without a login);
 * - rustlog: `text_stream.rs` with `user_friendly_text`: zero-padded days, the line's login before the text
 *   whenever it has one (a CLEARCHAT's is the banned user's), a CLEARMSG as the login and no text, other
 *   commands (ROOMSTATE) as an empty body.
 */
import { justlogText, toJustlog } from '../../api/justlog.ts';
import type { ChatEvent } from '../../core/events.ts';

export type TextLogDialect = 'justlog' | 'rustlog';

/** One event as the archiver's text log shows it, or null when it writes no line for it. */
export function renderTextLogLine(e: ChatEvent, dialect: TextLogDialect): string | null {
  const m = toJustlog(e);
  if (dialect === 'justlog') return m === null ? null : justlogText(m);
  const head = `[${new Date(e.ts).toISOString().slice(0, 19).replace('T', ' ')}] #${e.channel} `;
  if (m !== null) return m.username ? `${head}${m.username}: ${m.text}` : head + m.text;
  return e.kind === 'delete' ? `${head}${e.target_login}: ` : head;
}
