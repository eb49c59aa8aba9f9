/**
 * Model-free sentiment for Twitch chat: emote lexicon + English lexicon (AFINN via natural) + Twitch
 * slang with negation, intensifiers, caps and elongation, plus a small learned linear model trained by
 * distant supervision (sentiment-model.json). See docs/sentiment.md for how each part was obtained and
 * how the thresholds were chosen.
 */
import {
  AFINN, DEFAULT_EMOTES, EMOTICONS, HAND_EMOTES, INTENSIFIERS, LOWER_EMOTES, NATURAL_NEGATIONS, NEGATION_FACTOR,
  NEGATION_WINDOW, NEGATORS, SLANG, SUFFIX_SCORES,
} from './lexicon.ts';
import { channelEmoteSuffix, collapseAll, collapseRepeats, normalizeWord } from './tokens.ts';
import model from './sentiment-model.json' with { type: 'json' };
import supervisedModel from './sentiment-supervised.json' with { type: 'json' };

/** Final-label thresholds on the combined score in -1..1 (chosen on both dev sets' 70% tuning parts: scripts/tune-sentiment.ts). */
export const POSITIVE_THRESHOLD = 0.25;
export const NEGATIVE_THRESHOLD = -0.25;
/**
 * Balance of the emote part and the word part in the raw sum (chosen with the thresholds): an emote is
 * the writer's own reaction, a single weak AFINN word (±2 of 5) is not enough for a label.
 */
export const EMOTE_WEIGHT = 1.2;
export const WORD_WEIGHT = 0.6;
/** Weight of the learned model's (P(pos) - P(neg)), added before squashing when no lexicon token fired. */
export const LEARNED_WEIGHT = 0.2;
/**
 * Repeats of the same emote or sentiment word in one message add this fraction each ("LUL LUL LUL" is
 * not 3x LUL; a copy-pasta "prison food LULW prison food LULW ..." counts about once).
 */
const REPEAT_FACTOR = 0.25;
/** Caps on the lexical sum: one long message should not outweigh everything. */
const MAX_ABS_SUM = 3;
const CAPS_FACTOR = 1.25;
const ELONGATION_FACTOR = 1.2;

export type Label = -1 | 0 | 1;

/** What one lexical pass over a message found. Reused across calls to avoid allocation. */
export interface LexicalParts {
  /** Sum of emote (and emoticon) contributions. */
  emote: number;
  /** Sum of word (AFINN + slang) contributions after negation/intensifiers. */
  word: number;
  /** Number of tokens that carried any score. */
  hits: number;
  /** Learned model's P(pos) - P(neg) over tokens the lexicons do not know (0 when none). */
  learned: number;
  /** Positive and negative parts of `emote` and of `word` (before the question/exclamation adjustments). */
  emotePos: number; emoteNeg: number; wordPos: number; wordNeg: number;
  /** Shape: non-empty tokens, all-caps tokens, emote-shaped tokens no lexicon scores, '@' mentions, '!' (up to 3), ends with '?'. */
  nTok: number; capsTok: number; unknownEmotes: number; mention: number; exclaim: number; question: number;
  /** Supervised model's per-class token logit sums (neg, neu, pos); see {@link combine}. */
  sup0: number; sup1: number; sup2: number;
}

/** A zeroed {@link LexicalParts}, to be reused across {@link lexical} calls. */
export function newLexicalParts(): LexicalParts {
  return { emote: 0, word: 0, hits: 0, learned: 0, emotePos: 0, emoteNeg: 0, wordPos: 0, wordNeg: 0, nTok: 0, capsTok: 0, unknownEmotes: 0, mention: 0, exclaim: 0, question: 0, sup0: 0, sup1: 0, sup2: 0 };
}

interface LearnedModel { version: string; classes: string[]; bias: number[]; weights: Record<string, number[]> }
const learnedModel = model as unknown as LearnedModel;
const LEARNED: ReadonlyMap<string, readonly number[]> = new Map(Object.entries(learnedModel.weights));
const LEARNED_BIAS = learnedModel.bias;

/**
 * Supervised 3-class softmax regression over the dense features of {@link denseFeatures} plus tokens
 * (words lower-cased, emotes by exact name), trained on the labelled dev sets' tuning parts by
 * scripts/train-sentiment-supervised.ts. Empty `denseWeights` = off (the lexicon score alone).
 */
