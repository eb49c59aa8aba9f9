/**
 * Moderation risk in 0..1: how likely moderators time out or ban the author right after this message.
 * On real esports chat what gets timed out is mostly spam and floods, not profanity, so the features are
 * mostly spam features plus toxicity and the user's recent behaviour in the channel. They are combined by
 * a logistic model trained on riotgames1 BAN labels (scripts/train-moderation.ts ->
 * moderation-model.json).
 *
 * State is per channel (per-channel maps of users by name and of texts by hash; user entries are slots
 * of typed-array slabs) with hard global size caps and a time window, so memory is bounded whatever the
 * number of channels/users: at the defaults (100,000 users, 50,000 texts, 10,000 channels) ~69 MB for
 * the user entries (~690 B each since the word-pair ban rates, ~530 B before: heap delta + array buffers
 * after 100,000 users, `--expose-gc`; the
 * object-per-user state before 2026-11-21 measured ~1,420 B, ~140 MB). When a map exceeds its cap, the
 * 10% met longest ago are dropped at once (texts idle beyond the window first). Speed: `node
 * bench/analysis.ts 3`, A/B against the Map-LRU version, 2026-11-21: 54,386-61,415 -> 83,547-85,355 msgs
 * per CPU-second (the whole analyzer; docs/sentiment.md "Speed").
 */
import { DEFAULT_EMOTES, EMOTICONS } from './lexicon.ts';
import { channelEmoteSuffix } from './tokens.ts';
import { toxicity } from './toxicity.ts';
import model from './moderation-model.json' with { type: 'json' };

/** What a message carries besides its channel, author, text and time; every field may be left out. */
export interface MessageContext {
  /** Emote names found in the text by the emote stage (Twitch and third-party); default none. */
  emoteNames?: readonly string[];
  /** Toxicity 0..1 of the text when the caller has it; default the lexicon's ({@link toxicity}). */
  toxicity?: number;
  /** The author's IRC badges (name -> version); `null` or absent when unknown, as in logs without them ({@link roleLogit}). */
  badges?: Badges | null;
  /** A /me message (IRC ACTION). Default false. */
  action?: boolean;
}

/** Options for {@link ModerationState}. */
export interface ModerationOptions {
  /**
   * Most (channel, user) entries kept; least recently active are evicted first. Each costs ~690 B (measured).
   * Default 100,000.
   */
  maxUsers?: number;
  /** Most (channel, message text) entries kept for copy-pasta detection; ~200 bytes each. Default 50,000. */
  maxTexts?: number;
  /**
   * Most (channel, word, word pair or word set) entries kept for their ban rates; ~200 bytes each. Default
   * 200,000: word pairs doubled the entries, and at 100,000 the six sample channels interleaved in one state
   * already reached the cap (peak 99,999; 46k-odd before the pairs), forgetting 30-minute rates early.
   */
  maxWords?: number;
  /** Entries idle longer than this are treated as absent (and evicted when met). Default 300,000 ms. */
  windowMs?: number;
}

/** Names of the features, in model order. */
export const FEATURE_NAMES = [
  'logLen', 'capsRatio', 'tokenRepeat', 'logMaxSameToken', 'logEmotes', 'emoteRatio', 'symbolRatio', 'charRun',
  'nonAscii', 'link', 'logPastaUsers', 'pastaLong', 'sameUserRepeat', 'logUserRate30s', 'toxicity', 'onlyPunct',
  'newUser', 'mentions', 'digitRatio', 'logTokens', 'logPrevMaxLen', 'logPrevMaxSame', 'logGapS',
  'logUserRate60s', 'loginToxicity', 'logUserSeen', 'censored', 'logChannelRate10s', 'logSymbols', 'logMaxRun',
  'logPrevMaxEmotes',
  // moderators in action and floods as they form (bans are the CLEARCHAT events seen BEFORE this message)
  'logBans10s', 'logBans60s', 'logBannedTextUsers', 'logUserBans', 'logSinceUserBan', 'logBurstUsers10s',
  'loginDigits', 'loginLen', 'logNewUsers10s', 'logSkeletonUsers', 'logBannedSkeletonUsers',
  'blockedTerms', 'loginBlockedTerms',
  // what moderators are banning right now: ban rate of this message's words and of its word set
  'tokBanRate', 'logTokBanned', 'shapeBanRate', 'logShapeBanned', 'logOwnShapeRepeats',
  // the user's session so far (their earlier messages in the window): floods start with plain chat
  'logUserRate2m', 'userMaxTokBanRate', 'userMaxShapeBanRate', 'logUserLongMsgs',
  // a /me message (coloured text): riotgames1 timed out every one of its 12; 26 of the 212 in all Chatty logs
  // were followed by a ban (12%, against 1.7% of all messages)
  'action',
  // what this channel's moderators have banned this event: the word and shape ban rates with a 30 min time
  // constant ("krepo", "15", "EU" taunts last the whole event), and the ban rate of adjacent word pairs
  'tokBanRateL', 'logTokBannedL', 'shapeBanRateL', 'logShapeBannedL', 'bigramBanRate', 'logBigramBanned',
] as const;
export const FEATURE_COUNT = FEATURE_NAMES.length;
const TOXICITY_FEATURE = FEATURE_NAMES.indexOf('toxicity');
const ACTION_FEATURE = FEATURE_NAMES.indexOf('action');
const LONG_RATE_FEATURE = FEATURE_NAMES.indexOf('tokBanRateL'), BIGRAM_FEATURE = FEATURE_NAMES.indexOf('bigramBanRate');

/**
 * A (channel, user) entry is a slot of two slabs of typed arrays, not an object: an object with its
 * eight small arrays and three recent-message objects measured ~1.4 KB a user, a slot is
 * U_F64 * 8 + U_U32 * 4 = 620 bytes (464 before the word pairs; plus the user name key and its Map slot); no array shifts per
 * message either. Float64 fields (times and the doubles of the features, exactly as before):
 */
const F_LAST_TS = 0, F_LAST_HASH = 1, F_SEEN = 2, F_MAX_LEN = 3, F_MAX_SAME = 4, F_MAX_EMOTES = 5;
const F_LOGIN_TOX = 6, F_LOGIN_BLOCKED = 7, F_BANS = 8, F_LAST_BAN = 9, F_MARKED = 10;
/** The session so far: message count decayed with time constant {@link SESSION_TAU_MS}, highest word and shape ban rates of earlier messages, count of their 30+ character ones. */
const F_RATE = 11, F_MAX_TOK_RATE = 12, F_MAX_SHAPE_RATE = 13, F_LONG_MSGS = 14;
/** Ring of the times of the last 8 messages; the last 3 messages' times (ring, with their words and shapes below). */
const F_TS = 15, F_RECENT_TS = 23;
const U_F64 = 26;
/**
 * Uint32 fields: ring heads and lengths; normalised-text and skeleton hashes of the last 3 messages
 * (what a ban marks as banned text); shapes (word-set hashes) of the last 8; the last 3 messages'
 * shape, word count and up to {@link MAX_WORDS} distinct word hashes, bigram count and up to
 * {@link MAX_WORDS} distinct bigram hashes (what a ban marks as banned).
 * Rings are read oldest first where order matters (a ban marks words in message order, which fixes
 * the word map's insertion order).
 */
