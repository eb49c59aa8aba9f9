/**
 * The one contract for every Twitch chat event that moves through Twichist: ingest produces these,
 * the bus carries them as JSON, enrich validates them again before storing them.
 *
 * Field names are snake_case and match the ClickHouse columns, so storing an event is a projection,
 * not a translation. Absent values are `null`, never `undefined` or `''`. Times are epoch
 * milliseconds: `ts` is Twitch's server time (`tmi-sent-ts`, or the recording's time for imports),
 * `received_at` is when Twichist saw the event.
 */
import { z } from 'zod';

/** Twitch login: lowercase, as in IRC prefixes and channel names. */
const login = z.string().min(1).max(64);
const epochMs = z.number().int().min(0).max(8_000_000_000_000);
const nullableString = z.string().nullable();

/** A native Twitch emote occurrence. Offsets are in Unicode code points (not UTF-16 units), end inclusive, as Twitch sends them. */
export const emotePositionSchema = z.object({
  id: z.string().min(1),
  start: z.number().int().min(0),
  end: z.number().int().min(0),
});
export type EmotePosition = z.infer<typeof emotePositionSchema>;

/** Where an event came from. */
export const eventSourceSchema = z.enum(['live', 'import', 'replay']);
export type EventSource = z.infer<typeof eventSourceSchema>;

const base = {
  /** Event version, so stored payloads stay readable when the contract grows. */
  v: z.literal(1),
  /**
   * De-duplication id: Twitch's message id where there is one, otherwise a deterministic hash of the
   * event's content (see `deterministicId`). The bus and the store both use it to keep one copy.
   */
  id: z.string().min(1).max(128),
  channel: login,
  channel_id: nullableString,
  ts: epochMs,
  received_at: epochMs,
  source: eventSourceSchema,
  /** Tags Twichist does not model, kept verbatim (unescaped) so the original line can be rebuilt. */
  tags: z.record(z.string(), z.string()),
};

/** Reply metadata (`reply-parent-*` and `reply-thread-parent-*` tags). */
export const replySchema = z.object({
  parent_msg_id: z.string(),
  parent_user_id: nullableString,
  parent_login: nullableString,
  parent_display_name: nullableString,
  parent_text: nullableString,
  thread_parent_msg_id: nullableString,
  thread_parent_login: nullableString,
});
export type Reply = z.infer<typeof replySchema>;

export const chatMessageSchema = z.object({
  ...base,
  kind: z.literal('message'),
  user_id: nullableString,
  login,
  display_name: nullableString,
  text: z.string().max(20_000),
  /** `/me` message (CTCP ACTION). `text` holds the inner text. */
  action: z.boolean(),
  /** Ordered badge set -> version, as in the `badges` tag. */
  badges: z.record(z.string(), z.string()),
  /** `badge-info`, e.g. `subscriber` -> months. */
  badge_info: z.record(z.string(), z.string()),
  color: nullableString,
  emotes: z.array(emotePositionSchema),
  bits: z.number().int().min(0).nullable(),
  first_msg: z.boolean(),
  returning_chatter: z.boolean(),
  reply: replySchema.nullable(),
  /** Shared chat: the room the message was originally sent in (`source-room-id`). */
  source_room_id: nullableString,
  source_id: nullableString,
  /** AutoMod `flags` tag, verbatim. */
  flags: nullableString,
});
export type ChatMessage = z.infer<typeof chatMessageSchema>;

/** CLEARCHAT with a target user and no duration. */
export const banSchema = z.object({
  ...base,
  kind: z.literal('ban'),
  target_user_id: nullableString,
  target_login: login,
  reason: nullableString,
});
export type Ban = z.infer<typeof banSchema>;

/** CLEARCHAT with a target user and `ban-duration`. */
export const timeoutSchema = z.object({
  ...base,
  kind: z.literal('timeout'),
  target_user_id: nullableString,
  target_login: login,
  duration_s: z.number().int().min(0),
  reason: nullableString,
});
export type Timeout = z.infer<typeof timeoutSchema>;