interface SupervisedModel {
  version: string; dense: string[]; bias: number[]; denseWeights: number[][]; tokens: Record<string, number[]>;
  blend: number; positiveThreshold: number; negativeThreshold: number;
}
const sup = supervisedModel as unknown as SupervisedModel;
const SUP_TOKENS: ReadonlyMap<string, readonly number[]> = new Map(Object.entries(sup.tokens ?? {}));
const SUP_ON = (sup.denseWeights?.length ?? 0) > 0;
const SUP_DENSE_W = Float64Array.from((sup.denseWeights ?? []).flat());
/** Distant-supervision model version / supervised model version (both change scores). */
export const LEARNED_MODEL_VERSION: string = `${learnedModel.version}/${sup.version}`;

/** Looks up a normalised word in slang then AFINN, trying elongation collapses. NaN when unknown. */
function wordScore(w: string): number {
  let s = SLANG.get(w);
  if (s !== undefined) return s;
  s = AFINN.get(w);
  if (s !== undefined) return s;
  s = LOWER_EMOTES.get(w);
  if (s !== undefined) return s;
  return NaN;
}

/** "hahaha", "bahahah", "hehehe", "jajaja", "lmaooo", "lolol": laughter not spelled like a dictionary word. */
function isLaughWord(w: string): boolean {
  if (w.includes('haha') || w.includes('ahah') || w.includes('hehe') || w.includes('jaja') || w.startsWith('lmao') || w.startsWith('lmfao') || w.startsWith('kekw') || w.startsWith('lulu')) return true;
  if (w.length >= 5 && w.startsWith('lol')) {
    for (let i = 0; i < w.length; i++) if (w[i] !== 'l' && w[i] !== 'o') return false;
    return true;
  }
  return false;
}

function isCapitalised(raw: string): boolean {
  const c0 = raw.charCodeAt(0);
  if (c0 < 65 || c0 > 90 || raw.length < 2) return false;
  for (let i = 1; i < raw.length; i++) { const c = raw.charCodeAt(i); if (c >= 65 && c <= 90) return false; }
  return true;
}

function isAllCapsWord(raw: string): boolean {
  let letters = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c >= 97 && c <= 122) return false;
    if (c >= 65 && c <= 90) letters++;
  }
  return letters >= 2;
}

/** ASCII punctuation that chat glues onto words: . , ! ? : ; */
function isPunct(c: number): boolean {
  return c === 46 || c === 44 || c === 33 || c === 63 || c === 58 || c === 59;
}

function isQuestionMarks(raw: string): boolean {
  for (let i = 0; i < raw.length; i++) if (raw.charCodeAt(i) !== 63) return false;
  return raw.length > 0;
}

/** Unknown emote name -> score by the channel-emote suffix rule ("lionNice" -> "Nice" -> 0.7). */
export function suffixScore(tok: string): number {
  const suf = channelEmoteSuffix(tok);
  if (suf === '') return NaN;
  const s = SUFFIX_SCORES.get(suf);
  return s === undefined ? NaN : s;
}

/** Options for {@link lexical}. */
export interface LexicalOptions {
  /** Emote name -> score; defaults to hand + derived lexicon. */
  emotes?: ReadonlyMap<string, number>;
  /** Emotes already recognised by the caller (native and third-party); unknown ones score by suffix rule or 0. */
  emoteNames?: readonly string[];
  /** Use English words at all (false = emote-only baseline). */
  words?: boolean;
  /** Use emotes at all (false = English-only). */
  emotesOn?: boolean;
  /** Compute the learned component. */
  learned?: boolean;
  /** Collects tokens the lexicons do not know (training features). */
  unknownOut?: string[];
  /** Collects every token's supervised-model key (training features of the supervised model). */
  tokensOut?: string[];
}

const EMPTY: readonly string[] = [];
const FUCK_NOT_AIMED: ReadonlySet<string> = new Set(['yes', 'yeah', 'yea', 'ya', 'yep', 'it', 'me', 'my', 'man', 'dude', 'bro', 'boys', 'lol', 'ing', 'and', 'i', 'im', 'is', 'was', 'a', 'the']);
/**
 * A message ending in "?" is mostly a question (guidelines: neutral unless clearly affective): its word
 * part is halved; emotes keep their weight. Each "!" (up to 3) adds 0.1 to the word part in the
 * direction of the message (VADER's exclamation rule). Both chosen on the tuning parts (docs/sentiment.md).
 */
