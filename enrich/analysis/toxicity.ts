/**
 * Lexicon toxicity in 0..1: a hand-written list of slurs, insults and profanity with weights, matched
 * after leetspeak and repeated-letter normalisation. No model. Weights are "how likely a moderator
 * would act on this word alone": slurs and self-harm incitement near 1, insults mid, plain profanity low
 * (on Twitch "fucking" is mostly an intensifier).
 */

const LEET: Record<string, string> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '8': 'b', '@': 'a', '$': 's', '!': 'i', '|': 'i', '€': 'e' };

/** Word -> weight. Written in plain spelling and normalised with {@link norm} at load, so
 * "faggot" is stored as "fagot" (and the country "Niger" collides with a slur: accepted, rare in chat). */
const WORDS: ReadonlyMap<string, number> = (() => {
  const entries: [number, string[]][] = [
    // slurs
    [0.95, ['nigger', 'niggers', 'faggot', 'faggots', 'fag', 'fags', 'trannies', 'tranny', 'chink', 'chinks', 'kike', 'kikes',
      'spic', 'spics', 'gook', 'gooks', 'wetback', 'beaner', 'beaners', 'raghead', 'sandnigger', 'negro', 'negros']],
    [0.8, ['nigga', 'niggas', 'niggah', 'retard', 'retards', 'retarded', 'kys', 'kms', 'cunt', 'cunts', 'heil']],
    // insults
    [0.6, ['whore', 'whores', 'slut', 'sluts', 'motherfucker', 'motherfuckers', 'mf', 'dickhead', 'asshole', 'assholes',
      'scumbag', 'scum', 'scumlord', 'cocksucker', 'pedo', 'pedophile', 'rapist', 'autist', 'autism', 'autistic', 'mong',
      'spastic', 'spaz', 'incel', 'simp', 'cuck', 'cucks', 'cucked', 'stfu', 'gtfo', 'bitch', 'bitches', 'twat', 'wanker']],
    [0.45, ['idiot', 'idiots', 'moron', 'morons', 'imbecile', 'loser', 'losers', 'pathetic', 'bastard', 'bastards',
      'dumbass', 'jackass', 'dipshit', 'shithead', 'douche', 'douchebag', 'prick', 'ugly', 'disgusting', 'trash', 'garbage',
      'clown', 'clowns', 'stupid', 'dumb', 'noob', 'braindead', 'degenerate', 'virgin', 'ape']],
    // profanity
    [0.25, ['fuck', 'fucking', 'fuckin', 'fucked', 'fucker', 'fck', 'fk', 'fuk', 'fuc', 'phuck', 'fking', 'shit', 'shitty',
      'bullshit', 'sht', 'dick', 'dicks', 'cock', 'cocks', 'pussies', 'pussy', 'tits', 'boobs', 'penis', 'vagina',
      'porn', 'cum', 'jizz', 'wtf', 'stfu', 'ass', 'arse', 'piss', 'pissed', 'hoe', 'hoes', 'sex', 'nude', 'nudes', 'gay', 'homo']],
    [0.1, ['damn', 'crap', 'hell', 'sucks', 'suck', 'screw', 'bloody']],
  ];
  const m = new Map<string, number>();
  for (const [w, list] of entries) for (const k of list) if (!m.has(k)) m.set(norm(k), w);
  return m;
})();

/**
 * Listed words whose normal form is a common short word once the letter runs are collapsed ("ass" ->
 * "as"): they count only when the token itself had a run to collapse ("ass", "a$$", "asss"), not for
 * the English "as" (186 times in the Chatty logs, each one scored as profanity before 2026-11-22).
 */
const NEEDS_RUN: ReadonlySet<string> = new Set([norm('ass')]);

/** Letters of a token after leetspeak decoding, runs not collapsed ("a$$" 3, "as," 2). */
function letterCount(tok: string): number {
  let n = 0;
  for (const ch of tok.toLowerCase()) { const c = LEET[ch] ?? ch; if (c >= 'a' && c <= 'z') n++; }
  return n;
}

/** Phrases (normalised words joined by a space). */
const PHRASES: ReadonlyMap<string, number> = new Map([
  ['kil yourself', 0.95], ['kil urself', 0.95], ['kil yourselves', 0.9], ['go die', 0.8], ['hope you die', 0.9],
  ['neck yourself', 0.95], ['shut up', 0.4], ['fuck you', 0.6], ['fuck of', 0.5], ['suck my', 0.5], ['your mom', 0.3],
  ['ur mom', 0.3], ['get cancer', 0.9], ['die in', 0.4], ['kil your', 0.6],
]);

