/**
 * Moderation risk in 0..1: how likely moderators time out or ban the author right after this message.
 * On real esports chat what gets timed out is mostly spam and floods, not profanity, so the features are
 * mostly spam features plus toxicity and the user's recent behaviour in the channel. They are combined by
 * a logistic model trained on riotgames1 BAN labels (scripts/train-moderation.ts ->
 * moderation-model.json).
 *
 * State is per channel (keys are `channel \0 user` and `channel \0 text-hash`) in two global LRU maps
 * with hard size caps and a time window, so memory is bounded whatever the number of channels/users:
 * at the defaults (100,000 users, 50,000 texts, 10,000 channels) ~140 MB for the user entries alone
 * (measured 2026-11-21, docs/sentiment.md; the earlier ~30 MB estimate was low). When a map
 * exceeds its cap, its least recently used 10% are dropped at once.
 */
import { DEFAULT_EMOTES, EMOTICONS } from './lexicon.ts';
import { channelEmoteSuffix } from './tokens.ts';
import { toxicity } from './toxicity.ts';
import model from './moderation-model.json' with { type: 'json' };

/** Options for {@link ModerationState}. */
export interface ModerationOptions {
  /**
   * Most (channel, user) entries kept; least recently active are evicted first. Each costs ~1.4 KB (measured).
   * Default 100,000.
   */
  maxUsers?: number;
  /** Most (channel, message text) entries kept for copy-pasta detection; ~200 bytes each. Default 50,000. */
  maxTexts?: number;
  /** Most (channel, word) entries kept for the ban rate of words; ~150 bytes each. Default 100,000. */
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
] as const;
export const FEATURE_COUNT = FEATURE_NAMES.length;

interface UserEntry {
  /** Timestamps of the last 8 messages. */
  ts: number[];
  lastHash: number;
  lastTs: number;
  seen: number;
  /** Longest message and most repeated token count seen in the window: spammers get timed out later for short messages too. */
  maxLen: number;
  maxSame: number;
  maxEmotes: number;
  loginTox: number;
  loginBlocked: number;
  /** Normalised-text and skeleton hashes of the last 3 messages: what a ban marks as banned text. */
  hashes: number[];
  /** Bans/timeouts of this user seen in the window, and the time of the last one (0: none). */
  bans: number;
  lastBan: number;
  /** Shape (word-set) hashes of the last 8 messages. */
  shapes: number[];
  /** The last 3 messages' time, distinct word hashes and shape: what a ban marks as banned. */
  recent: { ts: number; words: number[]; shape: number }[];
  /** Time of the newest message already marked by a ban (duplicate BAN lines mark nothing twice). */
  marked: number;
  /**
   * The session so far: the user's message count decayed with time constant {@link SESSION_TAU_MS},
   * the highest word and shape ban rates their earlier messages had when sent, and how many of them
   * were 30+ characters.
   */
  rate: number; maxTokRate: number; maxShapeRate: number; longMsgs: number;
}
interface TextEntry { users: string[]; userTs: number[]; lastTs: number; banned: number; bannedTs: number }
/**
 * A word (or word set) of the channel: distinct users who posted it and how many of them were banned
 * within a minute, both decayed exponentially (time constant {@link BAN_RATE_TAU_MS}) so the rate
 * follows what moderators are banning now ("7777", a slogan, a raid's copy-pasta), not all day.
 */
interface WordEntry { posters: number; banned: number; ts: number }
const BAN_RATE_TAU_MS = 300_000;
/** Time constant of a user's decayed message count (60 s, 120 s and 300 s scored the same on the inner split). */
const SESSION_TAU_MS = 120_000;
/**
 * Messages and first-seen users per second over the last 10 s, as rings of per-second counts, and the
 * times of the last 64 bans/timeouts in the channel.
 */
interface ChannelEntry {
  sec: number; counts: Uint16Array; newCounts: Uint16Array; bans: number[];
  /** Small number naming the channel in numeric word keys (a Map with number keys hashes no string). */
  id: number;
}
/**
 * Map key of a word (or, with `salt`, a shape) of channel `id`: the hash mixed with the id, kept in
 * 31 bits so V8 stores it as a small integer (double keys made the lookups ~3x dearer). Two words of
 * the 100,000 kept share a key about once per 2^31 / 100,000 lookups: noise, not an error.
 */
