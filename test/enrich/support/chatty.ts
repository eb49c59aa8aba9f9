/**
 * A Chatty log as core `ChatEvent`s for the enrich tests, read by the importer's `ChattyLineReader`, with what the
 * importer does not offer: a channel to file the events under and a time shift (overlay copies of one log), and
 * ids from the line number, so identical lines in the same second stay distinct events.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChatEvent } from '../../../core/events.ts';
import { deterministicId } from '../../../core/ids.ts';
import { ChattyLineReader } from '../../../ingest/importers/chatty.ts';
import { NOT_IN_RECORDINGS } from '../../../ingest/importers/types.ts';
import { SHARED_DATA } from '../../support/paths.ts';

export const RIOT_LOG = path.join(SHARED_DATA, 'chatty', 'riotgames', 'riotgames1.log');
export const RIOT_MESSAGES = 43_301;
export const RIOT_MOD_ACTIONS = 1_900;

/**
 * @param channel channel to file the events under (rename to overlay several copies of one log).
 * @param shiftMs added to every timestamp (overlay copies in other windows).
 */
export function readChatty(file: string, channel = path.basename(path.dirname(file)), shiftMs = 0, receivedAt: number | null = null): ChatEvent[] {
  const content = fs.readFileSync(file, 'utf8');
  if (!/^\uFEFF?# Log started: /.test(content)) throw new Error(`${file}: not a Chatty log`);
  const reader = new ChattyLineReader();
  const out: ChatEvent[] = [];
  const base = (id: string, ts: number) => ({ v: 1 as const, id, channel, channel_id: null, ts, received_at: receivedAt ?? ts, source: 'import' as const, tags: {} });
  content.split(/\r?\n/).forEach((line, lineNo) => {
    const r = reader.read(line);
    if (r.type === 'message') {
      out.push({
        ...base(deterministicId('chatty', channel, shiftMs, lineNo), r.ts + shiftMs),
        kind: 'message', user_id: null, login: r.login, display_name: r.shown, text: r.text, action: r.action,
        badges: r.badges, badge_info: {}, color: null, emotes: [], bits: null, ...NOT_IN_RECORDINGS,
      });
    } else if (r.type === 'bans') {
      r.entries.forEach((b, i) => {
        const e = base(deterministicId('chatty-ban', channel, shiftMs, lineNo, i), r.ts + shiftMs);
        if (b.duration !== null) out.push({ ...e, kind: 'timeout', target_user_id: null, target_login: b.login, duration_s: b.duration, reason: null });
        else out.push({ ...e, kind: 'ban', target_user_id: null, target_login: b.login, reason: null });
      });
    }
  });
  return out;
}
