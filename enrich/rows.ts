/**
 * Events -> ClickHouse rows. Event fields already match the columns (see core/events.ts), so this is a
 * projection plus the enrichment columns of `messages`. Times stay epoch milliseconds: JSONEachRow
 * reads a number into DateTime64(3) as milliseconds.
 */
import type { ChatEvent, ChatMessage, EventKind } from '../core/events.ts';
import type { AnalyzeResult } from './analyzer.ts';
import type { EmoteTokens } from './emotes.ts';

/** The raw tables enrich writes, each ORDER BY (channel, ts, id) except dead_letters. */
export type RawTable = 'messages' | 'mod_actions' | 'user_notices' | 'room_states' | 'ingest_events';
export const RAW_TABLES: readonly RawTable[] = ['messages', 'mod_actions', 'user_notices', 'room_states', 'ingest_events'];

export function tableOf(kind: EventKind): RawTable {
  switch (kind) {
    case 'message':
      return 'messages';
    case 'ban':
    case 'timeout':
    case 'delete':
    case 'clear':
      return 'mod_actions';
    case 'usernotice':
      return 'user_notices';
    case 'roomstate':
      return 'room_states';
    case 'lifecycle':
      return 'ingest_events';
  }
}

/** One row to store, with what the store needs to de-duplicate it and to dead-letter it if rejected. */
export interface PendingRow {
  table: RawTable;
  kind: EventKind;
  id: string;
  channel: string;
  /** Epoch ms (the row's `ts`). */
  ts: number;
  receivedAt: number;
  /**
   * The bus line it came from (the dead-letter payload if ClickHouse rejects the row); null when the
   * event came as an object (in-process bus): then {@link rawOf} serializes `event` when needed.
   */
  raw: string | null;
  event: ChatEvent;
  row: Record<string, unknown>;
  /** Messages scored while a toxicity model was loaded: re-scores `mod_risk` once the model's toxicity is known (enrich/refine.ts). */
  modRiskWith?: (toxicity: number) => number;
}

/** An in-process event (or what claimed to be one) as a dead-letter payload: its JSON, as the bus line would have been. */
export function payloadOf(input: unknown): string {
  try {
    return JSON.stringify(input) ?? String(input);
  } catch (err) {
    return `(not serializable: ${(err as Error).message})`;
  }
}

/** The bus line of a row's event, as a dead-letter payload. */
export function rawOf(r: PendingRow): string {
  return r.raw ?? payloadOf(r.event);
}

export function messageRow(e: ChatMessage, emotes: EmoteTokens, scores: AnalyzeResult, version: string): Record<string, unknown> {
  const r = e.reply;
  return {
    id: e.id,
    channel: e.channel,
    channel_id: e.channel_id,
    ts: e.ts,
    received_at: e.received_at,
    source: e.source,
    user_id: e.user_id,
    login: e.login,
    display_name: e.display_name,
    text: e.text,
    action: e.action,
    badges: e.badges,
    badge_info: e.badge_info,
    color: e.color,
    emotes: e.emotes,
    bits: e.bits,
    first_msg: e.first_msg,
    returning_chatter: e.returning_chatter,
    reply_parent_msg_id: r?.parent_msg_id ?? null,
    reply_parent_user_id: r?.parent_user_id ?? null,
    reply_parent_login: r?.parent_login ?? null,
    reply_parent_display_name: r?.parent_display_name ?? null,
    reply_parent_text: r?.parent_text ?? null,
    reply_thread_parent_msg_id: r?.thread_parent_msg_id ?? null,
    reply_thread_parent_login: r?.thread_parent_login ?? null,
    source_room_id: e.source_room_id,
    source_id: e.source_id,
    flags: e.flags,
    tags: e.tags,
    emote_names: emotes.names,
    emote_ids: emotes.ids,
    emote_providers: emotes.providers,
    sentiment: scores.sentiment,
    sentiment_label: scores.sentimentLabel,
    toxicity: scores.toxicity,
    mod_risk: scores.modRisk,
    enrich_version: version,
  };
}

/** Rows for every kind but `message` (which needs enrichment, see {@link messageRow}). */
export function plainRow(e: Exclude<ChatEvent, ChatMessage>): Record<string, unknown> {
  const base = { id: e.id, channel: e.channel, channel_id: e.channel_id, ts: e.ts, received_at: e.received_at, source: e.source, tags: e.tags };
  switch (e.kind) {
    case 'ban':
      return { ...base, action: 'ban', target_user_id: e.target_user_id, target_login: e.target_login, duration_s: null, reason: e.reason, target_msg_id: null, text: null };
    case 'timeout':
      return { ...base, action: 'timeout', target_user_id: e.target_user_id, target_login: e.target_login, duration_s: e.duration_s, reason: e.reason, target_msg_id: null, text: null };
    case 'delete':
      return { ...base, action: 'delete', target_user_id: null, target_login: e.target_login, duration_s: null, reason: null, target_msg_id: e.target_msg_id, text: e.text };
    case 'clear':
      return { ...base, action: 'clear', target_user_id: null, target_login: '', duration_s: null, reason: null, target_msg_id: null, text: null };
    case 'usernotice':
      return {
        ...base,
        notice_type: e.notice_type,
        user_id: e.user_id,
        login: e.login,
        display_name: e.display_name,
        text: e.text,
        system_msg: e.system_msg,
        params: e.params,
        badges: e.badges,
        badge_info: e.badge_info,
        color: e.color,
        emotes: e.emotes,
        source_room_id: e.source_room_id,
      };
    case 'roomstate':
      return { ...base, emote_only: e.emote_only, followers_only: e.followers_only, r9k: e.r9k, slow: e.slow, subs_only: e.subs_only };
    case 'lifecycle':
      return { ...base, event: e.event, ingestor: e.ingestor, detail: e.detail, gap_start: e.gap_start, gap_end: e.gap_end };
  }
}