/** Second-person words: an insult aimed at someone is worse than one about a game. */
const YOU: ReadonlySet<string> = new Set(['you', 'u', 'ur', 'youre', 'your', 'ya', 'yo']);

/**
 * Lowercase, leetspeak decoded, letters only, every run of a letter collapsed to one
 * ("N1GG3RRR" -> "niger", "f.u.c.k" -> "fuck", "fuuuuck" -> "fuck"). The collapse also maps real
 * double letters ("faggot" -> "faget"), so the list above is written in collapsed form.
 */
export function norm(tok: string): string {
  // Fast path for the common token: lower-case ASCII letters without a repeated letter is its own
  // normal form (no leet, nothing dropped, nothing collapsed); saves a string built char by char.
  let plain = true;
  for (let i = 0, prev = -1; i < tok.length; i++) {
    const c = tok.charCodeAt(i);
    if (c < 97 || c > 122 || c === prev) { plain = false; break; }
    prev = c;
  }
  if (plain) return tok;
  let out = '';
  let last = '';
  const lower = tok.toLowerCase();
  for (let i = 0; i < lower.length; i++) {
    let c = lower[i];
    const l = LEET[c];
    if (l !== undefined) c = l;
    if (c < 'a' || c > 'z') continue;
    if (c === last) continue;
    out += c;
    last = c;
  }
  return out;
}

/**
 * Weight of a word the list lacks but that is a form of a listed one: a plural or slang plural
 * ("niggaz", "dumbasses" -> "dumbass"; "-es" only after a sibilant), or a compound of the two commonest swear words ("dumbfucks",
 * "shitstain": 0.25, their profanity weight). Slur stems are not matched inside longer words: "niger"
 * is inside "nigeria". Cost: one or two more Map lookups for words ending in s/z, one `includes` for
 * longer words, only when the exact lookup missed.
 */
function variant(w: string): number | undefined {
  const n = w.length;
  if (n > 3) {
    const last = w.charCodeAt(n - 1);
    if (last === 115 /* s */ || last === 122 /* z */) {
      // "-es" only after a sibilant, as English plurals go: "spices" is not "spic" + es
      const s = WORDS.get(w.slice(0, -1)) ?? (n > 4 && w.charCodeAt(n - 2) === 101 /* e */ && /(?:s|sh|ch|x|z)$/.test(w.slice(0, -2)) ? WORDS.get(w.slice(0, -2)) : undefined);
      if (s !== undefined) return s;
    }
  }
  if (n >= 6 && (w.includes('fuck') || w.includes('shit'))) return 0.25;
  return undefined;
}

/**
 * Toxicity of one message in 0..1: noisy-OR of matched word/phrase weights (1 - prod(1 - w)), with
 * directed insults (a second-person word in the message) weighted x1.3 and all-caps x1.1.
 * Cost: one pass over tokens, one Map.get per token plus one per adjacent pair.
 */
export function toxicity(text: string): number {
  const toks = text.split(' ');
  let keep = 1;
  let prev = '';
  let you = false;
  let letters = 0, upper = 0;
  for (let i = 0; i < toks.length; i++) {
    const raw = toks[i];
    if (raw.length === 0) continue;
    for (let j = 0; j < raw.length; j++) {
      const c = raw.charCodeAt(j);
      if (c >= 65 && c <= 90) { upper++; letters++; } else if (c >= 97 && c <= 122) letters++;
    }
    const w = norm(raw);
    if (w.length === 0) continue;
    if (YOU.has(w)) you = true;
    const s = NEEDS_RUN.has(w) && letterCount(raw) <= w.length ? undefined : WORDS.get(w) ?? variant(w);
    if (s !== undefined) keep *= 1 - s;
    if (prev) {
      const p = PHRASES.get(prev + ' ' + w);
      if (p !== undefined) keep *= 1 - p;
    }
    prev = w;
  }
  let t = 1 - keep;
  if (t > 0 && you) t = Math.min(1, t * 1.3);
  if (t > 0 && letters >= 6 && upper / letters > 0.8) t = Math.min(1, t * 1.1);
  return t;
}