const QUESTION_DAMP = 0.5;
const EXCLAIM_STEP = 0.1;
const SKIN_TONE = /\uD83C[\uDFFB-\uDFFF]/g;
/** "X is/are/so ass": "ass" as a verdict (alone it is ~0: "kick ass", "full ass game"). */
const ASS_VERDICT: ReadonlySet<string> = new Set(['is', 'are', 'so', 'was', 'looks', 'sounds', 'thats', "that's", 'its', "it's", 'kinda', 'pretty', 'straight']);
/** Scored emotes and words already seen in the current message (cleared per call; one map, no allocation). */
const seenInMessage = new Map<string, number>();

/**
 * One pass over the message. Cost: one split, one Map.get per token (two to three for words with
 * elongation), no regex per emote.
 */
export function lexical(text: string, opts: LexicalOptions = {}, out: LexicalParts = newLexicalParts()): LexicalParts {
  const emotes = opts.emotes ?? DEFAULT_EMOTES;
  const emoteNames = opts.emoteNames ?? EMPTY;
  const useWords = opts.words !== false;
  const useEmotes = opts.emotesOn !== false;
  const useLearned = opts.learned !== false;
  const unknownOut = opts.unknownOut;
  const tokensOut = opts.tokensOut;
  out.emote = 0; out.word = 0; out.hits = 0; out.learned = 0;
  out.emotePos = 0; out.emoteNeg = 0; out.wordPos = 0; out.wordNeg = 0;
  out.nTok = 0; out.capsTok = 0; out.unknownEmotes = 0; out.mention = 0; out.exclaim = 0; out.question = 0;
  let s0 = 0, s1 = 0, s2 = 0;
  let negLeft = 0;
  let intens = 1;
  let intensLeft = 0;
  seenInMessage.clear();
  let prevWord = '';
  let prevWord2 = '';
  let butFactor = 1;
  // learned logits accumulate here: neg, neu, pos
  let l0 = 0, l1 = 0, l2 = 0, lHits = 0;
  const toks = text.split(' ');
  for (let ti = 0; ti < toks.length; ti++) {
    const raw = toks[ti];
    if (raw.length === 0) continue;
    out.nTok++;
    if (raw.charCodeAt(0) === 64) out.mention = 1;
    else if (isAllCapsWord(raw)) out.capsTok++;
    // 1. emotes (case-sensitive, exact name)
    let es = useEmotes ? emotes.get(raw) : undefined;
    if (es === undefined && useEmotes) es = EMOTICONS.get(raw);
    // 👌🏽, 👍🏿: the emoji with a skin-tone modifier (U+1F3FB..U+1F3FF, a \uD83C surrogate pair)
    if (es === undefined && useEmotes && raw.length >= 4 && raw.charCodeAt(raw.length - 2) === 0xd83c) es = EMOTICONS.get(raw.replace(SKIN_TONE, ''));
    if (es === undefined && useEmotes && emoteNames.length > 0 && emoteNames.includes(raw)) {
      const ss = suffixScore(raw);
      es = Number.isNaN(ss) ? 0 : ss;
    }
    if (es === undefined && useEmotes && raw.length >= 3 && isPunct(raw.charCodeAt(raw.length - 1))) {
      // "widepeepoHappy!", "KEKW," : the emote with punctuation glued on
      let e = raw.length - 1;
      while (e > 0 && isPunct(raw.charCodeAt(e - 1))) e--;
      if (e > 0) es = emotes.get(raw.slice(0, e));
    }
    if (es === undefined && useEmotes && raw.length >= 4) {
      const ss = suffixScore(raw);
      if (!Number.isNaN(ss)) es = ss;
      else {
        // cheermotes ("PogChamp100", "Cheer100"): an emote name followed by the bits amount
        const last = raw.charCodeAt(raw.length - 1);
        if (last >= 48 && last <= 57) {
          let e = raw.length - 1;
          while (e > 0 && raw.charCodeAt(e - 1) >= 48 && raw.charCodeAt(e - 1) <= 57) e--;
          const cs = emotes.get(raw.slice(0, e));
          if (cs !== undefined) es = cs;
        }
      }
    }
    if (es !== undefined) {
      let v = es;
      if (v !== 0) {
        if (seenInMessage.has(raw)) v *= REPEAT_FACTOR;
        else seenInMessage.set(raw, 1);
      }
      // no negation of emotes: "no baer FeelsBadMan" is sad, the emote is the writer's own reaction
      if (v !== 0) out.hits++;
      else if (channelEmoteSuffix(raw) !== '' || (emoteNames.length > 0 && emoteNames.includes(raw))) out.unknownEmotes++;
      out.emote += v;
      if (v > 0) out.emotePos += v; else out.emoteNeg += v;
      if (tokensOut) tokensOut.push(raw);
      if (SUP_ON) { const wt = SUP_TOKENS.get(raw); if (wt !== undefined) { s0 += wt[0]; s1 += wt[1]; s2 += wt[2]; } }
      prevWord2 = ''; prevWord = '';
      continue;
    }
    if (!useWords) continue;
    // 2. words
    if (isQuestionMarks(raw)) {
      // a lone "?"/"???" on Twitch is confusion or mild disapproval
      out.word += -0.15; out.wordNeg += -0.15; out.hits++;
      continue;
    }
    const w = normalizeWord(raw);
    if (w.length === 0) continue;
    if (tokensOut || SUP_ON) {
      const key = collapseRepeats(w);
      if (tokensOut) tokensOut.push(key);
      if (SUP_ON) { const wt = SUP_TOKENS.get(key); if (wt !== undefined) { s0 += wt[0]; s1 += wt[1]; s2 += wt[2]; } }
    }
    // "oh no" is dismay, not a negator
    if (w === 'no' && prevWord === 'oh') { out.word += -0.5; out.hits++; prevWord2 = prevWord; prevWord = w; continue; }
    if (NEGATORS.has(w)) { negLeft = NEGATION_WINDOW; prevWord2 = prevWord; prevWord = w; continue; }
    if (w === 'but') {
      // VADER's contrast rule: what follows "but" dominates what precedes it
      out.word *= 0.5; butFactor = 1.5; prevWord2 = prevWord; prevWord = w; continue;
    }
    const im = INTENSIFIERS.get(w);
    if (im !== undefined) { intens = im; intensLeft = 2; prevWord2 = prevWord; prevWord = w; continue; }
    let s = wordScore(w);
    // "Rob", "Dick", "Hope" mid-message are names: a Capitalised word after the first keeps only slang
    // scores, not AFINN ones
    if (ti > 0 && !Number.isNaN(s) && isCapitalised(raw) && !SLANG.has(w)) s = NaN;
    let elongated = false;
    if (Number.isNaN(s)) {
      const c = collapseRepeats(w);
      if (c !== w) { elongated = true; s = wordScore(c); }
      if (Number.isNaN(s)) s = wordScore(collapseAll(c));
      if (Number.isNaN(s) && isLaughWord(c)) s = 0.6;
    }
    // "what the fuck/hell" is "wtf"; "fuck this/that/off/you" and "damn it" are anger (each word alone is ~0)
    if ((w === 'fuck' || w === 'hell' || w === 'heck' || w === 'fck' || w === 'f') && prevWord === 'the' && prevWord2 === 'what') s = -0.5;
    else if (prevWord === 'fuck' && (w === 'this' || w === 'that' || w === 'off' || w === 'you' || w === 'u')) s = -0.5;
    // "fuck nick", "YO FUCK ROB": a curse aimed at someone opening the message (guidelines: negative);
    // "fuck yes", "fuck it", "fuck me" are not
    else if (prevWord === 'fuck' && (prevWord2 === '' || prevWord2 === 'yo') && (Number.isNaN(s) || s === 0) && !FUCK_NOT_AIMED.has(w)) s = -0.5;
    else if (prevWord === 'damn' && w === 'it') s = -0.5;
    else if (w === 'ass' && ASS_VERDICT.has(prevWord)) s = -0.6;
    // "oh shit", "oh fuck", "oh god": alarm (guidelines), where "shit"/"fuck" alone are ~0
    else if (prevWord === 'oh' && (w === 'shit' || w === 'fuck' || w === 'god')) s = -0.5;
    // "lets go", "im dead": two-word slang
    else if ((w === 'go' || (elongated && w.startsWith('go'))) && (prevWord === 'lets' || prevWord === "let's")) s = 0.7;
    else if (w === 'dead' && (prevWord === 'im' || prevWord === "i'm")) s = 0.5;
    // "L" is a loss and "W" a win, but not in lower case or in spelled-out words ("P A B L O")
    else if ((w === 'l' || w === 'w') && (raw.charCodeAt(0) > 90 || (toks[ti - 1]?.length === 1) || (toks[ti + 1]?.length === 1))) s = NaN;
    // "noooo" is despair, "no" is a negator/answer
    if (elongated && (w.startsWith('noo') || w.startsWith('nooo'))) s = -0.5;
    prevWord2 = prevWord; prevWord = w;
    if (Number.isNaN(s) || s === 0) {
      if (useLearned || unknownOut) {
        const key = elongated ? collapseRepeats(w) : w;
        if (unknownOut) unknownOut.push(key);
        const wt = LEARNED.get(key);
        if (wt !== undefined) { l0 += wt[0]; l1 += wt[1]; l2 += wt[2]; lHits++; }
      }
      if (intensLeft > 0) intensLeft--;
      if (negLeft > 0) negLeft--;
      continue;
    }
    let v = s;
    if (seenInMessage.has(w)) v *= REPEAT_FACTOR;
    else seenInMessage.set(w, 1);
    if (intensLeft > 0) { v *= intens; intensLeft = 0; }
    if (elongated) v *= ELONGATION_FACTOR;
    if (isAllCapsWord(raw)) v *= CAPS_FACTOR;
    if (negLeft > 0) { v *= NEGATION_FACTOR; negLeft = 0; }
    v *= butFactor;
    out.word += v;
    if (v > 0) out.wordPos += v; else out.wordNeg += v;
    out.hits++;
  }
  out.sup0 = s0; out.sup1 = s1; out.sup2 = s2;
  if (text.charCodeAt(text.length - 1) === 63) { out.question = 1; if (out.word !== 0) out.word *= QUESTION_DAMP; }
  let k = 0;
  for (let i = text.indexOf('!'); i >= 0 && k < 3; i = text.indexOf('!', i + 1)) k++;
  out.exclaim = k;
  if (k > 0 && out.word + out.emote !== 0) out.word += (out.word + out.emote > 0 ? 1 : -1) * EXCLAIM_STEP * k;
  if (lHits > 0) {
    l0 += LEARNED_BIAS[0]; l1 += LEARNED_BIAS[1]; l2 += LEARNED_BIAS[2];
    const m = Math.max(l0, l1, l2);
    const e0 = Math.exp(l0 - m), e1 = Math.exp(l1 - m), e2 = Math.exp(l2 - m);
    out.learned = (e2 - e0) / (e0 + e1 + e2);
  }
  return out;
}