const U_TS_N = 0, U_TS_HEAD = 1, U_HASH_N = 2, U_HASH_HEAD = 3, U_SHAPE_N = 4, U_SHAPE_HEAD = 5, U_RECENT_N = 6, U_RECENT_HEAD = 7;
const U_HASHES = 8, U_SHAPES = 14, U_RECENT_SHAPE = 22, U_RECENT_NW = 25, U_RECENT_WORDS = 28;
const U_RECENT_NBG = U_RECENT_WORDS + 3 * 12, U_RECENT_BG = U_RECENT_NBG + 3;
const U_U32 = U_RECENT_BG + 3 * 12;
/** Users per slab chunk: chunks are added as users arrive (~500 KB each), never all `maxUsers` at once. */
const CHUNK_BITS = 10;
const CHUNK = 1 << CHUNK_BITS;
interface TextEntry { users: string[]; userTs: number[]; lastTs: number; banned: number; bannedTs: number }
/**
 * A word (or word set, or word pair) of the channel: distinct users who posted it and how many of them
 * were banned within a minute, both decayed exponentially (time constant {@link BAN_RATE_TAU_MS}) so the
 * rate follows what moderators are banning now ("7777", a slogan, a raid's copy-pasta), not all day;
 * `postersL`/`bannedL` the same counts with {@link LONG_BAN_RATE_TAU_MS}: what they have banned this event.
 */
interface WordEntry { posters: number; banned: number; ts: number; postersL: number; bannedL: number }
const BAN_RATE_TAU_MS = 300_000;
/** Inner split (fit first 50%, score 50-70%) with the bigram rates: 30 min 0.9123, 45 min 0.9114, 60 min 0.9113; without 0.9101. */
const LONG_BAN_RATE_TAU_MS = 6 * BAN_RATE_TAU_MS;
/** Time constant of a user's decayed message count (60 s, 120 s and 300 s scored the same on the inner split). */
const SESSION_TAU_MS = 120_000;
/**
 * Messages and first-seen users per second over the last 10 s, as rings of per-second counts, the
 * times of the last 64 bans/timeouts in the channel, and the channel's users and texts: per-channel
 * maps keyed by the user name and by the text hash (a number) cost one string hash of the name per
 * message instead of building and hashing `channel \0 user` and `channel \0 hash` strings.
 */
interface ChannelEntry {
  sec: number; counts: Uint16Array; newCounts: Uint16Array; bans: number[];
  /** Small number naming the channel in numeric word keys (a Map with number keys hashes no string). */
  id: number;
  /** Time of the last message or ban: the channel map's eviction order. */
  last: number;
  /** User name -> slot in the user slabs. */
  users: Map<string, number>;
  /** Text or skeleton hash (as int32: exact, one-to-one) -> entry. */
  texts: Map<number, TextEntry>;
}
/**
 * Map key of a word (or, with `salt`, a shape) of channel `id`: the hash mixed with the id, kept in
 * 31 bits so V8 stores it as a small integer (double keys made the lookups ~3x dearer). Two words of
 * the 200,000 kept share a key about once per 2^31 / 200,000 lookups: noise, not an error.
 */
function wordKey(id: number, hash: number, salt: number): number {
  return (Math.imul(id ^ salt, 0x9e3779b1) ^ hash) >> 1;
}
const SHAPE_SALT = 0x5bd1e995;
const NO_EMOTES: readonly string[] = [];
const BIGRAM_SALT = 0x27d4eb2f;

/**
 * FNV-1a over the normalised text: lowercase letters, digits and non-ASCII only, so "spam", "SPAM ." and
 * "spam!!" are the same text for repeat and copy-pasta detection.
 */
function textHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    else if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c > 127)) continue;
    h ^= c;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Skeleton hash: letters only, lower-cased, letter runs collapsed, digits dropped. Spam bots vary
 * copies ("FREE VIEWERS at x.com 123", "freeee viewers at x.com 456") so that exact copies do not match;
 * the skeleton does. Tagged with a high bit so it never equals a textHash in the same map.
 */
function skeletonHash(text: string): number {
  let h = 0x811c9dc5;
  let prev = -1;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    else if (!((c >= 97 && c <= 122) || c > 127)) continue;
    if (c === prev) continue;
    prev = c;
    h ^= c;
    h = Math.imul(h, 0x01000193);
  }
  return ((h >>> 1) | 0x40000000) >>> 0;
}

/** Most distinct words of a message tracked for ban rates (a longer message keeps its first 12). */
const MAX_WORDS = 12;
/** Word hashes of the message being scored, in order (grows for a message of more words; reused). */
let wordSeq = new Uint32Array(256);
/**
 * Hashes of the words of `text` in order into {@link wordSeq} (returns their count): words split on
 * spaces, ASCII lower-cased, runs of one character collapsed so "77777" and "7777777", "LUUUL" and "LUL",
 * "????" and "??" are the same word. Cost: one pass over the text; no allocation below 256 words.
 */
function wordSequence(text: string): number {
  let n = 0, h = 0x811c9dc5, len = 0, prev = -1;
  for (let i = 0; i <= text.length; i++) {
    let c = i < text.length ? text.charCodeAt(i) : 32;
    if (c === 32) {
      if (len > 0) {
        if (n === wordSeq.length) { const grown = new Uint32Array(2 * n); grown.set(wordSeq); wordSeq = grown; }
        wordSeq[n++] = h >>> 0;
      }
      h = 0x811c9dc5; len = 0; prev = -1;
      continue;
    }
    if (c >= 65 && c <= 90) c += 32;
    if (c === prev) continue;
    prev = c;
    h ^= c;
    h = Math.imul(h, 0x01000193);
    len++;
  }
  return n;
}

/** The first {@link MAX_WORDS} distinct of the `n` hashes of {@link wordSequence} into `out` (returns their count). */
function wordHashes(n: number, out: Uint32Array): number {
  let d = 0;
  for (let i = 0; i < n; i++) {
    const w = wordSeq[i];
    let dup = false;
    for (let k = 0; k < d; k++) if (out[k] === w) { dup = true; break; }
    if (!dup) { out[d++] = w; if (d === MAX_WORDS) break; }
  }
  return d;
}

/** Order-free hash of a set of word hashes: the message's shape ("FORA TEMER FORA TEMER" = "temer fora"). */
function shapeOf(words: Uint32Array, n: number): number {
  let s = 0;
  for (let k = 0; k < n; k++) { const w = words[k]; s = (s + Math.imul(w ^ (w >>> 16), 0x45d9f3b)) | 0; }
  return (s ^ n) >>> 0;
}

/**
 * The first {@link MAX_WORDS} distinct hashes of adjacent word pairs of the `n` hashes of
 * {@link wordSequence} into `out` (returns their count): "KREPO 15" = "krepo 15"; a one-word message has none.
 */
