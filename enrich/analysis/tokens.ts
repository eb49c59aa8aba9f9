/**
 * Token helpers shared by sentiment, toxicity and moderation. Everything here runs once per token on
 * the hot path, so it avoids regexes and allocations where a char-code loop will do.
 */

/** True for a-z, A-Z, 0-9. */
function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * Lowercases and strips leading/trailing punctuation ("good!!" -> "good", "@user," -> "user").
 * Keeps apostrophes inside words ("don't"). Returns '' when nothing word-like is left.
 */
export function normalizeWord(raw: string): string {
  let s = 0;
  let e = raw.length;
  while (s < e && !isAlnum(raw.charCodeAt(s)) && raw.charCodeAt(s) < 128) s++;
  while (e > s && !isAlnum(raw.charCodeAt(e - 1)) && raw.charCodeAt(e - 1) < 128) e--;
  return s === 0 && e === raw.length ? raw.toLowerCase() : raw.slice(s, e).toLowerCase();
}

/**
 * Collapses runs of 3+ identical characters to 2 ("gooood" -> "good", "noooo" -> "noo").
 * Returns the input itself when there is no such run (no allocation in the common case).
 */
export function collapseRepeats(w: string): string {
  let run = 1;
  let found = false;
  for (let i = 1; i < w.length; i++) {
    if (w.charCodeAt(i) === w.charCodeAt(i - 1)) {
      if (++run >= 3) { found = true; break; }
    } else run = 1;
  }
  if (!found) return w;
  let out = '';
  run = 0;
  for (let i = 0; i < w.length; i++) {
    if (i > 0 && w.charCodeAt(i) === w.charCodeAt(i - 1)) run++;
    else run = 1;
    if (run <= 2) out += w[i];
  }
  return out;
}

/** Collapses every run of identical characters to one ("good" -> "god"); used as a second lookup. */
export function collapseAll(w: string): string {
  let out = '';
  for (let i = 0; i < w.length; i++) if (i === 0 || w.charCodeAt(i) !== w.charCodeAt(i - 1)) out += w[i];
  return out;
}

/**
 * Twitch channel emotes are `<lowercase prefix><Suffix>` ("lionNice", "kateHug", "arypieSmug").
 * Returns the suffix ("Nice") or '' when the token does not have that shape.
 */
export function channelEmoteSuffix(tok: string): string {
  const n = tok.length;
  if (n < 4 || n > 30) return '';
  let i = 0;
  for (; i < n; i++) {
    const c = tok.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) continue;
    break;
  }
  if (i < 2 || i >= n) return '';
  const c = tok.charCodeAt(i);
  if (c < 65 || c > 90) return '';
  for (let j = i + 1; j < n; j++) if (!isAlnum(tok.charCodeAt(j))) return '';
  return tok.slice(i);
}