function clampSum(x: number): number {
  return x > MAX_ABS_SUM ? MAX_ABS_SUM : x < -MAX_ABS_SUM ? -MAX_ABS_SUM : x;
}

/** Maps a combined score in -1..1 to a label with the documented thresholds. */
export function toLabel(score: number, pos = LABEL_POSITIVE_THRESHOLD, neg = LABEL_NEGATIVE_THRESHOLD): Label {
  return score >= pos ? 1 : score <= neg ? -1 : 0;
}

/**
 * The lexicon score alone, -1..1. The distant-supervision model only speaks when no lexicon token
 * fired: on the dev set it never improved a lexicon-decided label (docs/sentiment.md), and at weight 0.2
 * it moves the score of lexicon-silent messages without crossing a threshold by itself.
 */
export function lexiconScore(p: LexicalParts, learnedWeight = LEARNED_WEIGHT): number {
  return Math.tanh(clampSum(EMOTE_WEIGHT * p.emote + WORD_WEIGHT * p.word) + (p.hits > 0 ? 0 : learnedWeight * p.learned));
}

/** Names of the supervised model's dense inputs, in {@link denseFeatures} order (the JSON repeats them). */
export const DENSE_FEATURES: readonly string[] = [
  'lexicon', 'lexiconPos', 'lexiconNeg', 'emotePos', 'emoteNeg', 'wordPos', 'wordNeg', 'distant', 'noHit',
  'question', 'exclaim', 'mention', 'length', 'caps', 'unknownEmote',
];