function wordKey(id: number, hash: number, salt: number): number {
  return (Math.imul(id ^ salt, 0x9e3779b1) ^ hash) >> 1;
}
const SHAPE_SALT = 0x5bd1e995;

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
/**
 * Distinct word hashes of `text` into `out` (returns their count): words split on spaces, ASCII
 * lower-cased, runs of one character collapsed so "77777" and "7777777", "LUUUL" and "LUL", "????"
 * and "??" are the same word. Cost: one pass over the text, no allocation.
 */
function wordHashes(text: string, out: Uint32Array): number {
  let n = 0, h = 0x811c9dc5, len = 0, prev = -1;
  for (let i = 0; i <= text.length; i++) {
    let c = i < text.length ? text.charCodeAt(i) : 32;
    if (c === 32) {
      if (len > 0) {
        const w = h >>> 0;
        let dup = false;
        for (let k = 0; k < n; k++) if (out[k] === w) { dup = true; break; }
        if (!dup) { out[n++] = w; if (n === MAX_WORDS) return n; }
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

/** Order-free hash of a set of word hashes: the message's shape ("FORA TEMER FORA TEMER" = "temer fora"). */
function shapeOf(words: Uint32Array, n: number): number {
  let s = 0;
  for (let k = 0; k < n; k++) { const w = words[k]; s = (s + Math.imul(w ^ (w >>> 16), 0x45d9f3b)) | 0; }
  return (s ^ n) >>> 0;
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

/** Final logit of the built-in model: what {@link riskFromFeatures} computes with the default model. */
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

/**
 * Moderation risk 0..1 from a feature vector (plus the token logit, when known). With an ensemble
 * model (`gbdt` present) the logit is the mean of the additive model's and the trees'.
 */
export function riskFromFeatures(f: ArrayLike<number>, m: ModerationModel = mm, tokenZ = 0): number {
  let z = riskLogit(f, m) + tokenZ;
  if (m.gbdt !== undefined) z = 0.5 * z + 0.5 * gbdtLogit(f, m.gbdt);
  return 1 / (1 + Math.exp(-z));
}

/**
 * Drops the least recently used 10% of a Map used as an LRU (re-inserted on access, so insertion order
 * is recency order). Evicting in batches matters: deleting one entry per insert makes
 * `keys().next()` skip an ever longer run of deleted slots until V8 rehashes, O(n) per call.
 */
function evictOldest<K, V>(m: Map<K, V>, max: number): void {
  let drop = m.size - Math.floor(max * 0.9);
  for (const k of m.keys()) {
    if (drop-- <= 0) break;
    m.delete(k);
  }
}

/** Whether the user posted word `w` in one of their last 3 messages within the last minute. */
function postedRecently(u: UserEntry, w: number, ts: number): boolean {
  for (const m of u.recent) if (ts - m.ts <= 60_000 && m.words.includes(w)) return true;
  return false;
}

/** Stateful scorer: one per process, shared by all channels. */
export class ModerationState {
  readonly maxUsers: number;
  readonly maxTexts: number;
  readonly windowMs: number;
  private readonly users = new Map<string, UserEntry>();
  private readonly texts = new Map<string, TextEntry>();
  private readonly channels = new Map<string, ChannelEntry>();
  private readonly words = new Map<number, WordEntry>();
  private nextChannelId = 0;
  readonly maxWords: number;
  private readonly wbuf = new Uint32Array(MAX_WORDS);
  /** Most channels whose message rate is tracked (~100 bytes each). */
  readonly maxChannels = 10_000;
  private readonly f = new Float64Array(FEATURE_COUNT);

  constructor(opts: ModerationOptions = {}) {
    this.maxUsers = opts.maxUsers ?? 100_000;
    this.maxTexts = opts.maxTexts ?? 50_000;
    this.windowMs = opts.windowMs ?? 300_000;
    this.maxWords = opts.maxWords ?? 100_000;
  }

  /** Entries currently held (for tests and metrics). */
  size(): { users: number; texts: number; channels: number; words: number } {
    return { users: this.users.size, texts: this.texts.size, channels: this.channels.size, words: this.words.size };
  }

  /**
   * Computes all features for this message and updates the state. Returns the internal feature
   * buffer (overwritten by the next call).
   */
  features(channel: string, user: string, text: string, ts: number, emoteNames: readonly string[] = [], tox?: number): Float64Array {
    const f = this.f;
    f.fill(0);
    textFeatures(text, emoteNames, f, tox ?? toxicity(text));
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
    // user context
    const uk = channel + '\u0000' + user;
    let u = this.users.get(uk);
    if (u !== undefined && ts - u.lastTs > this.windowMs) u = undefined;
    if (u === undefined) {
      u = { ts: [], lastHash: -1, lastTs: ts, seen: 0, maxLen: 0, maxSame: 0, maxEmotes: 0, loginTox: toxicity(user.replaceAll('_', ' ')), loginBlocked: blockedTerms(user), hashes: [], bans: 0, lastBan: 0, shapes: [], recent: [], marked: 0, rate: 0, maxTokRate: 0, maxShapeRate: 0, longMsgs: 0 };
      f[16] = 1;
      if (ch.newCounts[sec % 10] < 65535) ch.newCounts[sec % 10]++;
    } else {
      this.users.delete(uk);
      let recent = 0, recent60 = 0;
      for (const t of u.ts) { if (ts - t <= 30_000) recent++; if (ts - t <= 60_000) recent60++; }
      f[13] = Math.log1p(recent);
      f[23] = Math.log1p(recent60);
      f[12] = u.lastHash === h ? 1 : 0;
      f[20] = Math.log1p(u.maxLen);
      f[21] = Math.log1p(u.maxSame);
      f[22] = Math.log1p(Math.max(0, ts - u.lastTs) / 1000);
      f[30] = Math.log1p(u.maxEmotes);
    }
    let newUsers = 0;
    for (let k = 0; k < 10; k++) newUsers += ch.newCounts[k];
    f[39] = Math.log1p(newUsers);
    f[24] = u.loginTox;
    f[25] = Math.log1p(u.seen);
    f[34] = Math.log1p(u.bans);
    // 10 = no ban of this user in the window (log1p of seconds is below 10 for ~6 hours)
    f[35] = u.lastBan > 0 && ts >= u.lastBan ? Math.log1p((ts - u.lastBan) / 1000) : 10;
    let digits = 0;
    for (let i = 0; i < user.length; i++) { const c = user.charCodeAt(i); if (c >= 48 && c <= 57) digits++; }
    f[37] = digits;
    f[43] = u.loginBlocked;
    f[38] = user.length;
    if (text.length > u.maxLen) u.maxLen = text.length;
    const same = Math.expm1(f[3]);
    if (same > u.maxSame) u.maxSame = same;
    const emotes = Math.expm1(f[4]);
    if (emotes > u.maxEmotes) u.maxEmotes = emotes;
    // ban rate of this message's words and of its word set (shape) among users who posted them lately
    const wb = this.wbuf;
    const nw = wordHashes(text, wb);
    const shape = shapeOf(wb, nw);
    let maxRate = 0, maxBanned = 0;
    for (let k = 0; k < nw; k++) {
      const w = wb[k];
      const we = this.word(wordKey(ch.id, w, 0), ts);
      const r = we.banned / (we.posters + 2);
      if (r > maxRate) { maxRate = r; maxBanned = we.banned; }
      if (!postedRecently(u, w, ts)) we.posters++;
    }
    f[44] = maxRate;
    f[45] = Math.log1p(maxBanned);
    if (nw > 0) {
      const se = this.word(wordKey(ch.id, shape, SHAPE_SALT), ts);
      f[46] = se.banned / (se.posters + 2);
      f[47] = Math.log1p(se.banned);
      let seen = false;
      for (const m of u.recent) if (m.shape === shape && ts - m.ts <= 60_000) { seen = true; break; }
      if (!seen) se.posters++;
    }
    let own = 0;
    for (let k = 0; k < u.shapes.length; k++) if (u.shapes[k] === shape) own++;
    f[48] = Math.log1p(own);
    // session features read before this message updates them: what the user did earlier, not now
    if (u.seen > 0) u.rate *= Math.exp((u.lastTs - ts) / SESSION_TAU_MS);
    f[49] = Math.log1p(u.rate);
    f[50] = u.maxTokRate;
    f[51] = u.maxShapeRate;
    f[52] = Math.log1p(u.longMsgs);
    u.rate += 1;
    if (f[44] > u.maxTokRate) u.maxTokRate = f[44];
    if (f[46] > u.maxShapeRate) u.maxShapeRate = f[46];
    if (text.length >= 30) u.longMsgs++;
    u.shapes.push(shape);
    if (u.shapes.length > 8) u.shapes.shift();
    // the oldest of the user's 3 recent slots is reused: no allocation per message for regular chatters
    const slot = u.recent.length === 3 ? u.recent.shift()! : { ts: 0, words: [] as number[], shape: 0 };
    slot.words.length = nw;
    for (let k = 0; k < nw; k++) slot.words[k] = wb[k];
    slot.ts = ts;
    slot.shape = shape;
    u.recent.push(slot);
    u.ts.push(ts);
    if (u.ts.length > 8) u.ts.shift();
    u.hashes.push(h, sk);
    if (u.hashes.length > 6) u.hashes.splice(0, 2);
    u.lastHash = h;
    u.lastTs = ts;
    u.seen++;
    this.users.set(uk, u);
    if (this.users.size > this.maxUsers) evictOldest(this.users, this.maxUsers);
    // copy-pasta: distinct other users (of the last 8) who posted the same text, the text last seen within the window
    const te = this.text(channel, h, ts);
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
      const se = this.text(channel, sk, ts);
      let o = 0;
      for (const x of se.users) if (x !== user) o++;
      f[40] = Math.log1p(o);
      f[41] = se.banned > 0 && ts - se.bannedTs <= this.windowMs ? Math.log1p(se.banned) : 0;
      this.addUser(se, user, ts);
    }
    return f;
  }

  private channel(channel: string, ts: number): ChannelEntry {
    let ch = this.channels.get(channel);
    const sec = Math.floor(ts / 1000);
    if (ch === undefined) {
      // a recycled id may meet an evicted channel's words: they have decayed or are evicted by then
      this.nextChannelId = (this.nextChannelId + 1) % 1_048_576;
      ch = { sec, counts: new Uint16Array(10), newCounts: new Uint16Array(10), bans: [], id: this.nextChannelId };
    }
    else this.channels.delete(channel);
    if (sec > ch.sec) {
      for (let k = ch.sec + 1; k <= Math.min(sec, ch.sec + 10); k++) { ch.counts[k % 10] = 0; ch.newCounts[k % 10] = 0; }
      ch.sec = sec;
    }
    this.channels.set(channel, ch);
    if (this.channels.size > this.maxChannels) evictOldest(this.channels, this.maxChannels);
    return ch;
  }

  private text(channel: string, hash: number, ts: number): TextEntry {
    const tk = channel + '\u0000' + hash;
    let te = this.texts.get(tk);
    if (te !== undefined && ts - te.lastTs > this.windowMs) te = undefined;
    if (te === undefined) te = { users: [], userTs: [], lastTs: ts, banned: 0, bannedTs: 0 };
    else this.texts.delete(tk);
    this.texts.set(tk, te);
    if (this.texts.size > this.maxTexts) evictOldest(this.texts, this.maxTexts);
    return te;
  }

  /** The decayed (posters, banned) counts of a word or shape key, brought to time `ts`. */
  private word(key: number, ts: number): WordEntry {
    let we = this.words.get(key);
    if (we === undefined) {
      we = { posters: 0, banned: 0, ts };
      this.words.set(key, we);
      if (this.words.size > this.maxWords) this.evictWords(ts);
      return we;
    }
    if (ts - we.ts >= 1000) {
      const k = Math.exp((we.ts - ts) / BAN_RATE_TAU_MS);
      we.posters *= k; we.banned *= k; we.ts = ts;
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
    const u = this.users.get(channel + '\u0000' + user);
    if (u === undefined) return;
    u.bans++;
    u.lastBan = ts;
    // the words and shapes of the user's messages of the last minute count as banned (once per message)
    const done: number[] = [];
    for (const m of u.recent) {
      if (m.ts <= u.marked || ts - m.ts > 60_000) continue;
      for (const w of m.words) if (!done.includes(w)) { done.push(w); this.word(wordKey(ch.id, w, 0), ts).banned++; }
      if (m.words.length > 0 && !done.includes(-1 - m.shape)) { done.push(-1 - m.shape); this.word(wordKey(ch.id, m.shape, SHAPE_SALT), ts).banned++; }
    }
    if (u.recent.length > 0) u.marked = u.recent[u.recent.length - 1].ts;
    for (const hh of u.hashes) {
      const te = this.texts.get(channel + '\u0000' + hh);
      if (te === undefined || ts - te.lastTs > this.windowMs) continue;
      te.banned++;
      te.bannedTs = ts;
    }
  }

  /** Moderation risk 0..1 for this message (and records it in the state). */
  score(channel: string, user: string, text: string, ts: number, emoteNames: readonly string[] = [], tox?: number): number {
    const f = this.features(channel, user, text, ts, emoteNames, tox);
    return 1 / (1 + Math.exp(-compiledLogit(f, tokenLogit(text))));
  }
}