function bigramHashes(n: number, out: Uint32Array): number {
  let d = 0;
  for (let i = 1; i < n; i++) {
    const p = wordSeq[i - 1], w = wordSeq[i];
    const b = (Math.imul(p ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(w ^ (w >>> 15), 0xc2b2ae35)) >>> 0;
    let dup = false;
    for (let k = 0; k < d; k++) if (out[k] === b) { dup = true; break; }
    if (!dup) { out[d++] = b; if (d === MAX_WORDS) break; }
  }
  return d;
}

/**
 * Word stems that channels commonly put in their blocked terms or that moderators time out on sight,
 * matched as substrings of the lower-cased text ("h2gay", "#imgay", "retards", "pedokrepo"): identity
 * words used as insults, extremism, sexual content, self-harm, and frequent non-English profanity that
 * the English toxicity list does not know. Generic on purpose: no names of players, teams or events.
 * Known false positives: "gay" in a supportive message, "isis" inside words ("crisis"), "rape" inside
 * "grape"/"drape" (guarded below). Cost: ~30 indexOf per message.
 */
const BLOCKED_STEMS = [
  'gay', 'retard', 'autis', 'pedo', 'rapist', 'hitler', 'nazi', 'isis', '9/11', 'kkk', 'jews', 'terroris',
  'cancer', 'aids', 'ebola', 'suicide', 'hentai', 'porn', 'whisper me', 'caralho', 'porra', 'puta', 'cyka',
  'blyat', 'pidor', 'merde', 'scheisse', 'schwuchtel', 'maricon', 'pendejo',
];
const BLOCKED_EMOTES = ['PedoBear', 'ANELE'];
/**
 * Any stem, "rape", or a blocked emote lower-cased ("PedoBear" holds "pedo", "ANELE" is "anele"): most
 * messages match none, and one regex scan rejects them ~4x faster than ~30 `includes` (measured on
 * riotgames1).
 */
const BLOCKED_ANY = new RegExp([...BLOCKED_STEMS, 'rape', 'anele'].map((s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'));
export function blockedTerms(text: string): number {
  const t = text.toLowerCase();
  if (!BLOCKED_ANY.test(t)) return 0;
  let k = 0;
  for (const s of BLOCKED_STEMS) if (t.includes(s)) k++;
  const r = t.indexOf('rape');
  if (r >= 0 && (r === 0 || !'gdt'.includes(t[r - 1]))) k++;
  for (const e of BLOCKED_EMOTES) if (text.includes(e)) k++;
  return k;
}

/** Per-message spam features that need no state. Writes into `f` (length FEATURE_COUNT). */
export function textFeatures(text: string, emoteNames: readonly string[], f: Float64Array, tox: number = toxicity(text)): void {
  const n = text.length;
  let letters = 0, upper = 0, symbols = 0, nonAscii = 0, digits = 0, run = 1, maxRun = 1, mentions = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 65 && c <= 90) { upper++; letters++; } else if (c >= 97 && c <= 122) letters++;
    else if (c >= 48 && c <= 57) digits++;
    else if (c > 127) nonAscii++;
    else if (c !== 32) { symbols++; if (c === 64) mentions++; }
    if (i > 0 && c === text.charCodeAt(i - 1) && c !== 32) { if (++run > maxRun) maxRun = run; } else run = 1;
  }
  const toks = text.split(' ');
  let nTok = 0, emotes = 0, maxSame = 0;
  // token repetition without a Map for the common short message: O(t^2) below 16 tokens
  const counts = toks.length > 16 ? new Map<string, number>() : null;
  let unique = 0;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i];
    if (t.length === 0) continue;
    nTok++;
    if (DEFAULT_EMOTES.has(t) || EMOTICONS.has(t) || channelEmoteSuffix(t) !== '' || (emoteNames.length > 0 && emoteNames.includes(t))) emotes++;
    let k: number;
    if (counts) { k = (counts.get(t) ?? 0) + 1; counts.set(t, k); if (k === 1) unique++; }
    else {
      k = 1;
      let first = true;
      for (let j = 0; j < i; j++) if (toks[j] === t) { k++; first = false; }
      if (first) unique++;
    }
    if (k > maxSame) maxSame = k;
  }
  const link = text.includes('http://') || text.includes('https://') || text.includes('www.') || /\.(com|tv|gg|net|org|ly|io)\b/.test(text) ? 1 : 0;
  let onlyPunct = n > 0 ? 1 : 0;
  for (let i = 0; i < n && onlyPunct; i++) { const c = text.charCodeAt(i); if (c !== 63 && c !== 33 && c !== 32 && c !== 46) onlyPunct = 0; }
  f[0] = Math.log1p(n);
  f[1] = letters >= 4 ? upper / letters : 0;
  f[2] = nTok >= 3 ? 1 - unique / nTok : 0;
  f[3] = Math.log1p(maxSame - 1 > 0 ? maxSame - 1 : 0);
  f[4] = Math.log1p(emotes);
  f[5] = nTok ? emotes / nTok : 0;
  f[6] = n ? symbols / n : 0;
  f[7] = maxRun >= 4 ? maxRun / n : 0;
  f[8] = n ? nonAscii / n : 0;
  f[9] = link;
  f[14] = tox;
  f[15] = onlyPunct;
  f[17] = mentions;
  f[18] = n ? digits / n : 0;
  f[19] = Math.log1p(nTok);
  // Twitch (and so Chatty logs) show words hit by the channel's blocked terms / AutoMod as "***"
  let censored = 0;
  for (let i = text.indexOf('***'); i >= 0; i = text.indexOf('***', i + 3)) censored++;
  f[26] = censored;
  // absolute counts next to the ratios: bot rules are "30+ symbols", "a character repeated 30+ times"
  f[28] = Math.log1p(symbols + nonAscii);
  f[29] = Math.log1p(maxRun);
  f[42] = blockedTerms(text);
}

/**
 * A generalised additive logistic model: each feature is cut at up to 12 training-set quantile edges
 * and every edge the value exceeds adds its weight ("thermometer" coding). It captures the step
 * shapes of moderation rules (e.g. length over ~30 characters, 3+ emotes) that a linear model on the
 * raw values cannot. Cost: at most 13 comparisons per feature.
 */
export interface ModerationModel {
  version: string; features: string[]; edges: number[][]; weights: number[][]; bias: number;
  /** Lowercased token -> logit weight (each distinct token of a message counts once). */
  tokens?: Record<string, number>;
  /** Trees whose logit is averaged with the additive one (see {@link gbdtLogit}). */
  gbdt?: Pick<GbdtModel, 'depth' | 'bias' | 'trees'>;
}
const mm = model as unknown as ModerationModel;


