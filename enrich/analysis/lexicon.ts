/**
 * Lexicons: the project's emote lexicon (emote-lexicon.json), Twitch slang, the English AFINN-165 list
 * as shipped by `natural`, negators and intensifiers. Everything is compiled once into Maps at import;
 * lookups on the hot path are a single Map.get per token.
 */
import { createRequire } from 'node:module';
import emoteLexicon from './emote-lexicon.json' with { type: 'json' };

const require = createRequire(import.meta.url);

/** Shape of emote-lexicon.json (built by scripts/train-sentiment.ts). */
export interface EmoteLexiconFile {
  version: string;
  rules: Record<string, { score: number; why: string; emotes: string[] }>;
  suffixRules: Record<string, { score: number; suffixes: string[] }>;
  derived: Record<string, { score: number; n: number }>;
}

const lex = emoteLexicon as unknown as EmoteLexiconFile;
export const EMOTE_LEXICON_VERSION: string = lex.version;

/** Hand-assigned emote scores only (rules). */
export const HAND_EMOTES: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  for (const r of Object.values(lex.rules)) for (const e of r.emotes) m.set(e, r.score);
  return m;
})();

/** Suffix of a channel emote (`lionNice` -> `Nice`) -> score. */
export const SUFFIX_SCORES: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  for (const r of Object.values(lex.suffixRules ?? {})) for (const s of r.suffixes) m.set(s, r.score);
  return m;
})();

/** Every emote score: hand rules first, then co-occurrence-derived scores for emotes without a rule. */
export function buildEmoteMap(extra?: Record<string, number>): Map<string, number> {
  const m = new Map<string, number>(HAND_EMOTES);
  for (const [name, d] of Object.entries(lex.derived ?? {})) if (!m.has(name)) m.set(name, d.score);
  if (extra) for (const [name, s] of Object.entries(extra)) m.set(name, Math.max(-1, Math.min(1, s)));
  return m;
}

export const DEFAULT_EMOTES: ReadonlyMap<string, number> = buildEmoteMap();

/**
 * Lower-cased emote names typed as words ("pepehands", "kekw", "widepeepohappy"), only for names with
 * a capital after the first letter and 5+ characters: "Cooking", "Pain" or "PogO" lower-cased are
 * English words, not emotes.
 * Consulted after slang and AFINN.
 */
export const LOWER_EMOTES: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  for (const [name, score] of HAND_EMOTES) {
    if (name.length < 5 || !/[A-Z]/.test(name.slice(1))) continue;
    const k = name.toLowerCase();
    if (!m.has(k)) m.set(k, score);
  }
  return m;
})();

/**
 * Emoticons and symbols, matched case-sensitively on the raw token before normalisation
 * (normalisation would strip them).
 */
export const EMOTICONS: ReadonlyMap<string, number> = new Map<string, number>([
  ['<3', 0.7], ['♥', 0.7], ['❤', 0.7], ['❤️', 0.7], ['💕', 0.7], ['😍', 0.8], ['🥰', 0.8], ['😊', 0.6],
  [':)', 0.5], [':-)', 0.5], ['(:', 0.5], [':D', 0.6], [':-D', 0.6], ['xD', 0.6], ['XD', 0.6], [';)', 0.3],
  [':P', 0.3], [':p', 0.3], ['<3<3', 0.8], ['😂', 0.6], ['🤣', 0.6], ['😆', 0.6], ['😄', 0.6], ['😁', 0.6],
  ['👍', 0.5], ['👌', 0.4], ['👌🏻', 0.4], ['🔥', 0.5], ['💯', 0.5], ['🎉', 0.6], ['👏', 0.5], ['🙏', 0.3],
  [':(', -0.6], [':-(', -0.6], ['):', -0.6], [':/', -0.3], [':\\', -0.3], ['D:', -0.5], [":'(", -0.7],
  ['😭', -0.4], ['😢', -0.6], ['😞', -0.6], ['😡', -0.6], ['🤬', -0.7], ['😠', -0.6], ['👎', -0.5],
  ['🤮', -0.7], ['💀', 0.3], ['😐', -0.1], ['🙄', -0.4], [':S', -0.3],
]);

/**
 * Twitch slang and overrides of AFINN for chat usage. Scores in -1..1. Profanity is near 0 here on
 * purpose: on Twitch "fucking" is mostly an intensifier and "insane"/"sick" are praise.
 */
