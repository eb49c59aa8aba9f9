/** Shared shapes of the importers. */
import { validateEvent, type ChatEvent, type EventKind, type EventSource } from '../../core/events.ts';
import type { InputProgress } from './input.ts';

export type ImportFormat = 'raw-irc' | 'chatty' | 'justlog' | 'gql' | 'v5' | 'twitchdownloader';

/** A line or record that could not become an event; goes to the dead-letter table. */
export interface Reject {
  /** `file:line` (text formats) or `file:#index` (JSON elements). */
  source: string;
  reason: string;
  /** The offending line/record, truncated to 10,000 characters. */
  payload: string;
}

/** Receives events in file order; returning a promise makes the importer wait (back-pressure). */
export type EventSink = (event: ChatEvent) => void | Promise<void>;

export interface ImportOptions {
  /** Channel for formats that do not name it (GQL exports, Chatty logs before a join line), or to override it. */
  channel?: string | null;
  /** `import` (default) or `replay`. */
  source?: EventSource;
  onReject?: (r: Reject) => void;
  /** Called once the file is open, with a live byte counter for progress bars. */
  onOpen?: (progress: InputProgress, format: ImportFormat) => void;
}

export interface ImportStats {
  file: string;
  format: ImportFormat;
  /** Events by kind. */
  events: Partial<Record<EventKind, number>>;
  /** Lines/records that are deliberately not events (connection chatter, viewer stats, ...). */
  ignored: number;
  rejected: number;
  /** Lines (text) or records (JSON) read. */
  units: number;
  /** What the importer changed or assumed about the whole file (e.g. times it could not take as written); the summary prints them. */
  notes: string[];
}

export function newStats(file: string, format: ImportFormat): ImportStats {
  return { file, format, events: {}, ignored: 0, rejected: 0, units: 0, notes: [] };
}

export function truncatePayload(s: string): string {
  return s.length > 10_000 ? s.slice(0, 10_000) : s;
}

/**
 * Message fields that recorded chat (Chatty logs, VOD exports) never carries: first-message and
 * returning-chatter flags, replies, shared-chat source and AutoMod flags exist only in live IRC tags.
 */
export const NOT_IN_RECORDINGS = {
  first_msg: false,
  returning_chatter: false,
  reply: null,
  source_room_id: null,
  source_id: null,
  flags: null,
} as const;

/**
 * For logs without message ids (Chatty, justlog/rustlog text): the occurrence of a key (kind, user, text, ...)
 * within its second, 0 for the first. It goes into the deterministic id, so two identical lines in one second are
 * both kept and a re-import gives the same ids. Only the current second's keys are held.
 */
export function occurrenceCounter(): (ts: number, key: string) => number {
  let second = -1;
  const seen = new Map<string, number>();
  return (ts, key) => {
    if (ts !== second) {
      second = ts;
      seen.clear();
    }
    const n = seen.get(key) ?? 0;
    seen.set(key, n + 1);
    return n;
  };
}

/**
 * Times for formats that give whole seconds (Chatty and justlog/rustlog text logs, GQL exports retimed to VOD
 * offsets): the k-th event of a run with the same time (file order, every kind emitted, k from 0) is put k ms
 * later, at most at the last millisecond of the second it started in. Every read orders by (ts, id), so without it
 * a second's lines came back in id (hash) order: 4,695 of riotgames1's 4,877 seconds with more than one message
 * were reordered, a ban read among chat written after it. The time never leaves its second, so every bucket of a
 * second or more is unchanged; ids hash the second, not this time, so a re-import gives the same ids (the store
 * looks for rows stored at the whole second by earlier versions, see enrich/store.ts `storedIds`). Past 1,000
 * events in one second the rest share its last millisecond (and id order). Only the current run is held, as in
 * {@link occurrenceCounter}: a clock that goes back to a second already left starts it again at 0.
 */
export function fileOrderClock(): (ts: number) => number {
  let at = NaN;
  let k = 0;
  return (ts) => {
    if (ts === at) k++;
    else {
      at = ts;
      k = 0;
    }
    return ts + Math.min(k, 999 - (((ts % 1000) + 1000) % 1000));
  };
}

/** `emit` with each event retimed by a {@link fileOrderClock} (`ts` and `received_at`: imports receive at `ts`). */
export function inFileOrder(emit: (e: ChatEvent) => Promise<void>): (e: ChatEvent) => Promise<void> {
  const clock = fileOrderClock();
  return (e) => {
    e.ts = e.received_at = clock(e.ts);
    return emit(e);
  };
}

/**
 * Counts a rejected line and reports it as `file:line` with its reason; the JSON importer passes `#index` for
 * an array element.
 */
export function lineRejecter(file: string, opts: ImportOptions, stats: ImportStats): (lineNo: number | string, reason: string, line: string) => void {
  return (lineNo, reason, line) => {
    stats.rejected++;
    opts.onReject?.({ source: `${file}:${lineNo}`, reason, payload: truncatePayload(line) });
  };
}

/** Why a line or record holding bytes that are not UTF-8 is rejected (see `mayHoldNotUtf8`). */
export const NOT_UTF8_REASON =
  'bytes that are not UTF-8 (Latin-1 or Windows-1252?): re-encode such lines as UTF-8 (a whole Latin-1 file: iconv -f windows-1252 -t utf-8; not a file that is UTF-8 elsewhere) and import again; lines already stored are kept once';

/** The earliest time an imported event may carry: Justin.tv, Twitch's predecessor, opened in 2007. */
export const FIRST_CHAT_TS = Date.UTC(2007, 0, 1);
/** How far past this machine's clock an imported time may be (a clock a little ahead). */
const FUTURE_SLACK_MS = 86_400_000;

/**
 * Why an imported event cannot be stored, or null. Before, the enrich stage dead-lettered such events under its own
 * bus batch id and the import's summary only showed "N read, M stored" with nothing rejected; a date field read
 * wrongly (1970, 2100) was stored as chat of that year. Checked here, they are rejected with their file:line. Costs
 * one validation per event (the fast path for messages; enrich validates again).
 */
export function unstorable(e: ChatEvent): string | null {
  if (!(e.ts >= FIRST_CHAT_TS && e.ts <= Date.now() + FUTURE_SLACK_MS)) {
    const shown = Number.isFinite(e.ts) && Math.abs(e.ts) <= 8.64e15 ? new Date(e.ts).toISOString() : String(e.ts);
    return `time ${shown} is outside 2007-01-01 .. now: not a time of Twitch chat (a wrong date or time field?)`;
  }
  const v = validateEvent(e);
  return v.ok ? null : `cannot be stored: ${v.reason}`;
}

/**
 * The sink as importers call it: counts each event by kind and waits when the sink asks for back-pressure. An event
 * that cannot be stored goes to `onUnstorable` with the reason instead (the importer rejects its line).
 */
export function countingSink(sink: EventSink, stats: ImportStats, onUnstorable: (reason: string) => void): (e: ChatEvent) => Promise<void> {
  return async (e) => {
    const problem = unstorable(e);
    if (problem !== null) {
      onUnstorable(problem);
      return;
    }
    stats.events[e.kind] = (stats.events[e.kind] ?? 0) + 1;
    const w = sink(e);
    if (w) await w;
  };
}