/** Logit of the model for one feature vector. */
export function riskLogit(f: ArrayLike<number>, m: ModerationModel = mm): number {
  let z = m.bias;
  for (let j = 0; j < FEATURE_COUNT; j++) {
    const e = m.edges[j];
    if (e === undefined) continue;
    const w = m.weights[j];
    const v = f[j];
    for (let k = 0; k < e.length; k++) { if (v > e[k]) z += w[k]; else break; }
  }
  return z;
}

const TOKEN_WEIGHTS: ReadonlyMap<string, number> = new Map(Object.entries(mm.tokens ?? {}));

/** Distinct lowercased tokens of a message (the token part of the model). */
export function modTokens(text: string): string[] {
  const out: string[] = [];
  for (const t of text.toLowerCase().split(' ')) if (t.length > 0 && t.length <= 40 && !out.includes(t)) out.push(t);
  return out;
}

/** Sum of token weights; allocation: one lowercase copy and one split. */
export function tokenLogit(text: string, weights: ReadonlyMap<string, number> = TOKEN_WEIGHTS): number {
  if (weights.size === 0) return 0;
  let z = 0;
  const toks = text.toLowerCase().split(' ');
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i];
    const w = weights.get(t);
    if (w === undefined) continue;
    let dup = false;
    for (let j = 0; j < i; j++) if (toks[j] === t) { dup = true; break; }
    if (!dup) z += w;
  }
  return z;
}

/**
 * Gradient-boosted trees of fixed depth D stored as complete binary trees: `f`/`t` the 2^D - 1 inner
 * nodes in breadth-first order (feature index, threshold: go right when value > t; f = -1 sends
 * everything left), `l` the 2^D leaf values. Cost: D comparisons per tree.
 */
export interface GbdtModel { depth: number; bias: number; trees: { f: number[]; t: number[]; l: number[] }[] }

/** Logit of a tree model for one feature vector. */
export function gbdtLogit(x: ArrayLike<number>, m: Pick<GbdtModel, 'depth' | 'bias' | 'trees'>): number {
  let z = m.bias;
  const D = m.depth, inner = (1 << D) - 1;
  for (let i = 0; i < m.trees.length; i++) {
    const tr = m.trees[i];
    let k = 0;
    for (let lv = 0; lv < D; lv++) { const fj = tr.f[k]; k = 2 * k + 1 + (fj >= 0 && x[fj] > tr.t[k] ? 1 : 0); }
    z += tr.l[k - inner];
  }
  return z;
}

/**
 * The built-in model flattened into typed arrays once at load: the same comparisons and additions in
 * the same order as {@link riskLogit} + {@link gbdtLogit} (so the same doubles), without walking
 * JSON-shaped nested arrays per message.
 */
const C_EDGE_START = new Int32Array(FEATURE_COUNT + 1);
const C_EDGES: Float64Array = (() => {
  const out: number[] = [];
  for (let j = 0; j < FEATURE_COUNT; j++) {
    C_EDGE_START[j] = out.length;
    const e = mm.edges[j];
    if (e !== undefined) for (let k = 0; k < e.length; k++) out.push(e[k]);
  }
  C_EDGE_START[FEATURE_COUNT] = out.length;
  return Float64Array.from(out);
})();
const C_WEIGHTS: Float64Array = (() => {
  const out = new Float64Array(C_EDGES.length);
  for (let j = 0; j < FEATURE_COUNT; j++) {
    const w = mm.weights[j];
    for (let k = C_EDGE_START[j]; k < C_EDGE_START[j + 1]; k++) out[k] = w[k - C_EDGE_START[j]];
  }
  return out;
})();
const C_GBDT = mm.gbdt;
const C_DEPTH = C_GBDT?.depth ?? 0;
const C_INNER = (1 << C_DEPTH) - 1;
const C_TREES = C_GBDT?.trees.length ?? 0;
const C_TF = new Int32Array(C_TREES * C_INNER);
const C_TT = new Float64Array(C_TREES * C_INNER);
const C_TL = new Float64Array(C_TREES * (C_INNER + 1));
if (C_GBDT !== undefined) {
  for (let i = 0; i < C_TREES; i++) {
    const tr = C_GBDT.trees[i];
    for (let k = 0; k < C_INNER; k++) { C_TF[i * C_INNER + k] = tr.f[k]; C_TT[i * C_INNER + k] = tr.t[k]; }
    for (let k = 0; k <= C_INNER; k++) C_TL[i * (C_INNER + 1) + k] = tr.l[k];
  }
}

/**
 * Final logit of the built-in model: the additive logit ({@link riskLogit}) plus the token logit, averaged
 * with the trees' ({@link gbdtLogit}) for an ensemble, from arrays built once at load.
 */
function compiledLogit(f: Float64Array, tokenZ: number): number {
  let z = mm.bias;
  for (let j = 0; j < FEATURE_COUNT; j++) {
    const v = f[j];
    const end = C_EDGE_START[j + 1];
    for (let k = C_EDGE_START[j]; k < end; k++) { if (v > C_EDGES[k]) z += C_WEIGHTS[k]; else break; }
  }
  z += tokenZ;
  if (C_GBDT === undefined) return z;
  let g = C_GBDT.bias;
  for (let i = 0; i < C_TREES; i++) {
    const base = i * C_INNER;
    let k = 0;
    for (let lv = 0; lv < C_DEPTH; lv++) { const fj = C_TF[base + k]; k = 2 * k + 1 + (fj >= 0 && f[fj] > C_TT[base + k] ? 1 : 0); }
    g += C_TL[i * (C_INNER + 1) + k - C_INNER];
  }
  return 0.5 * z + 0.5 * g;
}

/** Risk 0..1 of the built-in model: the logistic of {@link compiledLogit} plus the standing offset. */
function riskOf(f: Float64Array, tokenZ: number, role: number): number {
  return 1 / (1 + Math.exp(-(compiledLogit(f, tokenZ) + role)));
}

/** IRC badges of a message's author: badge name -> version, as in the `badges` tag. */
export type Badges = Readonly<Record<string, string>>;

/**
 * Logit added for the author's standing in the channel, from their badges. Not learned by the model:
 * riotgames1, its training log, has no subscribers and 13 moderator messages, so the two offsets are
 * set from Twitch's rules and the recordings that have badges (docs/sentiment.md, "Badges"):
 * - `PRIVILEGED_LOGIT` (broadcaster, moderator, Twitch staff/admin/global moderator): moderators cannot
 *   time out moderators or the broadcaster; none of the 3,375 such messages in the Chatty logs and the
 *   #xqc recording was followed by a ban. -6 (odds x 0.0025) puts them below nearly every other message but keeps their
 *   own order (a moderator's slur still outranks their "gg").
 * - `MEMBER_LOGIT` (subscriber, founder, VIP): they can be timed out and are, less often. Over every
 *   recording with subscribers (five Chatty channels, 2016, and the raw IRC of #xqc, 2023) the
 *   Mantel-Haenszel odds ratio against the same log's other chatters is 0.69 (Chatty alone 0.45, all of
 *   its 7 positives in neviilz; #xqc alone 0.89, 25 of 2,002 against 28 of 2,004): odds x 0.7. VIPs are
 *   counted with them (Twitch: VIPs are not immune to moderators); turbo/prime badges are not standing.
 */