export const SLANG: ReadonlyMap<string, number> = new Map<string, number>([
  // laughter
  ['lol', 0.5], ['lul', 0.6], ['lulw', 0.6], ['lmao', 0.6], ['lmfao', 0.6], ['rofl', 0.6], ['kek', 0.5],
  ['kekw', 0.6], ['omegalul', 0.6], ['xd', 0.6], ['haha', 0.6], ['hah', 0.4], ['hehe', 0.5], ['ha', 0.3],
  ['lolol', 0.6], ['lool', 0.5], ['lel', 0.4], ['icant', 0.5], ['dead', -0.1], ['im dead', 0.5],
  // hype / praise
  ['pog', 0.7], ['poggers', 0.8], ['pogchamp', 0.8], ['poggies', 0.7], ['hype', 0.6], ['hyped', 0.6],
  ['gg', 0.6], ['ggwp', 0.7], ['ggs', 0.6], ['wp', 0.6], ['gj', 0.6], ['ez', 0.4], ['ezz', 0.4], ['ezclap', 0.5],
  ['nice', 0.6], ['nicee', 0.6], ['noice', 0.6], ['goat', 0.6], ['goated', 0.7], ['based', 0.4],
  ['insane', 0.5], ['sick', 0.4], ['crazy', 0.3], ['clean', 0.4], ['clutch', 0.6], ['lit', 0.5],
  ['fire', 0.4], ['banger', 0.7], ['legend', 0.6], ['legendary', 0.6], ['king', 0.5], ['queen', 0.4],
  ['god', 0.3], ['gigachad', 0.5], ['chad', 0.3], ['w', 0.5], ['dub', 0.5], ['yay', 0.6], ['yess', 0.5],
  ['yes', 0.2], ['letsgo', 0.7], ['lesgo', 0.7], ['lessgo', 0.7], ['lfg', 0.7], ['pogu', 0.8],
  ['woah', 0.1], ['wooo', 0.5], ['woo', 0.5], ['woohoo', 0.6], ['omg', 0.2], ['cute', 0.6], ['adorable', 0.7],
  ['ty', 0.5], ['tyty', 0.6], ['thx', 0.5], ['thanks', 0.5], ['tysm', 0.7], ['gz', 0.6], ['grats', 0.6],
  ['congrats', 0.7], ['pogg', 0.7], ['wholesome', 0.7], ['bless', 0.4], ['kreygasm', 0.7], ['feelsgoodman', 0.7],
  ['hi', 0.0], ['hello', 0.0], ['hey', 0.0], ['love', 0.7], ['luv', 0.7], ['ily', 0.7], ['best', 0.7],
  // negative slang
  ['l', -0.5], ['ratio', -0.3], ['copium', -0.3], ['cope', -0.3], ['coping', -0.3], ['hopium', 0.1],
  ['wtf', -0.5], ['wth', -0.4], ['bruh', -0.3], ['smh', -0.5], ['cringe', -0.6], ['yikes', -0.5], ['oof', -0.4],
  ['rip', -0.5], ['f', -0.3], ['sadge', -0.6], ['sad', -0.6], ['rigged', -0.5], ['scam', -0.5], ['scammed', -0.5],
  ['boring', -0.7], ['bored', -0.6], ['trash', -0.7], ['garbage', -0.7], ['dogshit', -0.8], ['washed', -0.4],
  ['throw', -0.3], ['throwing', -0.4], ['threw', -0.4], ['int', -0.3], ['inting', -0.4], ['lag', -0.4],
  ['lagging', -0.4], ['laggy', -0.5], ['buffering', -0.5], ['ew', -0.6], ['eww', -0.6], ['ewww', -0.6],
  ['boo', -0.6], ['booo', -0.6], ['zzz', -0.5], ['zzzz', -0.5], ['snooze', -0.5], ['mald', -0.4],
  ['malding', -0.4], ['salty', -0.4], ['tilted', -0.5], ['feelsbadman', -0.7], ['biblethump', -0.6],
  ['notlikethis', -0.6], ['residentsleeper', -0.7], ['monkas', -0.4], ['wutface', -0.6], ['dansgame', -0.7],
  ['ugh', -0.5], ['meh', -0.3], ['nah', -0.1], ['noo', -0.5], ['nooo', -0.5], ['bad', -0.6], ['worst', -0.7],
  ['sucks', -0.6], ['suck', -0.5], ['stupid', -0.6], ['dumb', -0.6], ['idiot', -0.6], ['hate', -0.7],
  ['unlucky', -0.4], ['unlucko', -0.4], ['weirdchamp', -0.5], ['cringy', -0.6], ['pepehands', -0.7],
  // gaming words that AFINN reads as violence: neutral on Twitch
  ['kill', 0], ['kills', 0], ['killed', 0], ['killing', 0], ['shot', 0], ['shoot', 0], ['shooting', 0],
  ['fight', 0], ['fighting', 0], ['attack', 0], ['dies', -0.1], ['died', -0.2], ['die', -0.2], ['war', 0],
  ['destroyed', 0.1], ['destroy', 0], ['rekt', 0.1], ['owned', 0.1], ['pwned', 0.1], ['crushed', 0.2],
  ['fuck', -0.2], ['fucking', 0], ['fuckin', 0], ['fking', 0], ['shit', -0.2], ['damn', 0], ['dammit', -0.4],
  ['hell', 0], ['holy', 0.1], ['jesus', 0], ['god damn', 0], ['ass', -0.1], ['bitch', -0.4], ['dick', -0.1],
  ['pussy', -0.1], ['cock', 0], ['cunt', -0.5], ['no', 0], ['not', 0], ['funny', 0.6], ['easy', 0.2],
  ['goty', 0.7], ['encore', 0.5], ['epic', 0.6], ['fav', 0.6], ['fave', 0.6], ['favorite', 0.6], ['idol', 0.5],
  ['waow', 0.4], ['woww', 0.4], ['uncool', -0.5], ['ow', -0.4], ['ouch', -0.4], ['stop', -0.3], ['stahp', -0.4],
  ['stawp', -0.4], ['cmon', -0.4], ["c'mon", -0.4], ['cmoon', -0.4], ['wah', -0.4], ['waah', -0.4], ['zz', -0.5],
  ['please', 0], ['pls', 0], ['plz', 0], ['sorry', -0.1], ['miss', -0.2], ['joke', 0.1], ['cancer', -0.5],
  // AFINN words that are mostly something else in chat: a name (Rob), Riot Games, a plea ("HELP" is
  // panic, not AFINN's +2); "wow" alone is surprise (guidelines: neutral), it still adds to an emote
  ['rob', 0], ['riot', 0], ['help', 0], ['wow', 0.25],
  // from the multi-channel set's tuning part (docs/sentiment.md): insults AFINN lacks or under-scores
  // (one of them alone is a label: the guidelines' "insults aimed at someone"), "true" as agreement,
  // "gifted" in sub-gift notices, "prison" as a topic (AFINN -2, like "war")
  ['stfu', -0.6], ['retarded', -0.6], ['retard', -0.6], ['gross', -0.6], ['bland', -0.4], ['succ', -0.5],
  ['true', 0.1], ['gifted', 0], ['gift', 0], ['prison', 0],
]);

