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

/** Time as epoch milliseconds or an ISO 8601 date/time; becomes epoch ms. */
export const timeSchema = z
  .string()
  .trim()
  .max(40)
  .transform((s, ctx) => {
    // Date.parse rolls an impossible day over (2016-02-30 -> 1 March): check the calendar first.
    const ymd = /^(\d{4})-(\d{2})-(\d{2})/.exec(s);
    if (ymd) {
      const [year, month, day] = [Number(ymd[1]), Number(ymd[2]), Number(ymd[3])];
      const days = month >= 1 && month <= 12 ? new Date(Date.UTC(year, month, 0)).getUTCDate() : 0;
      if (day < 1 || day > days) {
        ctx.addIssue({ code: 'custom', message: days === 0 ? `${ymd[0]} is not a date: there is no month ${ymd[2]}` : `${ymd[0]} is not a date: ${ymd[1]}-${ymd[2]} has ${days} days` });
        return z.NEVER;
      }
    }
    // A date-time without a zone is UTC, as the API documents (Date.parse would read it in the server's zone).
    const utc = ymd && /[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s) ? `${s.replace(' ', 'T')}Z` : s;
    const ms = /^\d{1,16}$/.test(s) ? Number(s) : ymd ? Date.parse(utc) : Number.NaN;
    if (!Number.isFinite(ms) || ms < 0 || ms > 8_000_000_000_000) {
      ctx.addIssue({ code: 'custom', message: 'must be epoch milliseconds or an ISO 8601 date/time between 1970 and 2223' });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ description: 'epoch milliseconds or ISO 8601, e.g. 2023-04-01T12:00:00Z' });

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