export const PRIVILEGED_LOGIT = -6;
export const MEMBER_LOGIT = Math.log(0.7);
export function roleLogit(badges: Badges | null | undefined): number {
  if (badges == null) return 0;
  if ('broadcaster' in badges || 'moderator' in badges || 'staff' in badges || 'admin' in badges || 'global_mod' in badges) return PRIVILEGED_LOGIT;
  if ('subscriber' in badges || 'founder' in badges || 'vip' in badges) return MEMBER_LOGIT;
  return 0;
}

/**
 * Whether the user of slots `ub`/`fb` posted word (or word pair) `w` in one of their last 3 messages
 * within the last minute: the list of message m is at `listAt + m * MAX_WORDS`, its length at `countAt + m`.
 */
function postedRecently(U: Uint32Array, F: Float64Array, ub: number, fb: number, ts: number, w: number, listAt: number, countAt: number): boolean {
  for (let m = 0, nRecent = U[ub + U_RECENT_N]; m < nRecent; m++) {
    if (ts - F[fb + F_RECENT_TS + m] > 60_000) continue;
    const wo = ub + listAt + m * MAX_WORDS;
    for (let j = 0, n = U[ub + countAt + m]; j < n; j++) if (U[wo + j] === w) return true;
  }
  return false;
}

/**
 * Appends to a ring of `cap` slots whose length and oldest index are `U[nAt]` and `U[headAt]`: returns
 * the slot to write (the oldest once full, as `push` + `shift` dropped it).
 */
function ringPush(U: Uint32Array, nAt: number, headAt: number, cap: number): number {
  const n = U[nAt], head = U[headAt];
  if (n < cap) { U[nAt] = n + 1; return (head + n) % cap; }
  U[headAt] = (head + 1) % cap;
  return head;
}

/**
 * Removes the `drop` entries met longest ago, never one that `isKept` names. `entries()` is walked
 * twice in the same order: once for the ages (sorted once to find the drop-th smallest), then to
 * remove entries older than that age, and entries of exactly that age in walk order until `drop` are
 * gone. Cost: one sort of the map's ages per eviction of 10% of it.
 */
function dropMetLongestAgo<T>(n: number, drop: number, entries: () => Iterable<T>, metAt: (e: T) => number, isKept: (e: T) => boolean, remove: (e: T) => void): void {
  const ages = new Float64Array(n);
  let i = 0;
  for (const e of entries()) ages[i++] = metAt(e);
  const cut = ages.subarray(0, i).sort()[drop - 1];
  let left = drop;
  for (const e of entries()) {
    if (left <= 0) return;
    if (isKept(e) || metAt(e) > cut) continue;
    remove(e);
    left--;
  }
}

/**
 * Stateful scorer: one per process, shared by all channels.
 *
 * Eviction: instead of an LRU (a Map delete + set per message for the user, the channel and up to
 * two texts, with `channel \0 ...` string keys built and hashed each time), entries stay where they
 * were inserted and carry the time they were last met (user `F_LAST_TS`, text `lastTs`, channel
 * `last`); when a map exceeds its cap, the 10% met longest ago go at once (texts idle beyond the
 * window first, see `evictTexts`). Below the caps nothing is evicted, so outputs are the same as with
 * the LRU (test/analysis/moderation-golden.test.ts checks bit-identical features and scores on every
 * Chatty log). Above them the same entries go as under the LRU when messages arrive in time order
 * (last met = recency); with out-of-order timestamps the oldest by time go rather than the least
 * recently fed, and an evicted channel now takes its users and texts with it (before they stayed
 * until the user or text maps evicted them; 10,000 channels active at once is far above a deployment's).
 */
export class ModerationState {
  readonly maxUsers: number;
  readonly maxTexts: number;
  readonly windowMs: number;
  private readonly channels = new Map<string, ChannelEntry>();
  private readonly words = new Map<number, WordEntry>();
  private nextChannelId = 0;
  readonly maxWords: number;
  private readonly wbuf = new Uint32Array(MAX_WORDS);
  private readonly bgbuf = new Uint32Array(MAX_WORDS);
  /** Most channels tracked (~700 bytes each plus their users and texts, which go with them). */
  readonly maxChannels = 10_000;
  private readonly f = new Float64Array(FEATURE_COUNT);
  /** User slabs: slot s is at (s & (CHUNK - 1)) * U_F64 / U_U32 of chunk s >> CHUNK_BITS. */
  private readonly uf: Float64Array[] = [];
  private readonly uu: Uint32Array[] = [];
  /** Slots of evicted users, reused before the slabs grow. */
  private freeSlots: number[] = [];
  private nextSlot = 0;
  private nUsers = 0;
  private nTexts = 0;
  /** Word-ban dedup of {@link ban}: distinct word keys of the user's marked messages. */
  private readonly done: number[] = [];
  private readonly doneBg: number[] = [];

  constructor(opts: ModerationOptions = {}) {
    this.maxUsers = opts.maxUsers ?? 100_000;
    this.maxTexts = opts.maxTexts ?? 50_000;
    this.windowMs = opts.windowMs ?? 300_000;
    this.maxWords = opts.maxWords ?? 200_000;
  }

  /** Entries currently held (for tests and metrics). */
  size(): { users: number; texts: number; channels: number; words: number } {
    return { users: this.nUsers, texts: this.nTexts, channels: this.channels.size, words: this.words.size };
  }