/** Dense inputs of the supervised model from one lexical pass and its lexicon score; written into `out`. */
export function denseFeatures(p: LexicalParts, lex: number, out: Float64Array): Float64Array {
  out[0] = lex;
  out[1] = lex >= POSITIVE_THRESHOLD ? 1 : 0;
  out[2] = lex <= NEGATIVE_THRESHOLD ? 1 : 0;
  out[3] = Math.tanh(p.emotePos);
  out[4] = Math.tanh(p.emoteNeg);
  out[5] = Math.tanh(p.wordPos);
  out[6] = Math.tanh(p.wordNeg);
  out[7] = p.learned;
  out[8] = p.hits === 0 ? 1 : 0;
  out[9] = p.question;
  out[10] = p.exclaim / 3;
  out[11] = p.mention;
  out[12] = Math.log1p(p.nTok) / 3;
  out[13] = p.nTok > 0 ? p.capsTok / p.nTok : 0;
  out[14] = p.unknownEmotes > 0 ? 1 : 0;
  return out;
}

const denseScratch = new Float64Array(DENSE_FEATURES.length);
/** Supervised blend weight and label thresholds (from the model file; the lexicon's own when it is off). */
const SUP_BLEND = SUP_ON ? sup.blend : 0;
export const LABEL_POSITIVE_THRESHOLD: number = SUP_ON ? sup.positiveThreshold : POSITIVE_THRESHOLD;
export const LABEL_NEGATIVE_THRESHOLD: number = SUP_ON ? sup.negativeThreshold : NEGATIVE_THRESHOLD;

