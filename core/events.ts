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

/**
 * Tag holding the time a GQL VOD export gave a message (`createdAt`, verbatim ISO 8601), on every message of such an
 * export: where the importer could not take it as the message's `ts` (exports whose `createdAt` is not when messages
 * were sent: ingest/importers/vod-json.ts) it is the only record of it. IRCv3 vendor form, so no Twitch tag collides
 * with it. The store looks for a tagged message's copies from a day before that time to two days after (a VOD's
 * length): versions before 2026-11-22 stored retimed messages at it, and imports of one VOD may time it differently.
 */
export const EXPORT_TIME_TAG = 'twichist/export-created-at';

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

/**
 * `alive`: the live ingestor's heartbeat, every `INGEST_ALIVE_S` per joined channel while its IRC connection
 * receives lines (a PONG counts): what tells a quiet channel from a stalled ingest (alert "Ingest stalled").
 */
export const lifecycleTypes = ['connected', 'joined', 'parted', 'disconnected', 'reconnected', 'gap', 'alive'] as const;
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

/*
 * A check for the hot kind (`message`, ~95% of a chat stream) without zod. zod's parse costs ~3 µs per
 * message and builds a full copy of it (more garbage per event than anything else on the enrich path);
 * this accepts only input that zod accepts and would copy unchanged (exactly the schema's keys, plain
 * objects, no `__proto__` record key), and returns the input itself. Anything else, valid or not,
 * goes to zod, which stays the judge and names the reason. test/foundation/fast-validate.test.ts
 * proves "accepted here => zod accepts it and returns an equal value" over mutations of every field.
 * Scope: data JSON can carry (what the bus carries). Symbol keys, getters and non-enumerable
 * properties are not looked at: they never come out of JSON.parse, nor out of our own importers.
 */
const MESSAGE_KEYS = Object.keys(chatMessageSchema.shape).length;
const REPLY_KEYS = Object.keys(replySchema.shape).length;
const EMOTE_KEYS = Object.keys(emotePositionSchema.shape).length;
const SOURCES: ReadonlySet<unknown> = new Set(eventSourceSchema.options);

function isPlainObject(o: unknown): o is Record<string, unknown> {
  return typeof o === 'object' && o !== null && Object.getPrototypeOf(o) === Object.prototype;
}
function keyCount(o: object): number {
  let n = 0;
  for (const _ in o) n++;
  return n;
}
function isStr(v: unknown, min: number, max: number): boolean {
  return typeof v === 'string' && v.length >= min && v.length <= max;
}
function isNullableStr(v: unknown): boolean {
  return v === null || typeof v === 'string';
}
function isInt(v: unknown, min: number, max: number): boolean {
  return Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
}
function isStringRecord(o: unknown): boolean {
  if (!isPlainObject(o)) return false;
  for (const k in o) if (k === '__proto__' || typeof o[k] !== 'string') return false;
  return true;
}
function isEmoteList(a: unknown): boolean {
  if (!Array.isArray(a)) return false;
  for (let i = 0; i < a.length; i++) {
    const e: unknown = a[i];
    if (!isPlainObject(e) || keyCount(e) !== EMOTE_KEYS || !isStr(e.id, 1, Infinity) || !isInt(e.start, 0, Number.MAX_SAFE_INTEGER) || !isInt(e.end, 0, Number.MAX_SAFE_INTEGER)) return false;
  }
  return true;
}
const REPLY_NULLABLE = ['parent_user_id', 'parent_login', 'parent_display_name', 'parent_text', 'thread_parent_msg_id', 'thread_parent_login'] as const;
function isReply(r: unknown): boolean {
  if (r === null) return true;
  if (!isPlainObject(r) || keyCount(r) !== REPLY_KEYS || typeof r.parent_msg_id !== 'string') return false;
  for (const k of REPLY_NULLABLE) if (!isNullableStr(r[k])) return false;
  return true;
}

/** True when `o` is a chat message zod would accept and return unchanged (see above); false says nothing. */
export function isPlainValidMessage(o: unknown): o is ChatMessage {
  if (!isPlainObject(o) || o.kind !== 'message' || o.v !== 1) return false;
  const bits = o.bits;
  return (
    isStr(o.id, 1, 128) &&
    isStr(o.channel, 1, 64) &&
    isNullableStr(o.channel_id) &&
    isInt(o.ts, 0, 8_000_000_000_000) &&
    isInt(o.received_at, 0, 8_000_000_000_000) &&
    SOURCES.has(o.source) &&
    isNullableStr(o.user_id) &&
    isStr(o.login, 1, 64) &&
    isNullableStr(o.display_name) &&
    isStr(o.text, 0, 20_000) &&
    typeof o.action === 'boolean' &&
    isNullableStr(o.color) &&
    (bits === null || isInt(bits, 0, Number.MAX_SAFE_INTEGER)) &&
    typeof o.first_msg === 'boolean' &&
    typeof o.returning_chatter === 'boolean' &&
    isNullableStr(o.source_room_id) &&
    isNullableStr(o.source_id) &&
    isNullableStr(o.flags) &&
    isStringRecord(o.tags) &&
    isStringRecord(o.badges) &&
    isStringRecord(o.badge_info) &&
    isEmoteList(o.emotes) &&
    isReply(o.reply) &&
    keyCount(o) === MESSAGE_KEYS
  );
}

/** Validates untrusted input; the reason names the offending field (e.g. `message.ts: expected number`). */
export function validateEvent(input: unknown): ValidationResult {
  if (isPlainValidMessage(input)) return { ok: true, event: input };
  const r = chatEventSchema.safeParse(input);
  if (r.success) return { ok: true, event: r.data };
  const k = typeof input === 'object' && input !== null && 'kind' in input ? (input as { kind: unknown }).kind : undefined;
  // Only primitives are named: String() throws on an object without a prototype (in-process input).
  const kind = k === undefined || (typeof k === 'object' && k !== null) || typeof k === 'function' ? 'event' : String(k);
  const reason = r.error.issues
    .slice(0, 5)
    .map((i) => `${kind}.${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
  return { ok: false, reason };
}