  /**
   * Computes all features for this message and updates the state. Returns the internal feature
   * buffer (overwritten by the next call).
   */
  features(channel: string, user: string, text: string, ts: number, ctx: MessageContext = {}): Float64Array {
    const emoteNames = ctx.emoteNames ?? NO_EMOTES, tox = ctx.toxicity, action = ctx.action ?? false;
    const f = this.f;
    f.fill(0);
    textFeatures(text, emoteNames, f, tox ?? toxicity(text));
    f[ACTION_FEATURE] = action ? 1 : 0;
    const h = textHash(text);
    const sk = skeletonHash(text);
    // channel chat rate: busy moments (hype waves) are moderated differently from quiet chat
    const ch = this.channel(channel, ts);
    const sec = Math.floor(ts / 1000);
    if (ch.counts[sec % 10] < 65535) ch.counts[sec % 10]++;
    let rate = 0;
    for (let k = 0; k < 10; k++) rate += ch.counts[k];
    f[27] = Math.log1p(rate);
    // moderators in action: bans seen before this message (the channel's CLEARCHAT events)
    let b10 = 0, b60 = 0;
    for (let k = ch.bans.length - 1; k >= 0; k--) {
      const d = ts - ch.bans[k];
      if (d > 60_000) break;
      if (d >= 0) { b60++; if (d <= 10_000) b10++; }
    }
    f[31] = Math.log1p(b10);
    f[32] = Math.log1p(b60);
    // user context: an entry idle longer than the window is treated as absent (its slot reinitialised)
    let slot = ch.users.get(user);
    let F: Float64Array, U: Uint32Array, fb: number, ub: number;
    let fresh = slot === undefined;
    if (slot === undefined) {
      slot = this.allocSlot();
      ch.users.set(user, slot);
      this.nUsers++;
    }
    F = this.uf[slot >> CHUNK_BITS]; U = this.uu[slot >> CHUNK_BITS];
    fb = (slot & (CHUNK - 1)) * U_F64; ub = (slot & (CHUNK - 1)) * U_U32;
    if (!fresh && ts - F[fb + F_LAST_TS] > this.windowMs) {
      // the login's toxicity and blocked terms depend on the name only: kept, not recomputed
      this.initUser(F, U, fb, ub, ts, F[fb + F_LOGIN_TOX], F[fb + F_LOGIN_BLOCKED]);
      fresh = true;
    } else if (fresh) this.initUser(F, U, fb, ub, ts, toxicity(user.replaceAll('_', ' ')), blockedTerms(user));
    if (fresh) {
      f[16] = 1;
      if (ch.newCounts[sec % 10] < 65535) ch.newCounts[sec % 10]++;
    } else {
      let recent = 0, recent60 = 0;
      for (let k = 0, n = U[ub + U_TS_N]; k < n; k++) { const t = F[fb + F_TS + k]; if (ts - t <= 30_000) recent++; if (ts - t <= 60_000) recent60++; }
      f[13] = Math.log1p(recent);
      f[23] = Math.log1p(recent60);
      f[12] = F[fb + F_LAST_HASH] === h ? 1 : 0;
      f[20] = Math.log1p(F[fb + F_MAX_LEN]);
      f[21] = Math.log1p(F[fb + F_MAX_SAME]);
      f[22] = Math.log1p(Math.max(0, ts - F[fb + F_LAST_TS]) / 1000);
      f[30] = Math.log1p(F[fb + F_MAX_EMOTES]);
    }
    let newUsers = 0;
    for (let k = 0; k < 10; k++) newUsers += ch.newCounts[k];
    f[39] = Math.log1p(newUsers);
    f[24] = F[fb + F_LOGIN_TOX];
    f[25] = Math.log1p(F[fb + F_SEEN]);
    f[34] = Math.log1p(F[fb + F_BANS]);
    // 10 = no ban of this user in the window (log1p of seconds is below 10 for ~6 hours)
    const lastBan = F[fb + F_LAST_BAN];
    f[35] = lastBan > 0 && ts >= lastBan ? Math.log1p((ts - lastBan) / 1000) : 10;
    let digits = 0;
    for (let i = 0; i < user.length; i++) { const c = user.charCodeAt(i); if (c >= 48 && c <= 57) digits++; }
    f[37] = digits;
    f[43] = F[fb + F_LOGIN_BLOCKED];
    f[38] = user.length;
    if (text.length > F[fb + F_MAX_LEN]) F[fb + F_MAX_LEN] = text.length;
    const same = Math.expm1(f[3]);
    if (same > F[fb + F_MAX_SAME]) F[fb + F_MAX_SAME] = same;
    const emotes = Math.expm1(f[4]);
    if (emotes > F[fb + F_MAX_EMOTES]) F[fb + F_MAX_EMOTES] = emotes;
    // ban rate of this message's words and of its word set (shape) among users who posted them lately
    const wb = this.wbuf;
    const nSeq = wordSequence(text);
    const nw = wordHashes(nSeq, wb);
    const shape = shapeOf(wb, nw);
    let maxRate = 0, maxBanned = 0, maxRateL = 0, maxBannedL = 0;
    const nRecent = U[ub + U_RECENT_N];
    for (let k = 0; k < nw; k++) {
      const w = wb[k];
      const we = this.word(wordKey(ch.id, w, 0), ts);
      const r = we.banned / (we.posters + 2);
      if (r > maxRate) { maxRate = r; maxBanned = we.banned; }
      const rl = we.bannedL / (we.postersL + 2);
      if (rl > maxRateL) { maxRateL = rl; maxBannedL = we.bannedL; }
      // posted by the user in one of their last 3 messages within the last minute: counted once
      if (!postedRecently(U, F, ub, fb, ts, w, U_RECENT_WORDS, U_RECENT_NW)) { we.posters++; we.postersL++; }
    }
    f[44] = maxRate;
    f[45] = Math.log1p(maxBanned);
    f[LONG_RATE_FEATURE] = maxRateL;
    f[LONG_RATE_FEATURE + 1] = Math.log1p(maxBannedL);
    if (nw > 0) {
      const se = this.word(wordKey(ch.id, shape, SHAPE_SALT), ts);
      f[46] = se.banned / (se.posters + 2);
      f[47] = Math.log1p(se.banned);
      f[LONG_RATE_FEATURE + 2] = se.bannedL / (se.postersL + 2);
      f[LONG_RATE_FEATURE + 3] = Math.log1p(se.bannedL);
      let seen = false;
      for (let m = 0; m < nRecent; m++) if (U[ub + U_RECENT_SHAPE + m] === shape && ts - F[fb + F_RECENT_TS + m] <= 60_000) { seen = true; break; }
      if (!seen) { se.posters++; se.postersL++; }
    }
    // the same for adjacent word pairs ("krepo 15", "eu lul"), 5 min time constant
    const bg = this.bgbuf;
    const nbg = bigramHashes(nSeq, bg);
    let maxBgRate = 0, maxBgBanned = 0;
    for (let k = 0; k < nbg; k++) {
      const w = bg[k];
      const we = this.word(wordKey(ch.id, w, BIGRAM_SALT), ts);
      const r = we.banned / (we.posters + 2);
      if (r > maxBgRate) { maxBgRate = r; maxBgBanned = we.banned; }
      if (!postedRecently(U, F, ub, fb, ts, w, U_RECENT_BG, U_RECENT_NBG)) { we.posters++; we.postersL++; }
    }
    f[BIGRAM_FEATURE] = maxBgRate;
    f[BIGRAM_FEATURE + 1] = Math.log1p(maxBgBanned);
    let own = 0;
    for (let k = 0, n = U[ub + U_SHAPE_N]; k < n; k++) if (U[ub + U_SHAPES + k] === shape) own++;
    f[48] = Math.log1p(own);
    // session features read before this message updates them: what the user did earlier, not now
    if (F[fb + F_SEEN] > 0) F[fb + F_RATE] *= Math.exp((F[fb + F_LAST_TS] - ts) / SESSION_TAU_MS);
    f[49] = Math.log1p(F[fb + F_RATE]);
    f[50] = F[fb + F_MAX_TOK_RATE];
    f[51] = F[fb + F_MAX_SHAPE_RATE];
    f[52] = Math.log1p(F[fb + F_LONG_MSGS]);
    F[fb + F_RATE] += 1;
    if (f[44] > F[fb + F_MAX_TOK_RATE]) F[fb + F_MAX_TOK_RATE] = f[44];
    if (f[46] > F[fb + F_MAX_SHAPE_RATE]) F[fb + F_MAX_SHAPE_RATE] = f[46];
    if (text.length >= 30) F[fb + F_LONG_MSGS]++;
    U[ub + U_SHAPES + ringPush(U, ub + U_SHAPE_N, ub + U_SHAPE_HEAD, 8)] = shape;
    // the oldest of the user's 3 recent slots is overwritten: no allocation per message
    const r = ringPush(U, ub + U_RECENT_N, ub + U_RECENT_HEAD, 3);
    F[fb + F_RECENT_TS + r] = ts;
    U[ub + U_RECENT_SHAPE + r] = shape;
    U[ub + U_RECENT_NW + r] = nw;
    U.set(wb.subarray(0, nw), ub + U_RECENT_WORDS + r * MAX_WORDS);
    U[ub + U_RECENT_NBG + r] = nbg;
    U.set(bg.subarray(0, nbg), ub + U_RECENT_BG + r * MAX_WORDS);
    F[fb + F_TS + ringPush(U, ub + U_TS_N, ub + U_TS_HEAD, 8)] = ts;
    const hp = ub + U_HASHES + 2 * ringPush(U, ub + U_HASH_N, ub + U_HASH_HEAD, 3);
    U[hp] = h; U[hp + 1] = sk;
    F[fb + F_LAST_HASH] = h;
    F[fb + F_LAST_TS] = ts;
    F[fb + F_SEEN]++;
    if (this.nUsers > this.maxUsers) this.evictUsers(slot);
    // copy-pasta: distinct other users (of the last 8) who posted the same text, the text last seen within the window
    const te = this.text(ch, h, ts);
    let others = 0, burst = 0;
    for (let k = 0; k < te.users.length; k++) if (te.users[k] !== user) { others++; if (ts - te.userTs[k] <= 10_000) burst++; }
    f[10] = Math.log1p(others);
    f[11] = text.length >= 25 ? f[10] : 0;
    f[36] = Math.log1p(burst);
    f[33] = te.banned > 0 && ts - te.bannedTs <= this.windowMs ? Math.log1p(te.banned) : 0;
    this.addUser(te, user, ts);
    // the same on the skeleton (short skeletons such as "lol" or an emote are common, not spam: 6+ letters)
    let skLetters = 0;
    for (let i = 0; i < text.length && skLetters < 6; i++) { const c = text.charCodeAt(i) | 32; if (c >= 97 && c <= 122) skLetters++; }
    if (skLetters >= 6) {
      const se = this.text(ch, sk, ts);
      let o = 0;
      for (const x of se.users) if (x !== user) o++;
      f[40] = Math.log1p(o);
      f[41] = se.banned > 0 && ts - se.bannedTs <= this.windowMs ? Math.log1p(se.banned) : 0;
      this.addUser(se, user, ts);
    }
    return f;
  }