/**
 * Combines lexical parts into the final -1..1 score: the lexicon score blended with the supervised
 * model's P(pos) - P(neg) (`blend` in sentiment-supervised.json). Cost: 15 x 3 multiply-adds and 3 exp.
 */
export function combine(p: LexicalParts, learnedWeight = LEARNED_WEIGHT): number {
  const lex = lexiconScore(p, learnedWeight);
  if (!SUP_ON) return lex;
  const x = denseFeatures(p, lex, denseScratch);
  let z0 = sup.bias[0] + p.sup0, z1 = sup.bias[1] + p.sup1, z2 = sup.bias[2] + p.sup2;
  for (let j = 0; j < x.length; j++) { const xj = x[j]; if (xj !== 0) { z0 += xj * SUP_DENSE_W[j * 3]; z1 += xj * SUP_DENSE_W[j * 3 + 1]; z2 += xj * SUP_DENSE_W[j * 3 + 2]; } }
  const m = Math.max(z0, z1, z2);
  const e0 = Math.exp(z0 - m), e1 = Math.exp(z1 - m), e2 = Math.exp(z2 - m);
  return (1 - SUP_BLEND) * lex + SUP_BLEND * (e2 - e0) / (e0 + e1 + e2);
}

const scratch: LexicalParts = newLexicalParts();

/**
 * Stateless sentiment of one message. `emoteNames` are emotes the caller already recognised; names
 * the lexicon knows are found in the text without them.
 */
export function scoreSentiment(text: string, emoteNames?: string[]): { score: number; label: Label } {
  const p = lexical(text, { emoteNames }, scratch);
  const score = combine(p);
  return { score, label: toLabel(score) };
}

/**
 * Baseline 1: English lexicon only, the way natural's SentimentAnalyzer('English', null, 'afinn') scores
 * (mean AFINN over tokens, natural's 4 negations flip the next word), label = sign.
 */
export function englishOnlyLabel(text: string): Label {
  let sum = 0;
  let neg = false;
  for (const raw of text.split(' ')) {
    const w = normalizeWord(raw);
    if (!w) continue;
    if (NATURAL_NEGATIONS.has(w)) { neg = true; continue; }
    const s = AFINN.get(w);
    if (s !== undefined) { sum += neg ? -s : s; neg = false; }
  }
  return sum > 0 ? 1 : sum < 0 ? -1 : 0;
}

/** Baseline 2: hand-assigned emote lexicon only (no words, no derived scores), label = sign. */
export function emoteOnlyLabel(text: string): Label {
  let sum = 0;
  for (const raw of text.split(' ')) {
    const s = HAND_EMOTES.get(raw);
    if (s !== undefined) sum += s;
  }
  return sum > 0 ? 1 : sum < 0 ? -1 : 0;
}

/** Weight of a transformer model in {@link blendSentiment}; see docs/sentiment.md. */
export const MODEL_BLEND_WEIGHT = 0.5;
/**
 * Weight for a 2-label model (no neutral class, such as the default SST-2 DistilBERT): it forces "ok",
 * "gg" and emote-only lines to a pole, often above 0.9 confidence, and was trained on film reviews, so it
 * counts for less (docs/models.md, "Blending"). A proposal, not tuned: no real weights on our machines.
 */
export const MODEL_BLEND_WEIGHT_2LABEL = 0.35;

/**
 * Where a model plugs in: blends this lexical score (-1..1) with a model's class probabilities
 * (`[pNeg, pNeu, pPos]`). The model's expected polarity (pPos - pNeg) is mixed in with
 * `weight` (default {@link MODEL_BLEND_WEIGHT}); the same thresholds then give the label.
 */
export function blendSentiment(lexicalScore: number, modelProbs: readonly [number, number, number], weight = MODEL_BLEND_WEIGHT): { score: number; label: Label } {
  const m = modelProbs[2] - modelProbs[0];
  const score = (1 - weight) * lexicalScore + weight * m;
  return { score, label: toLabel(score) };
}