/** CLEARMSG: one message deleted. */
export const deletionSchema = z.object({
  ...base,
  kind: z.literal('delete'),
  target_msg_id: z.string().min(1),
  target_login: login,
  /** The deleted message's text, as Twitch repeats it. */
  text: z.string(),
});
export type Deletion = z.infer<typeof deletionSchema>;

/** CLEARCHAT without a user: the whole chat was cleared. */
export const clearSchema = z.object({
  ...base,
  kind: z.literal('clear'),
});
export type Clear = z.infer<typeof clearSchema>;

/** USERNOTICE: sub, resub, subgift, submysterygift, raid, announcement, ... (`msg-id`). */
export const userNoticeSchema = z.object({
  ...base,
  kind: z.literal('usernotice'),
  notice_type: z.string().min(1),
  user_id: nullableString,
  login: nullableString,
  display_name: nullableString,
  /** The user's own message, if they wrote one. */
  text: nullableString,
  system_msg: nullableString,
  /** `msg-param-*` tags without the prefix. */
  params: z.record(z.string(), z.string()),
  badges: z.record(z.string(), z.string()),
  badge_info: z.record(z.string(), z.string()),
  color: nullableString,
  emotes: z.array(emotePositionSchema),
  source_room_id: nullableString,
});
export type UserNotice = z.infer<typeof userNoticeSchema>;

/** ROOMSTATE: full on join, partial on change; fields not in the update are `null`. */
export const roomStateSchema = z.object({
  ...base,
  kind: z.literal('roomstate'),
  emote_only: z.boolean().nullable(),
  /** Minutes of following required; -1 = off. */
  followers_only: z.number().int().min(-1).nullable(),
  r9k: z.boolean().nullable(),
  /** Seconds between messages; 0 = off. */
  slow: z.number().int().min(0).nullable(),
  subs_only: z.boolean().nullable(),
});
export type RoomState = z.infer<typeof roomStateSchema>;

export const lifecycleTypes = ['connected', 'joined', 'parted', 'disconnected', 'reconnected', 'gap'] as const;
/** Ingest lifecycle, so analysts can see when data may be missing. */
export const lifecycleSchema = z.object({
  ...base,
  kind: z.literal('lifecycle'),
  event: z.enum(lifecycleTypes),
  /** Which ingestor instance saw it (host:pid). */
  ingestor: z.string(),
  detail: nullableString,
  /** For `gap`: the span in which nothing could be received. */
  gap_start: epochMs.nullable(),
  gap_end: epochMs.nullable(),
});
export type Lifecycle = z.infer<typeof lifecycleSchema>;

export const chatEventSchema = z.discriminatedUnion('kind', [
  chatMessageSchema,
  banSchema,
  timeoutSchema,
  deletionSchema,
  clearSchema,
  userNoticeSchema,
  roomStateSchema,
  lifecycleSchema,
]);
export type ChatEvent = z.infer<typeof chatEventSchema>;
export type EventKind = ChatEvent['kind'];
export const eventKinds: readonly EventKind[] = ['message', 'ban', 'timeout', 'delete', 'clear', 'usernotice', 'roomstate', 'lifecycle'];

export type ValidationResult = { ok: true; event: ChatEvent } | { ok: false; reason: string };

/** Validates untrusted input; the reason names the offending field (e.g. `message.ts: expected number`). */
export function validateEvent(input: unknown): ValidationResult {
  const r = chatEventSchema.safeParse(input);
  if (r.success) return { ok: true, event: r.data };
  const kind = typeof input === 'object' && input !== null && 'kind' in input ? String((input as { kind: unknown }).kind) : 'event';
  const reason = r.error.issues
    .slice(0, 5)
    .map((i) => `${kind}.${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
  return { ok: false, reason };
}