  private allocSlot(): number {
    const free = this.freeSlots.pop();
    if (free !== undefined) return free;
    const s = this.nextSlot++;
    if ((s >> CHUNK_BITS) === this.uf.length) {
      this.uf.push(new Float64Array(CHUNK * U_F64));
      this.uu.push(new Uint32Array(CHUNK * U_U32));
    }
    return s;
  }

  /** A new (or expired) user: what `{ ts: [], lastHash: -1, ... }` was (the recent words need no clearing: counts guard them). */
  private initUser(F: Float64Array, U: Uint32Array, fb: number, ub: number, ts: number, loginTox: number, loginBlocked: number): void {
    F.fill(0, fb, fb + F_TS);
    F[fb + F_LAST_HASH] = -1;
    F[fb + F_LAST_TS] = ts;
    F[fb + F_LOGIN_TOX] = loginTox;
    F[fb + F_LOGIN_BLOCKED] = loginBlocked;
    U.fill(0, ub, ub + U_HASHES);
  }

  /** Drops the users met longest ago (see the class comment), never `keep`. */
  private evictUsers(keep: number): void {
    const channels = this.channels;
    dropMetLongestAgo(
      this.nUsers,
      this.nUsers - Math.floor(this.maxUsers * 0.9),
      function* () { for (const ch of channels.values()) for (const [name, s] of ch.users) yield { ch, name, s }; },
      (u) => this.uf[u.s >> CHUNK_BITS][(u.s & (CHUNK - 1)) * U_F64 + F_LAST_TS],
      (u) => u.s === keep,
      (u) => {
        u.ch.users.delete(u.name);
        this.freeSlots.push(u.s);
        this.nUsers--;
      },
    );
  }

  /**
   * Texts idle longer than the window go first, all of them: for a message at `now` or later they are
   * the same as absent (met again they start anew, a ban skips them), so dropping them changes no
   * output, and a full map is mostly such texts (a sort per eviction was ~7% of `bench/analysis.ts`).
   * Only when they are fewer than 10% do the texts met longest ago go as well.
   */
  private evictTexts(keep: TextEntry, now: number): void {
    for (const ch of this.channels.values()) {
      for (const [k, te] of ch.texts) if (now - te.lastTs > this.windowMs) { ch.texts.delete(k); this.nTexts--; }
    }
    const drop = this.nTexts - Math.floor(this.maxTexts * 0.9);
    if (drop <= 0) return;
    const channels = this.channels;
    dropMetLongestAgo(
      this.nTexts,
      drop,
      function* () { for (const ch of channels.values()) for (const [k, te] of ch.texts) yield { ch, k, te }; },
      (t) => t.te.lastTs,
      (t) => t.te === keep,
      (t) => {
        t.ch.texts.delete(t.k);
        this.nTexts--;
      },
    );
  }

  private channel(channel: string, ts: number): ChannelEntry {
    let ch = this.channels.get(channel);
    const sec = Math.floor(ts / 1000);
    if (ch === undefined) {
      // a recycled id may meet an evicted channel's words: they have decayed or are evicted by then
      this.nextChannelId = (this.nextChannelId + 1) % 1_048_576;
      ch = { sec, counts: new Uint16Array(10), newCounts: new Uint16Array(10), bans: [], id: this.nextChannelId, last: ts, users: new Map(), texts: new Map() };
      this.channels.set(channel, ch);
      if (this.channels.size > this.maxChannels) this.evictChannels(ch);
    }
    ch.last = ts;
    if (sec > ch.sec) {
      for (let k = ch.sec + 1; k <= Math.min(sec, ch.sec + 10); k++) { ch.counts[k % 10] = 0; ch.newCounts[k % 10] = 0; }
      ch.sec = sec;
    }
    return ch;
  }

  /** Drops the channels met longest ago with their users and texts, never `keep`. */
  private evictChannels(keep: ChannelEntry): void {
    dropMetLongestAgo(
      this.channels.size,
      this.channels.size - Math.floor(this.maxChannels * 0.9),
      () => this.channels,
      ([, ch]) => ch.last,
      ([, ch]) => ch === keep,
      ([name, ch]) => {
        this.channels.delete(name);
        for (const s of ch.users.values()) this.freeSlots.push(s);
        this.nUsers -= ch.users.size;
        this.nTexts -= ch.texts.size;
      },
    );
  }