/** Words that flip the polarity of the next sentiment-bearing token (within NEGATION_WINDOW tokens). */
export const NEGATORS: ReadonlySet<string> = new Set([
  'not', 'no', 'never', 'dont', "don't", 'doesnt', "doesn't", 'didnt', "didn't", 'isnt', "isn't", 'wasnt',
  "wasn't", 'arent', "aren't", 'cant', "can't", 'cannot', 'wont', "won't", 'aint', "ain't", 'neither', 'nor',
  'hardly', 'nobody', 'nothing', 'without', 'shouldnt', "shouldn't", 'wouldnt', "wouldn't", 'couldnt', "couldn't",
]);
export const NEGATION_WINDOW = 3;
/** VADER's empirically fitted negation factor: negated words keep ~74% of their strength, reversed. */
export const NEGATION_FACTOR = -0.74;

/** Multipliers for the next sentiment-bearing token. */
export const INTENSIFIERS: ReadonlyMap<string, number> = new Map<string, number>([
  ['so', 1.4], ['very', 1.5], ['really', 1.4], ['super', 1.5], ['fucking', 1.5], ['fuckin', 1.5], ['fking', 1.5],
  ['hella', 1.4], ['too', 1.3], ['extremely', 1.6], ['absolutely', 1.5], ['literally', 1.2], ['insanely', 1.6],
  ['mega', 1.4], ['most', 1.3], ['totally', 1.4], ['actually', 1.1], ['soo', 1.5], ['sooo', 1.6], ['damn', 1.3],
  ['incredibly', 1.6], ['genuinely', 1.3], ['kinda', 0.7], ['somewhat', 0.7], ['slightly', 0.6], ['bit', 0.8],
  ['pretty', 1.2], ['such', 1.3], ['holy', 1.3], ['big', 1.2], ['huge', 1.3], ['massive', 1.4], ['biggest', 1.4],
]);

interface AfinnAnalyzer { vocabulary: Record<string, number> }
type AfinnCtor = new (language: string, stemmer: null, type: string) => AfinnAnalyzer;

/**
 * AFINN-165 (English, -5..5) through natural's SentimentAnalyzer, scaled to -1..1 (divided by 5).
 * natural's file is imported directly: the package index pulls in wordnet and dotenv, costing ~0.8 s
 * and printing to stdout.
 */
export const AFINN: ReadonlyMap<string, number> = (() => {
  const SentimentAnalyzer = require('natural/lib/natural/sentiment/SentimentAnalyzer.js') as AfinnCtor;
  const vocab = new SentimentAnalyzer('English', null, 'afinn').vocabulary;
  const m = new Map<string, number>();
  for (const k in vocab) m.set(k, vocab[k] / 5);
  return m;
})();

/** natural's own English negation list, used only by the English-lexicon baseline. */
export const NATURAL_NEGATIONS: ReadonlySet<string> = new Set(['not', 'no', 'never', 'neither']);
