/** Shared request/response pieces. Every route declares zod schemas; OpenAPI is generated from them. */
import { z } from 'zod';
import { CHANNEL_LOGIN, normalizeChannel, splitChannels } from '../core/channels.ts';

/** A Twitch login (channel or user); a leading `#` is accepted and case is folded, as Twitch does. */
export const loginSchema = z
  .string()
  .transform(normalizeChannel)
  .pipe(z.string().regex(CHANNEL_LOGIN, 'must be a Twitch login: 1-25 of a-z, 0-9, _'));

/**
 * A user's login as stored: a Twitch login, or for users of recordings that show only display names (Chatty
 * logs) the lowercased display name, which may be in any script (`永和內馬爾`). User routes must reach every
 * stored user, not least to opt them out; channels stay Twitch logins ({@link loginSchema}).
 */
export const userLoginSchema = z
  .string()
  .trim()
  .transform((s) => s.replace(/^[#@]/, '').toLowerCase())
  .pipe(z.string().regex(/^[\p{L}\p{N}_]{1,64}$/u, 'must be a login: 1-64 letters (any script), digits or _'));

/** `a,b,c` (commas or spaces, as TWITCH_CHANNELS) -> logins, 1..max of them. */
export const loginListSchema = (max: number) =>
  z
    .string()
    .max(2000)
    .transform(splitChannels)
    .pipe(z.array(z.string().regex(CHANNEL_LOGIN, 'must be Twitch logins (a-z, 0-9, _), comma separated')).min(1).max(max));

/** Justin.tv, where Twitch chat began, started in 2007: an earlier epoch millisecond cannot be a time of stored chat. */
export const EARLIEST_CHAT_MS = Date.UTC(2007, 0, 1);
/** What {@link timeSchema} accepts, as its 400s and the OpenAPI document say it. */
export const TIME_FORMS =
  'epoch milliseconds from 2007 on (e.g. 1475200800000; 0 for the beginning), an ISO 8601 date or date-time (2016-09-30, 2016-09-30T02:00:00Z; UTC without a zone) or a compact date YYYYMMDD (20160930)';

/** A calendar date, or the reason it is none (Date.UTC rolls 2016-02-30 over to 1 March). */
function calendarDay(y: string, m: string, d: string): number | string {
  const [year, month, day] = [Number(y), Number(m), Number(d)];
  const days = month >= 1 && month <= 12 ? new Date(Date.UTC(year, month, 0)).getUTCDate() : 0;
  if (day >= 1 && day <= days) return Date.UTC(year, month - 1, day);
  return days === 0 ? `there is no month ${m}` : `${y}-${m} has ${days} days`;
}

/**
 * Time as epoch milliseconds, an ISO 8601 date/time or a compact date (YYYYMMDD); becomes epoch ms.
 * A number before 2007 (other than 0) is a 400 naming the accepted forms: `from=20160930` was read as
 * 20,160,930 ms, 6 hours into 1970, so a range of compact dates came back empty without a hint. Eight
 * digits are read as YYYYMMDD: as milliseconds they are the first day of 1970, which is refused now anyway,
 * so no number that can be a time of chat changes its meaning. `0` stays: clients pass `from=0` for "all
 * of history" (`/analytics/compare` reads the raw tables then).
 */
export const timeSchema = z
  .string()
  .trim()
  .max(40)
  .transform((s, ctx) => {
    const fail = (why: string) => {
      ctx.addIssue({ code: 'custom', message: why });
      return z.NEVER;
    };
    const compact = /^(\d{4})(\d{2})(\d{2})$/.exec(s);
    if (compact) {
      const day = calendarDay(compact[1], compact[2], compact[3]);
      return typeof day === 'number' ? day : fail(`${s} is not a date (YYYYMMDD): ${day}`);
    }
    if (/^\d{1,16}$/.test(s)) {
      const ms = Number(s);
      if (ms === 0 || (ms >= EARLIEST_CHAT_MS && ms <= 8_000_000_000_000)) return ms;
      // 9-10 digits are epoch seconds of 1973-2286: the usual slip
      const seconds = s.length >= 9 && s.length <= 10 && ms * 1000 >= EARLIEST_CHAT_MS ? ` (${s} looks like epoch seconds: ${s}000 is ${new Date(ms * 1000).toISOString()})` : '';
      return fail(`${s} is ${ms < EARLIEST_CHAT_MS ? `before 2007 as epoch milliseconds (${new Date(ms).toISOString()}), older than any Twitch chat` : 'after 2223'}${seconds}; give ${TIME_FORMS}`);
    }
    const ymd = /^(\d{4})-(\d{2})-(\d{2})/.exec(s);
    if (ymd) {
      const day = calendarDay(ymd[1], ymd[2], ymd[3]);
      if (typeof day === 'string') return fail(`${ymd[0]} is not a date: ${day}`);
    }
    // `from=2016-09-30T10:00:00+08:00` typed into a URL arrives with a space for the '+' (form encoding): a
    // space before a trailing offset can be nothing else. It was the generic 400 with no hint to write %2B.
    const zoned = ymd ? s.replace(/(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$/, '$1+$2') : s;
    // A date-time without a zone is UTC, as the API documents (Date.parse would read it in the server's zone).
    const utc = ymd && /[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(zoned) ? `${zoned.replace(' ', 'T')}Z` : zoned.replace(' ', 'T');
    const ms = ymd ? Date.parse(utc) : Number.NaN;
    if (!Number.isFinite(ms) || ms < 0 || ms > 8_000_000_000_000) return fail(`must be ${TIME_FORMS}, between 1970 and 2223`);
    return ms;
  })
  .meta({ description: `${TIME_FORMS}; a date is its start (00:00 UTC). A number before 2007 is a 400 naming these forms.` });

export const rangeQuery = {
  from: timeSchema.optional(),
  to: timeSchema.optional(),
};

export const limitSchema = (def: number, max: number) => z.coerce.number().int().min(1).max(max).default(def);

/** `?flag`, `?flag=true|1|false|0`. */
export const boolQuery = z
  .enum(['', 'true', 'false', '1', '0'])
  .transform((v) => v === '' || v === 'true' || v === '1')
  .optional();

/** Keyset cursor over (ts, id), opaque to clients. */
export const cursorSchema = z
  .string()
  .max(400)
  .transform((s, ctx) => {
    const c = decodeCursor(s);
    if (!c) {
      ctx.addIssue({ code: 'custom', message: 'not a cursor returned by this API' });
      return z.NEVER;
    }
    return c;
  });

export interface Cursor {
  ts: number;
  id: string;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.ts, c.id]), 'utf8').toString('base64url');
}

/** One page from `limit + 1` rows fetched newest first: the extra row only says whether more exist. */
export function keysetPage<R extends { ts_ms: number; id: string }, O>(list: R[], limit: number, out: (r: R) => O): { items: O[]; next_cursor: string | null } {
  const more = list.length > limit;
  const page = more ? list.slice(0, limit) : list;
  const last = page[page.length - 1];
  return { items: page.map(out), next_cursor: more && last ? encodeCursor({ ts: Number(last.ts_ms), id: last.id }) : null };
}

export function decodeCursor(s: string): Cursor | null {
  if (!/^[A-Za-z0-9_-]+$/.test(s)) return null;
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(v) || v.length !== 2 || !Number.isSafeInteger(v[0]) || v[0] < 0 || typeof v[1] !== 'string' || v[1].length > 128) return null;
    return { ts: v[0] as number, id: v[1] };
  } catch {
    return null;
  }
}

export const bucketSchema = z.enum(['30s', '1m', '1h', '1d']);

/**
 * A channel a read is about (path or `?channel=`): a route answers 404 naming it when Twichist does not
 * know it (api/known-channels.ts), so a typo is not read as a quiet channel.
 */
export const knownChannelSchema = loginSchema.meta({ description: 'channel login (a leading # and case are folded); 404 `not_found` naming it when Twichist has never seen it (not followed and nothing stored)' });
export const channelParams = z.object({ channel: knownChannelSchema });
export const loginParams = z.object({ login: userLoginSchema });

/** ISO 8601 timestamp in responses. */
export const isoTime = z.string().meta({ description: 'ISO 8601 UTC' });