  private text(ch: ChannelEntry, hash: number, ts: number): TextEntry {
    const tk = hash | 0;
    let te = ch.texts.get(tk);
    if (te !== undefined && ts - te.lastTs > this.windowMs) {
      te.users.length = 0; te.userTs.length = 0; te.lastTs = ts; te.banned = 0; te.bannedTs = 0;
    } else if (te === undefined) {
      te = { users: [], userTs: [], lastTs: ts, banned: 0, bannedTs: 0 };
      ch.texts.set(tk, te);
      if (++this.nTexts > this.maxTexts) this.evictTexts(te, ts);
    }
    return te;
  }

  /** The decayed (posters, banned) counts of a word or shape key, brought to time `ts`. */
  private word(key: number, ts: number): WordEntry {
    let we = this.words.get(key);
    if (we === undefined) {
      we = { posters: 0, banned: 0, ts, postersL: 0, bannedL: 0 };
      this.words.set(key, we);
      if (this.words.size > this.maxWords) this.evictWords(ts);
      return we;
    }
    if (ts - we.ts >= 1000) {
      // one exp for both: the 5 min factor is the 30 min one to the 6th power
      const kl = Math.exp((we.ts - ts) / LONG_BAN_RATE_TAU_MS), k2 = kl * kl, k = k2 * k2 * k2;
      we.posters *= k; we.banned *= k; we.postersL *= kl; we.bannedL *= kl; we.ts = ts;
    }
    return we;
  }

  /**
   * Second-chance eviction instead of an LRU: words are kept in insertion order and not moved when
   * met (a Map delete + set per meeting cost ~20% of the scorer); when the map is full, the oldest
   * 10% go, except those met in the last minute, which move to the back once per pass.
   */
  private evictWords(now: number): void {
    let drop = this.words.size - Math.floor(this.maxWords * 0.9);
    let visits = this.words.size;
    for (const [k, we] of this.words) {
      if (drop <= 0 || visits-- <= 0) break;
      this.words.delete(k);
      if (now - we.ts < 60_000 && visits > drop) this.words.set(k, we);
      else drop--;
    }
  }


  private addUser(te: TextEntry, user: string, ts: number): void {
    const k = te.users.indexOf(user);
    if (k >= 0) { te.userTs[k] = ts; }
    else { te.users.push(user); te.userTs.push(ts); if (te.users.length > 8) { te.users.shift(); te.userTs.shift(); } }
    te.lastTs = ts;
  }

  /**
   * Records a ban or timeout (Twitch CLEARCHAT naming `user`) at `ts`. Feed moderation events in time
   * order with the messages: features of later messages see the channel's recent ban rate, whether the
   * author was banned before, and whether their text (or its skeleton) was just sent by a banned user.
   * Never feed a ban before a message it follows: that is the label.
   */
  ban(channel: string, user: string, ts: number): void {
    const ch = this.channel(channel, ts);
    ch.bans.push(ts);
    if (ch.bans.length > 64) ch.bans.shift();
    const slot = ch.users.get(user);
    if (slot === undefined) return;
    const F = this.uf[slot >> CHUNK_BITS], U = this.uu[slot >> CHUNK_BITS];
    const fb = (slot & (CHUNK - 1)) * U_F64, ub = (slot & (CHUNK - 1)) * U_U32;
    F[fb + F_BANS]++;
    F[fb + F_LAST_BAN] = ts;
    // the words and shapes of the user's messages of the last minute count as banned (once per
    // message), oldest message first
    const done = this.done;
    done.length = 0;
    const n = U[ub + U_RECENT_N], head = U[ub + U_RECENT_HEAD];
    for (let k = 0; k < n; k++) {
      const m = (head + k) % 3;
      const mts = F[fb + F_RECENT_TS + m];
      if (mts <= F[fb + F_MARKED] || ts - mts > 60_000) continue;
      const wo = ub + U_RECENT_WORDS + m * MAX_WORDS, nw = U[ub + U_RECENT_NW + m];
      for (let j = 0; j < nw; j++) { const w = U[wo + j]; if (!done.includes(w)) { done.push(w); const we = this.word(wordKey(ch.id, w, 0), ts); we.banned++; we.bannedL++; } }
      const shape = U[ub + U_RECENT_SHAPE + m];
      if (nw > 0 && !done.includes(-1 - shape)) { done.push(-1 - shape); const se = this.word(wordKey(ch.id, shape, SHAPE_SALT), ts); se.banned++; se.bannedL++; }
    }
    // their word pairs, in a second pass (word hashes and pair hashes may be equal numbers: own dedup list)
    const doneBg = this.doneBg;
    doneBg.length = 0;
    for (let k = 0; k < n; k++) {
      const m = (head + k) % 3;
      const mts = F[fb + F_RECENT_TS + m];
      if (mts <= F[fb + F_MARKED] || ts - mts > 60_000) continue;
      const wo = ub + U_RECENT_BG + m * MAX_WORDS, nb = U[ub + U_RECENT_NBG + m];
      for (let j = 0; j < nb; j++) { const w = U[wo + j]; if (!doneBg.includes(w)) { doneBg.push(w); const we = this.word(wordKey(ch.id, w, BIGRAM_SALT), ts); we.banned++; we.bannedL++; } }
    }
    if (n > 0) F[fb + F_MARKED] = F[fb + F_RECENT_TS + (head + n - 1) % 3];
    for (let k = 0, nh = 2 * U[ub + U_HASH_N]; k < nh; k++) {
      const te = ch.texts.get(U[ub + U_HASHES + k] | 0);
      if (te === undefined || ts - te.lastTs > this.windowMs) continue;
      te.banned++;
      te.bannedTs = ts;
    }
  }

  /** Moderation risk 0..1 for this message (and records it in the state). */
  score(channel: string, user: string, text: string, ts: number, ctx: MessageContext = {}): number {
    return riskOf(this.features(channel, user, text, ts, ctx), tokenLogit(text), roleLogit(ctx.badges));
  }

  /**
   * As {@link score}, plus `withToxicity(t)`: the risk this message gets when its toxicity feature is
   * `t` instead (a transformer model's toxicity, known only later in the batch), every other feature
   * and the state as they were when it was scored. `withToxicity(tox)` returns `risk`. Costs a copy of
   * the feature vector (~450 bytes) and a closure per message: only for callers that have a model.
   */
  scoreRescorable(channel: string, user: string, text: string, ts: number, ctx: MessageContext = {}): { risk: number; withToxicity: (t: number) => number } {
    const f = Float64Array.from(this.features(channel, user, text, ts, ctx));
    const tokenZ = tokenLogit(text), role = roleLogit(ctx.badges);
    const withToxicity = (t: number): number => {
      f[TOXICITY_FEATURE] = t;
      return riskOf(f, tokenZ, role);
    };
    return { risk: riskOf(f, tokenZ, role), withToxicity };
  }
}
