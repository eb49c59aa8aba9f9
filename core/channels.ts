/**
 * Channel names as users type them, read the same way wherever one comes in (TWITCH_CHANNELS, API bodies,
 * paths and query strings, CLI flags): `#XQC ` is `xqc`. Before, each entry point had its own copy, and
 * they differed (the API's lists split on commas only, so `channels=a b` was a 400 where
 * `TWITCH_CHANNELS=a b` was two channels; `analytics topics --channel '#X'` looked for a channel `#X`).
 */

/** What a stored channel login is: Twitch's rule for logins. */
export const CHANNEL_LOGIN = /^[a-z0-9_]{1,25}$/;

/** The rule in words, for error messages. */
export const CHANNEL_LOGIN_RULE = 'a Twitch login: 1-25 of a-z, 0-9, _ (a leading # is dropped, case is folded)';

/** `' #XQC '` -> `'xqc'`: trimmed, one leading `#` (IRC's channel prefix) dropped, lowercased as Twitch does. Not validated: see {@link CHANNEL_LOGIN}. */
export function normalizeChannel(raw: string): string {
  return raw.trim().replace(/^#/, '').toLowerCase();
}

/** `'#a, B c'` -> `['a', 'b', 'c']`: split on commas and white space, each normalised, empties and repeats dropped. Not validated. */
export function splitChannels(raw: string): string[] {
  return [...new Set(raw.split(/[\s,]+/).map(normalizeChannel).filter((c) => c.length > 0))];
}
